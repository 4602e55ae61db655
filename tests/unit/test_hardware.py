"""Whether a hardware profile can run here, over simulated GPU inventories."""
from __future__ import annotations

from pathlib import Path

from fixtures.harness.hardware import Gpu, missing_hardware
from fixtures.harness.thresholds import load_thresholds

CFG = load_thresholds(Path(__file__).parents[2] / "thresholds.yaml")


def a100s(n: int) -> list[Gpu]:
    return [Gpu(i, "NVIDIA A100-SXM4-80GB", 81920) for i in range(n)]


def test_cpu_profile_needs_no_gpu():
    assert missing_hardware("cpu", CFG.hardware["cpu"], 0, gpus=[]) is None


def test_no_gpu_names_what_is_missing():
    reason = missing_hardware("a100", CFG.hardware["a100"], 4, gpus=[])
    assert reason == "hardware profile 'a100' needs 4 x A100 GPU(s); this host has no NVIDIA GPU"


def test_too_few_matching_gpus_names_the_numbers_and_models():
    reason = missing_hardware("a100", CFG.hardware["a100"], 4, gpus=a100s(2))
    assert "needs 4 x A100 GPU(s); this host has 2 of them (GPUs seen: NVIDIA A100-SXM4-80GB)" in reason


def test_wrong_gpu_model_is_refused():
    reason = missing_hardware("h100", CFG.hardware["h100"], 2, gpus=a100s(8))
    assert "this host has 0 of them" in reason and "A100" in reason


def test_enough_matching_gpus_pass():
    assert missing_hardware("a100", CFG.hardware["a100"], 4, gpus=a100s(4)) is None
