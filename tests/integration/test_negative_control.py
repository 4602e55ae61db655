"""Negative control on real servers: a candidate degraded close to the threshold is rejected,
naming the task and the shortfall; the real W8A8 candidate is accepted by the same gate.

The degraded candidate is the shipped tiny VLM with Gaussian noise of NOISE x each
language-model Linear weight's std (tools/degrade_model.py, NumPy's generator in float64,
so the same weights on any CPU): a stated amount, not a random-weight model. Measured on
the shipped tiny-vlm-bf16 (3de20c8c...), embedded-vqa, n=240, paired 95% interval:
noise 2.2 -> 0.73 [0.63, 0.85] (rejected: upper bound 0.047 below 0.90), 4.0 -> 0.02.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.harness.envs import cache_root
from fixtures.harness.models import ModelStore
from fixtures.harness.thresholds import load_thresholds

from .conftest import embedded_gate_yaml

REPO = Path(__file__).parents[2]
NOISE = 2.2
THRESHOLD = 0.90  # the repository's embedded-vqa gate

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def embedded_models():
    store = ModelStore(load_thresholds(REPO / "thresholds.yaml"), REPO, cache_root())
    return store.resolve("tiny-vlm-bf16"), store.resolve("tiny-vlm-w8a8")


def test_degraded_candidate_is_rejected_and_w8a8_accepted(embedded_models, tmp_path):
    bf16, w8a8 = embedded_models
    degraded = tmp_path / "tiny-vlm-degraded"
    subprocess.run([sys.executable, str(REPO / "tools" / "degrade_model.py"), "--base", str(bf16.path),
                    "--noise", str(NOISE), "--out", str(degraded)], check=True, capture_output=True)
    vqa = f"accuracy: {{tasks: {{embedded-vqa: {{min_recovery: {THRESHOLD}}}}}}}"
    gate = embedded_gate_yaml(
        {"bf16": (bf16.path, "bf16"), "w8a8": (w8a8.path, "w8a8-int8"), "degraded": (degraded, "bf16")},
        f"      - {{candidate: w8a8, baseline: bf16, {vqa}}}\n      - {{candidate: degraded, baseline: bf16, {vqa}}}")
    path = tmp_path / "thresholds.yaml"
    path.write_text(gate)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "smoke", "--thresholds", str(path),
         "--artifacts-dir", str(tmp_path / "artifacts"), "-rA", "suites/accuracy/test_vision_recovery.py"],
        cwd=REPO, capture_output=True, text=True, timeout=1500)
    out = proc.stdout
    test = "suites/accuracy/test_vision_recovery.py::test_vision_recovery"
    assert f"PASSED {test}[cpu-w8a8-embedded-vqa]" in out, out[-4000:]
    assert f"FAILED {test}[cpu-degraded-embedded-vqa]" in out
    assert "AssertionError: FAIL: embedded-vqa (vqa_match, paired bootstrap, n=240)" in out, out[-4000:]
    assert "short by" in out, out[-4000:]
