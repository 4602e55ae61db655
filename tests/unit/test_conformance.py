"""Checkpoint conformance on small checkpoints written here in the real formats (safetensors, compressed-tensors
config): each scheme's layout passes, and what another scheme or a broken checkpoint looks like is refused."""
from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors.torch import save_file

from fixtures.harness.conformance import DEFAULT_KEEP, check_checkpoint

OUT, IN = 8, 32
LINEAR = "language_model.model.layers.0.mlp.down_proj"
KEPT = ("language_model.lm_head", "vision_tower.transformer.layers.0.attention.q_proj")


def group(weights: dict, activations: dict | None) -> dict:
    return {"quant_method": "compressed-tensors", "format": "x", "ignore": list(KEPT),
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": activations}}}


SCHEMES = {
    "w8a8-int8": ({LINEAR + ".weight": torch.zeros(OUT, IN, dtype=torch.int8),
                   LINEAR + ".weight_scale": torch.ones(OUT, 1, dtype=torch.bfloat16)},
                  group({"num_bits": 8, "type": "int", "strategy": "channel"},
                        {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True})),
    "fp8-dynamic": ({LINEAR + ".weight": torch.zeros(OUT, IN, dtype=torch.float8_e4m3fn),
                     LINEAR + ".weight_scale": torch.ones(OUT, 1, dtype=torch.bfloat16)},
                    group({"num_bits": 8, "type": "float", "strategy": "channel"},
                          {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True})),
    "w4a16": ({LINEAR + ".weight_packed": torch.zeros(OUT, IN // 8, dtype=torch.int32),
               LINEAR + ".weight_scale": torch.ones(OUT, 1, dtype=torch.bfloat16),
               LINEAR + ".weight_shape": torch.tensor([OUT, IN])},
              group({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 32}, None)),
    "bf16": ({LINEAR + ".weight": torch.zeros(OUT, IN, dtype=torch.bfloat16)}, None),
}


def write(folder, tensors: dict, quantization: dict | None, shards: int = 1):
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {**tensors, **{k + ".weight": torch.zeros(OUT, IN, dtype=torch.bfloat16) for k in KEPT},
               "language_model.model.embed_tokens.weight": torch.zeros(100, IN, dtype=torch.bfloat16),
               "language_model.model.norm.weight": torch.zeros(IN, dtype=torch.bfloat16)}
    config = {"architectures": ["LlavaForConditionalGeneration"]}
    if quantization:
        config["quantization_config"] = quantization
    (folder / "config.json").write_text(json.dumps(config))
    names = sorted(tensors)
    if shards == 1:
        save_file(tensors, folder / "model.safetensors")
        return folder
    weight_map = {}
    for i in range(shards):
        part = {n: tensors[n] for n in names[i::shards]}
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file(part, folder / fname)
        weight_map |= {n: fname for n in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_each_schemes_layout_conforms_and_no_other_scheme_accepts_it(tmp_path, scheme):
    folder = write(tmp_path / scheme, *SCHEMES[scheme])
    checked = check_checkpoint("m", folder, scheme, DEFAULT_KEEP)
    assert checked.problems == () and checked.linear_layers == 3  # the linear layer and the two kept ones
    for other in SCHEMES:
        if other != scheme:
            assert check_checkpoint("m", folder, other, DEFAULT_KEEP).problems, (scheme, other)


def test_a_sharded_checkpoint_is_read_through_its_index(tmp_path):
    folder = write(tmp_path / "sharded", *SCHEMES["w8a8-int8"], shards=2)
    assert check_checkpoint("m", folder, "w8a8-int8", DEFAULT_KEEP).problems == ()
    (folder / "model-00002-of-00002.safetensors").unlink()
    problem = check_checkpoint("m", folder, "w8a8-int8", DEFAULT_KEEP).problems[0]
    assert "names 1 file(s) that are not there, e.g. model-00002-of-00002.safetensors" in problem


def test_a_model_that_carries_only_its_config_is_checked_on_its_config(tmp_path):
    folder = write(tmp_path / "full", *SCHEMES["w4a16"])
    for f in folder.glob("*.safetensors"):
        f.unlink()
    assert check_checkpoint("m", folder, "w4a16", DEFAULT_KEEP).problems == ()
    problems = check_checkpoint("m", folder, "w8a8-int8", DEFAULT_KEEP).problems
    assert "quantization_config.config_groups.group_0.weights.num_bits is 4; w8a8-int8 needs 8" in problems


def test_weights_that_are_not_safetensors_are_refused(tmp_path):
    folder = write(tmp_path / "bin", *SCHEMES["bf16"])
    (folder / "model.safetensors").unlink()
    torch.save({}, folder / "pytorch_model.bin")
    problem = check_checkpoint("m", folder, "bf16", DEFAULT_KEEP).problems[0]
    assert "weights in pytorch_model.bin, not safetensors" in problem


def test_a_kept_module_that_was_quantized_is_named(tmp_path):
    tensors, quant = SCHEMES["w8a8-int8"]
    folder = write(tmp_path / "over", tensors, quant)
    over = {**tensors, KEPT[1] + ".weight": torch.zeros(OUT, IN, dtype=torch.int8),
            KEPT[1] + ".weight_scale": torch.ones(OUT, 1, dtype=torch.bfloat16)}
    save_file({**over, **{KEPT[0] + ".weight": torch.zeros(OUT, IN, dtype=torch.bfloat16),
                          "language_model.model.norm.weight": torch.zeros(IN, dtype=torch.bfloat16)}},
              folder / "model.safetensors")
    checked = check_checkpoint("tiny", folder, "w8a8-int8", DEFAULT_KEEP)
    assert checked.message.startswith(f"tiny ({folder}) is not w8a8-int8: {KEPT[1]}.weight is I8 with a weight_scale; "
                                      "the ignore list keeps it unquantized")


REPO_RECIPES = __import__("pathlib").Path(__file__).parents[2] / "fixtures" / "recipes"


@pytest.mark.parametrize("recipe, scheme", [("w8a8_gptq_pixtral.yaml", "w8a8-int8"),
                                            ("w8a8_gptq_pixtral_7bit.yaml", "w8a8-int8"),
                                            ("w8a8_rtn_text_7bit.yaml", "w8a8-int8"),
                                            ("fp8_dynamic_pixtral.yaml", "fp8-dynamic")])
def test_a_recipe_names_its_scheme_by_preset_or_by_config_groups(recipe, scheme):
    from fixtures.harness.conformance import recipe_scheme
    assert recipe_scheme(REPO_RECIPES / recipe)[0] == scheme


def test_config_groups_that_are_no_scheme_or_two_are_refused(tmp_path):
    from fixtures.harness.conformance import ConformanceError, recipe_scheme
    w7 = {"num_bits": 7, "type": "int", "strategy": "channel"}
    a8 = {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True}
    fp8 = {"num_bits": 8, "type": "float", "strategy": "channel"}
    fa8 = {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}
    cases = {"w6": ({"g": {"weights": {**w7, "num_bits": 6}, "input_activations": a8}}, "g is not a scheme"),
             "static": ({"g": {"weights": w7, "input_activations": {**a8, "dynamic": False}}}, "g is not a scheme"),
             "mixed": ({"a": {"weights": w7, "input_activations": a8}, "b": {"weights": fp8, "input_activations": fa8}},
                       "its groups are different schemes (fp8-dynamic, w8a8-int8)")}
    for name, (groups, message) in cases.items():
        recipe = tmp_path / f"{name}.yaml"
        recipe.write_text(json.dumps({"stage": {"quant_modifiers": {"QuantizationModifier": {"config_groups": groups}}}}))
        with pytest.raises(ConformanceError, match=re.escape(message)):
            recipe_scheme(recipe)


def test_the_int8_peak_is_read_from_the_stored_values_through_every_shard(tmp_path):
    from safetensors import safe_open

    from fixtures.harness.conformance import int8_weight_peak, weight_files
    gen = torch.Generator().manual_seed(0)
    tensors, quant = SCHEMES["w8a8-int8"]
    first = torch.randint(-60, 61, (OUT, IN), generator=gen, dtype=torch.int8)
    first[0, 0] = -100  # the first byte of its tensor
    last = torch.randint(-60, 61, (OUT, IN), generator=gen, dtype=torch.int8)
    last[-1, -1] = 127  # the last byte
    other = "language_model.model.layers.1.mlp.up_proj.weight"
    tensors = {**tensors, LINEAR + ".weight": first, other: last}
    for shards in (1, 3):
        folder = write(tmp_path / f"shards-{shards}", tensors, quant, shards=shards)
        expected = max((int(t.abs().max()), name) for path in weight_files(folder)
                       for f in [safe_open(path, "pt")] for name in f.keys()
                       for t in [f.get_tensor(name).to(torch.int16)] if f.get_tensor(name).dtype == torch.int8)
        assert int8_weight_peak(folder) == expected == (127, other)
    last[-1, -1] = 0
    assert int8_weight_peak(write(tmp_path / "first", {**tensors, other: last}, quant)) == (100, LINEAR + ".weight")
    assert int8_weight_peak(write(tmp_path / "bf16", *SCHEMES["bf16"])) == (0, "")


def test_seven_bit_weights_are_declared_as_the_int8_they_are_stored_as(tmp_path):
    from fixtures.harness.build_worker import declare_int8_storage
    tensors, quant = SCHEMES["w8a8-int8"]
    seven = json.loads(json.dumps(quant))
    seven["config_groups"]["group_0"]["weights"]["num_bits"] = 7
    folder = write(tmp_path / "w7", tensors, seven)
    assert check_checkpoint("m", folder, "w8a8-int8", DEFAULT_KEEP).problems  # vLLM takes 8 bits only
    assert declare_int8_storage(folder) == ["group_0"]
    assert check_checkpoint("m", folder, "w8a8-int8", DEFAULT_KEEP).problems == ()
    assert declare_int8_storage(folder) == []

    nested = write(tmp_path / "nested", tensors, None)  # a VLM whose text config carries the quantization
    config = json.loads((nested / "config.json").read_text())
    (nested / "config.json").write_text(json.dumps({**config, "text_config": {"quantization_config": seven}}))
    assert declare_int8_storage(nested) == ["group_0"]
    assert check_checkpoint("m", nested, "w8a8-int8", DEFAULT_KEEP).problems == ()

    w4 = write(tmp_path / "w4", *SCHEMES["w4a16"])
    float7 = json.loads(json.dumps(quant))
    float7["config_groups"]["group_0"]["weights"].update(num_bits=7, type="float")
    f7 = write(tmp_path / "f7", tensors, float7)
    assert declare_int8_storage(w4) == [] and declare_int8_storage(f7) == []  # only 7-bit integers widen


def test_config_groups_name_w4a16_and_keep_the_recipes_ignore_list(tmp_path):
    from fixtures.harness.conformance import recipe_scheme
    w4 = {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}
    recipe = tmp_path / "w4.yaml"
    recipe.write_text(json.dumps({"stage": {"quant_modifiers": {"GPTQModifier": {
        "ignore": ["re:.*lm_head"], "config_groups": {"g": {"targets": ["Linear"], "weights": w4}}}}}}))
    assert recipe_scheme(recipe) == ("w4a16", ("re:.*lm_head",))
    assert recipe_scheme(REPO_RECIPES / "w8a8_gptq_pixtral_7bit.yaml")[1] == (
        "re:.*lm_head", "re:.*vision_tower.*", "re:.*multi_modal_projector.*")
