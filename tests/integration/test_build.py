"""Building a W8A8 checkpoint with llm-compressor: what it quantizes, caching, determinism, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.harness.conformance import check_checkpoint, recipe_scheme, tensor_table
from fixtures.harness.models import MANIFEST, BuildFailed, ModelStore, ModelUnavailable, fetch
from fixtures.harness.thresholds import load_thresholds
from fixtures.harness.yaml_lines import ConfigError

from .conftest import RECIPE, REPO, tiny_gate_yaml


def store_for(tmp_path: Path, gate_yaml: str, cache: Path | None = None) -> ModelStore:
    path = tmp_path / "thresholds.yaml"
    path.write_text(gate_yaml)
    return ModelStore(load_thresholds(path), tmp_path, cache or tmp_path / "cache")


def test_w8a8_keeps_vision_tower_projector_and_lm_head_and_quantizes_every_other_linear(tiny_w8a8):
    assert check_checkpoint("tiny-w8a8", tiny_w8a8.path, *recipe_scheme(RECIPE)).problems == ()
    table = tensor_table(tiny_w8a8.path)
    int8 = [k for k, t in table.items() if t["dtype"] == "I8"]
    assert len(int8) == 14  # 2 decoder layers x (q, k, v, o, gate, up, down)
    assert all(k.startswith("language_model.model.layers.") for k in int8)
    for kept in ("vision_tower", "multi_modal_projector", "lm_head"):
        assert any(kept in k and t["dtype"] == "BF16" for k, t in table.items())
    config = json.loads((tiny_w8a8.path / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"


def test_manifest_records_provenance(tiny_w8a8):
    manifest = json.loads((tiny_w8a8.path / MANIFEST).read_text())
    assert manifest["inputs"]["base"]["name"] == "tiny-bf16"
    assert manifest["inputs"]["recipe"]["sha256"] and manifest["inputs"]["calibration"]["samples"] == 8
    assert set(manifest["inputs"]["libraries"]) == {"llmcompressor", "compressed-tensors", "transformers", "torch"}
    assert manifest["weights_digest"] and manifest["key"] in tiny_w8a8.path.name


def test_cached_build_is_reused_and_a_rebuild_gives_the_same_weights(tiny_w8a8, tiny_store, tmp_path):
    again = ModelStore(tiny_store.cfg, tiny_store.config_dir, tiny_store.cache_root).resolve("tiny-w8a8")
    assert again.path == tiny_w8a8.path and again.manifest["built_at"] == tiny_w8a8.manifest["built_at"]
    fresh = ModelStore(tiny_store.cfg, tiny_store.config_dir, tmp_path / "other-cache").resolve("tiny-w8a8")
    assert fresh.path != tiny_w8a8.path
    assert fresh.manifest["weights_digest"] == tiny_w8a8.manifest["weights_digest"]  # deterministic


def test_changed_recipe_is_a_new_cache_entry(tiny_vlm_dir, tmp_path, tiny_store):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((REPO / "fixtures/recipes/w8a8_gptq_pixtral.yaml").read_text() + "\n# changed\n")
    store = store_for(tmp_path, tiny_gate_yaml(tiny_vlm_dir, recipe=recipe), cache=tiny_store.cache_root)
    base = store.resolve("tiny-bf16")
    key_changed, _ = store.build_key("tiny-w8a8", store.cfg.models["tiny-w8a8"].build, base)
    key_repo, _ = tiny_store.build_key("tiny-w8a8", tiny_store.cfg.models["tiny-w8a8"].build, base)
    assert key_changed != key_repo


def test_interrupted_build_leaves_nothing_trusted(tiny_vlm_dir, tmp_path):
    gate = tmp_path / "thresholds.yaml"
    gate.write_text(tiny_gate_yaml(tiny_vlm_dir))
    cache = tmp_path / "cache"
    code = ("from pathlib import Path\n"
            "from fixtures.harness.models import ModelStore\n"
            "from fixtures.harness.thresholds import load_thresholds\n"
            "ModelStore(load_thresholds(%r), Path(%r), Path(%r)).resolve('tiny-w8a8')\n"
            ) % (str(gate), str(tmp_path), str(cache))
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((cache / "models").glob("tiny-w8a8-*.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((cache / "models").glob("tiny-w8a8-*.partial-*")), "the build never started"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole build, worker included, mid-way
    proc.wait()
    entries = [p for p in (cache / "models").iterdir() if ".partial-" not in p.name and p.name.startswith("tiny-w8a8")]
    assert entries == []  # nothing a later run would take for a finished build
    rebuilt = ModelStore(load_thresholds(gate), tmp_path, cache).resolve("tiny-w8a8")
    assert (rebuilt.path / MANIFEST).is_file()
    assert not list((cache / "models").glob("tiny-w8a8-*.partial-*"))  # the leftovers were cleared


def test_recipe_that_does_not_parse_is_a_clear_error(tiny_vlm_dir, tmp_path):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("quant_stage:\n  quant_modifiers:\n    NoSuchModifier: {targets: [Linear]}\n")
    # The gate cannot read a scheme from it, so the entry declares one; llm-compressor then refuses the recipe.
    gate = tiny_gate_yaml(tiny_vlm_dir, recipe=recipe).replace("  tiny-w8a8:\n", "  tiny-w8a8:\n    scheme: w8a8-int8\n")
    store = store_for(tmp_path, gate)
    with pytest.raises(BuildFailed, match=r"building model 'tiny-w8a8' failed(.|\n)*does not parse"):
        store.resolve("tiny-w8a8")
    assert not list((tmp_path / "cache").glob("models/tiny-w8a8-*"))


def test_a_recipe_without_a_scheme_the_gate_reads_must_declare_one(tiny_vlm_dir, tmp_path):
    recipe = tmp_path / "custom.yaml"
    recipe.write_text("quant_stage:\n  quant_modifiers:\n    NoSuchModifier: {targets: [Linear]}\n")
    with pytest.raises(ConfigError, match=r"models\.tiny-w8a8\.build\.recipe: .*expected one quantization modifier "
                                          r"with a `scheme` or `config_groups`, found 0; declare models\.tiny-w8a8\.scheme"):
        store_for(tmp_path, tiny_gate_yaml(tiny_vlm_dir, recipe=recipe))


def test_calibration_with_no_rows_is_a_clear_error(tiny_vlm_dir, tmp_path):
    (tmp_path / "calib.jsonl").write_text("")
    store = store_for(tmp_path, tiny_gate_yaml(tiny_vlm_dir, dataset="calib.jsonl"))
    with pytest.raises(BuildFailed, match="calibration dataset 'calib.jsonl' has no rows"):
        store.resolve("tiny-w8a8")


def test_missing_model_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailable, match=r"HF_HUB_OFFLINE=1 and it is not in the local cache"):
        fetch("pixtral-large-bf16", "neuralmagic/Pixtral-Large-Instruct-2411-hf")


def test_missing_local_directory_names_the_model(tmp_path):
    with pytest.raises(ModelUnavailable, match=r"model 'mine': directory /nonexistent/ckpt does not exist"):
        fetch("mine", "/nonexistent/ckpt")


def test_cache_entry_deleted_during_a_session_is_rebuilt(tiny_vlm_dir, tmp_path):
    store = store_for(tmp_path, tiny_gate_yaml(tiny_vlm_dir))
    first = store.resolve("tiny-w8a8")
    import shutil
    shutil.rmtree(first.path)
    again = store.resolve("tiny-w8a8")
    assert again.path == first.path and (again.path / MANIFEST).is_file()
    assert again.manifest["weights_digest"] == first.manifest["weights_digest"]
