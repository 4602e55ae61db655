"""thresholds.yaml schema: the repository's file is valid; malformed files fail naming file, key path and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.harness.thresholds import load_thresholds
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
