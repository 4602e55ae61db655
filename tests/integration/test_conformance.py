"""Checkpoint conformance on real llm-compressor checkpoints: a mislabelled one is refused before it is served.

Two checkpoints of the tiny VLM that accuracy alone cannot tell from the card's W8A8 are
built here with llm-compressor: a W8A8 whose vision tower and projector are quantized too,
and a W4A16. Each is refused as `tiny-vlm-w8a8`, naming the first offending tensor, by the
check itself and by the smoke gate given the checkpoint with --model-dir.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.harness.conformance import check_checkpoint, int8_weight_peak, recipe_scheme
from fixtures.harness.hardware import cpu_flags
from fixtures.harness.models import ModelStore
from fixtures.harness.thresholds import load_thresholds

from .conftest import REPO, gate_env, tiny_gate_yaml

CARD_RECIPE = REPO / "fixtures" / "recipes" / "w8a8_gptq_pixtral.yaml"
TEST_RECIPES = REPO / "tests" / "data" / "recipes"


@pytest.fixture(scope="module")
def mislabelled(tmp_path_factory, tiny_vlm_dir, tiny_store):
    """{name: resolved model} of the two checkpoints, built by llm-compressor from the tiny VLM."""
    out = {}
    for name, recipe in (("vision-quantized", "w8a8_vision_quantized.yaml"), ("w4a16", "w4a16_rtn.yaml")):
        folder = tmp_path_factory.mktemp(name)
        (folder / "thresholds.yaml").write_text(tiny_gate_yaml(tiny_vlm_dir, recipe=TEST_RECIPES / recipe))
        store = ModelStore(load_thresholds(folder / "thresholds.yaml"), folder, tiny_store.cache_root)
        out[name] = store.resolve("tiny-w8a8")
    return out


def test_the_card_recipes_w8a8_conforms(tiny_w8a8):
    checked = check_checkpoint("tiny-w8a8", tiny_w8a8.path, *recipe_scheme(CARD_RECIPE))
    assert checked.problems == () and checked.linear_layers > 14


def test_a_w8a8_with_its_vision_tower_quantized_is_refused_naming_the_tensor(mislabelled):
    checked = check_checkpoint("tiny-vlm-w8a8", mislabelled["vision-quantized"].path, *recipe_scheme(CARD_RECIPE))
    assert checked.problems
    first = checked.problems[0]
    assert "multi_modal_projector" in first or "vision_tower" in first, first
    assert "is I8 with a weight_scale; the ignore list keeps it unquantized" in first


def test_a_w4a16_declared_as_w8a8_is_refused_naming_the_tensor(mislabelled):
    checked = check_checkpoint("tiny-vlm-w8a8", mislabelled["w4a16"].path, *recipe_scheme(CARD_RECIPE))
    assert "weight_packed is I32; w8a8-int8 stores" in checked.problems[0], checked.problems
    assert any("weights.num_bits is 4; w8a8-int8 needs 8" in p for p in checked.problems)
    assert any("input_activations is missing" in p for p in checked.problems)


def smoke_with_candidate(candidate: Path, selection: str, tmp_path: Path, tiny_store) -> subprocess.CompletedProcess:
    """The real smoke gate, its checks narrowed by -k `selection`, with `candidate` as tiny-vlm-w8a8."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider",
         "-m", "smoke", "-k", selection, "--max-live-servers", "1",
         "--model-dir", f"tiny-vlm-w8a8={candidate}", "--artifacts-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=900, env=gate_env(tiny_store.cache_root))


@pytest.mark.parametrize("kind", ["vision-quantized", "w4a16"])
def test_the_smoke_gate_refuses_a_mislabelled_candidate_before_serving_it(mislabelled, kind, tmp_path, tiny_store):
    proc = smoke_with_candidate(mislabelled[kind].path, "tiny-vlm-w8a8 and (conformance or serving)", tmp_path,
                                tiny_store)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "FAILED suites/conformance/test_checkpoint.py::test_checkpoint_matches_its_scheme[cpu-tiny-vlm-w8a8]" in out
    assert f"tiny-vlm-w8a8 ({mislabelled[kind].path}) is not w8a8-int8" in out
    # No server was started for it: its serving checks fail with the same reason.
    assert "no server is started for it" in out
    assert not list((tmp_path / "main" / "logs").glob("vllm-cpu-*-tiny-vlm-w8a8-*.log"))
    assert "VERDICT: FAIL" in out


def test_a_full_range_w8a8_is_served_only_where_the_cpus_int8_kernel_is_exact(tiny_w8a8, tmp_path, tiny_store):
    """The card's recipe gives full-range int8 weights: a CPU with int8 dot products serves and judges them; an
    AVX2-only one (its W8A8 GEMM saturates beyond +-64) does not start a server, and the verdict is INCOMPLETE."""
    value, tensor = int8_weight_peak(tiny_w8a8.path)
    assert value > 64, (value, tensor)
    proc = smoke_with_candidate(tiny_w8a8.path, "test_answers_a_chat_request and tiny-vlm-w8a8 and single", tmp_path,
                                tiny_store)
    out = proc.stdout
    exact = cpu_flags() & set(load_thresholds(REPO / "thresholds.yaml").hardware["cpu"].int8_dot_product_flags)
    if exact:
        assert proc.returncode == 0 and "VERDICT: PASS" in out, out[-3000:]
    else:
        assert proc.returncode == 1, out[-3000:]
        assert f"tiny-vlm-w8a8's int8 weights reach {value} ({tensor})" in out, out[-3000:]
        assert "VERDICT: INCOMPLETE" in out
        assert not list((tmp_path / "main" / "logs").glob("vllm-cpu-*-tiny-vlm-w8a8-*.log"))
