"""thresholds.yaml schema: the repository's file is valid; malformed files fail naming file, key path and line."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fixtures.harness.thresholds import PerformanceSection, SingleStreamGate, load_thresholds
from fixtures.harness.yaml_lines import ConfigError

DATA = Path(__file__).parents[1] / "data" / "thresholds"
REPO = Path(__file__).parents[2]


def test_repository_thresholds_hold_the_cards_pixtral_large_entries():
    cfg = load_thresholds(REPO / "thresholds.yaml")
    assert {"cpu", "a100", "h100", "h200"} <= set(cfg.hardware)
    assert cfg.hardware["cpu"].marker == "smoke"
    a100 = cfg.hardware["a100"]
    assert a100.price.usd_per_hour == pytest.approx(1.79) and a100.price.per == "gpu"
    # The card: baseline on 4 GPUs and W8A8 on 2 single-stream, everything on 4 multi-stream.
    assert a100.deployments["pixtral-large-bf16"]["single_stream"].gpus == 4
    assert a100.deployments["pixtral-large-w8a8"]["single_stream"].gpus == 2
    assert all(d["multi_stream"].gpus == 4 for d in a100.deployments.values())
    assert {(g.candidate, g.baseline) for g in a100.gates} >= {("pixtral-large-w8a8", "pixtral-large-bf16")}
    # The card's H100 tables name FP8-Dynamic and W4A16, not W8A8.
    assert {g.candidate for g in cfg.hardware["h100"].gates} == {"pixtral-large-fp8-dynamic", "pixtral-large-w4a16"}
    assert cfg.models["pixtral-large-w8a8-rebuilt"].build.base == "pixtral-large-bf16"


def test_minimal_file_is_valid():
    cfg = load_thresholds(DATA / "minimal_valid.yaml")
    assert cfg.hardware["cpu"].gates[0].accuracy.tasks == {}  # empty but valid sections


@pytest.mark.parametrize("name, path_text, line, message", [
    ("unknown_key.yaml", "hardware.a100.gpu_nmae", 13, "unknown key"),
    ("wrong_type.yaml", "hardware.a100.price.usd_per_hour", 14, "valid number"),
    ("unknown_model.yaml", "hardware.cpu.gates[0].candidate", 10, "unknown model 'tiny-w8a8'"),
    ("unknown_mode.yaml", "hardware.cpu.deployments.tiny.multistream", 8, "single_stream"),
    ("duplicate_key.yaml", "models.tiny", 26, "duplicate key"),
    ("wrong_version.yaml", "schema_version", 1, "schema_version 2 is not supported"),
    ("bad_yaml.yaml", "<top level>", 23, "not valid YAML"),
    ("fetch_and_build.yaml", "models.tiny", 24, "exactly one of `fetch`"),
    ("missing_recipe.yaml", "models.tiny.build.recipe", 25, "recipe file not found"),
    ("duplicate_marker.yaml", "hardware.h200.marker", 20, "already used by profile 'h100'"),
    ("empty.yaml", "<top level>", None, "file is empty"),
    ("no_such_file.yaml", "<top level>", None, "file not found"),
])
def test_malformed_file_names_file_key_path_and_line(name, path_text, line, message):
    with pytest.raises(ConfigError) as info:
        load_thresholds(DATA / name)
    text = str(info.value)
    where = f"{DATA / name}:{line}: " if line else f"{DATA / name}: "
    assert f"{where}{path_text}: " in text, text
    assert message in text, text


def test_the_cards_performance_tables_are_gates_for_a100_and_h100():
    cfg = load_thresholds(REPO / "thresholds.yaml")
    profiles = set(cfg.profiles)
    for hw in ("a100", "h100"):
        for gate in cfg.hardware[hw].gates:
            for mode in ("single_stream", "multi_stream"):
                cells = getattr(gate.performance, mode)
                assert set(cells) == profiles, (hw, gate.candidate, mode)
                for profile, cell in cells.items():
                    # the target is the card's own ratio less a 10% margin, rounded down; where a cell's QPD
                    # contradicts its QPS (marked), the QPS ratio (the same GPUs on both sides)
                    card = cell.published
                    ratio = (card.candidate_max_qps / card.baseline_max_qps if card.disagrees
                             else card.cost_reduction)
                    assert cell.min_cost_reduction == pytest.approx(int(ratio * 90) / 100)
    marked_cells = [(hw, g.candidate, p) for hw in ("a100", "h100") for g in cfg.hardware[hw].gates
                    for p, cell in g.performance.multi_stream.items() if cell.published.disagrees]
    assert marked_cells == [("h100", "pixtral-large-w4a16", "visual_reasoning")]
    # The card's printed averages that its own QPD cells do not give are kept, and marked.
    marked = {(hw, g.candidate, mode) for hw in ("a100", "h100") for g in cfg.hardware[hw].gates
              for mode, avg in g.performance.published_average.items() if avg.disagrees}
    assert marked == {("h100", "pixtral-large-fp8-dynamic", "multi_stream"), ("h100", "pixtral-large-w4a16", "multi_stream")}


def _cell(baseline_qpd, candidate_qpd):
    return {"baseline_latency_s": 7.5, "candidate_latency_s": 8.1, "baseline_qpd": baseline_qpd,
            "candidate_qpd": candidate_qpd, "source": "card"}


def test_a_printed_average_its_cells_do_not_give_must_be_marked():
    cells = {"single_stream": {"document_vqa": {"min_cost_reduction": 1.5, "published": _cell(67, 124)}}}
    with pytest.raises(ValidationError, match=r"published_average.single_stream: 1.61 does not follow .* 1.851"):
        PerformanceSection.model_validate({**cells, "published_average": {
            "single_stream": {"average_cost_reduction": 1.61, "source": "card"}}})
    marked = PerformanceSection.model_validate({**cells, "published_average": {
        "single_stream": {"average_cost_reduction": 1.61, "source": "card", "disagrees": "cells give 1.85"}}})
    assert marked.cells_average("single_stream") == pytest.approx(124 / 67)
    with pytest.raises(ValidationError, match="marked as disagreeing, but the cells' mean is 1.851"):
        PerformanceSection.model_validate({**cells, "published_average": {
            "single_stream": {"average_cost_reduction": 1.85, "source": "card", "disagrees": "stale"}}})


def test_published_cells_are_not_targets():
    with pytest.raises(ValidationError, match="sets no target"):
        SingleStreamGate.model_validate({"published": _cell(67, 124)})
    gate = SingleStreamGate.model_validate({"max_latency_ratio": 1.2, "published": _cell(67, 124)})
    assert gate.targets() == {"max_latency_ratio": 1.2}


def _with_shape_only_candidate(tmp_path, gate_extra: str) -> Path:
    text = (DATA / "minimal_valid.yaml").read_text()
    text = text.replace("      tiny: {single_stream: {}}\n    gates:\n      - {candidate: tiny, baseline: tiny}",
                        "      tiny: {single_stream: {}}\n      shaped: {single_stream: {}}\n    gates:\n"
                        "      - candidate: shaped\n        baseline: tiny\n" + gate_extra)
    text += "  shaped:\n    shape: pixtral-large-2411\n    scheme: w8a8-int8\n"
    path = tmp_path / "thresholds.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("gate_extra, path_text, message", [
    ("        accuracy: {tasks: {embedded-vqa: {min_recovery: 0.9}}}\n", "hardware.cpu.gates[0].accuracy",
     "model 'shaped' is shape-only (random weights): its gates judge performance only, not accuracy"),
    ("        regression: {min_pin_agreement: 0.5}\n", "hardware.cpu.gates[0].regression.min_pin_agreement",
     "model 'shaped' is shape-only (random weights): its gates judge performance only, not outputs"),
    ("        regression: {min_token_agreement: 0.8}\n", "hardware.cpu.gates[0].regression.min_token_agreement",
     "not outputs"),
])
def test_a_shape_only_model_is_refused_accuracy_and_pins(tmp_path, gate_extra, path_text, message):
    path = _with_shape_only_candidate(tmp_path, gate_extra)
    with pytest.raises(ConfigError) as info:
        load_thresholds(path)
    assert f"{path_text}: " in str(info.value) and message in str(info.value), str(info.value)


def test_a_shape_only_model_may_be_gated_on_performance(tmp_path):
    path = _with_shape_only_candidate(tmp_path, "        performance: {single_stream: {document_vqa: "
                                                "{min_cost_reduction: 1.5}}}\n")
    path.write_text(path.read_text().replace("hardware:", "profiles:\n  document_vqa: {width: 1680, height: 2240, "
                                                          "prompt_tokens: 64, output_tokens: 128}\nhardware:"))
    cfg = load_thresholds(path)
    assert cfg.models["shaped"].shape == "pixtral-large-2411"


def test_an_unknown_shape_names_the_known_ones(tmp_path):
    path = _with_shape_only_candidate(tmp_path, "")
    path.write_text(path.read_text().replace("shape: pixtral-large-2411", "shape: pixtral-huge"))
    with pytest.raises(ConfigError, match="shape 'pixtral-huge' is not one the gate knows .pixtral-large-2411"):
        load_thresholds(path)


def test_nothing_is_built_from_a_shape_only_model(tmp_path):
    path = _with_shape_only_candidate(tmp_path, "")
    path.write_text(path.read_text() + "  built:\n    build:\n      base: shaped\n      recipe: "
                    f"{REPO / 'fixtures' / 'recipes' / 'w8a8_gptq_pixtral.yaml'}\n"
                    "      calibration: {dataset: generated-shapes, samples: 8}\n")
    with pytest.raises(ConfigError, match=r"models.built.build.base: 'shaped' is shape-only"):
        load_thresholds(path)


def test_every_scheme_s_shape_only_config_conforms_to_it():
    from fixtures.harness.conformance import SCHEMES, config_problems
    from fixtures.harness.shapes import quantization_config
    for scheme in SCHEMES:
        config = {"quantization_config": quantization_config(scheme)} if scheme != "bf16" else {}
        assert config_problems(config, SCHEMES[scheme]) == [], scheme
        others = [s for s in SCHEMES if s != scheme]
        assert all(config_problems(config, SCHEMES[o]) for o in others), scheme
