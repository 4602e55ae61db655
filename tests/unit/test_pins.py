"""Pins are a promise about one artifact: the rule that judges outputs of other weights, and the digest check."""
from __future__ import annotations

import pytest

from fixtures.harness.models import ModelUnavailable, ResolvedModel, build_environment, checked_digest, weights_digest
from fixtures.harness.hardware import Gpu, kernel_signature
from fixtures.harness.regression import outputs_agreement, pin_mismatch

A, B = "a" * 64, "b" * 64


def encode(text: str) -> list[str]:
    return text.split()


def test_agreement_is_per_prompt_over_the_pins_and_a_missing_answer_counts_zero():
    pinned = {"p1": {"text": "red circle"}, "p2": {"text": "one two three four"}, "p3": {"text": "yes"}}
    now = {"p1": {"text": "red circle"}, "p2": {"text": "one two five four"}}
    agreement, rates, diffs = outputs_agreement(now, pinned, encode)
    assert agreement == pytest.approx((1.0 + 0.75 + 0.0) / 3)
    assert rates == {"p1": 1.0, "p2": 0.75, "p3": 0.0}
    assert diffs[0].startswith("p2: first differing token #2: now 'one two five four', pinned 'one two three four'")
    assert diffs[1].startswith("p3: first differing token #0: now None")


PINNED = {"weights_digest": A, "served_on": "cpu: avx2 avx512f amx_tile"}


def test_a_fetched_artifact_with_other_weights_fails_naming_both_digests():
    problem = pin_mismatch("tiny-vlm-bf16", PINNED, B, PINNED["served_on"], built_here=False, floor=0.5, agreement=1.0)
    assert problem.startswith("tiny-vlm-bf16: pinned for aaaaaaaaaaaa…, this build is bbbbbbbbbbbb…")
    assert "fetched artifact" in problem and "--snapshot-update" in problem


def test_a_rebuild_here_passes_at_the_floor_and_fails_below_it():
    assert pin_mismatch("w8a8", PINNED, B, PINNED["served_on"], built_here=True, floor=0.8, agreement=0.8) is None
    problem = pin_mismatch("w8a8", PINNED, B, PINNED["served_on"], built_here=True, floor=0.8, agreement=0.79)
    assert "built on this machine: agreement with the pins 0.790 is below regression.min_pin_agreement 0.8" in problem


def test_the_same_weights_on_other_kernels_are_judged_by_agreement_even_when_fetched():
    other = "cpu: avx2 avx512f avx512_bf16"
    assert pin_mismatch("bf16", PINNED, A, other, built_here=False, floor=0.7, agreement=0.75) is None
    problem = pin_mismatch("bf16", PINNED, A, other, built_here=False, floor=0.7, agreement=0.5)
    assert problem.startswith("bf16: the pinned weights (aaaaaaaaaaaa…) served on other hardware: pinned on "
                              "'cpu: avx2 avx512f amx_tile', served on 'cpu: avx2 avx512f avx512_bf16'")


def test_a_rebuild_without_a_floor_cannot_pass_on_agreement_alone():
    problem = pin_mismatch("w8a8", PINNED, B, PINNED["served_on"], built_here=True, floor=None, agreement=1.0)
    assert "sets no regression.min_pin_agreement" in problem


def test_the_kernel_signature_lists_the_cpu_features_kernels_are_chosen_by():
    cpuinfo = "processor: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8\n"
    assert kernel_signature([], cpuinfo) == "cpu: avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8"
    assert kernel_signature([Gpu(0, "NVIDIA H200", 1), Gpu(1, "NVIDIA H200", 1)]) == "gpu: NVIDIA H200"


def test_a_fetched_model_is_refused_when_its_weights_are_not_the_declared_ones(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    model = ResolvedModel("m", tmp_path, {"source": {"fetch": str(tmp_path)}})
    assert checked_digest(model, weights_digest(tmp_path)).manifest["weights_digest"] == weights_digest(tmp_path)
    assert checked_digest(model, None) is model  # nothing declared: nothing hashed at resolve time
    with pytest.raises(ModelUnavailable, match=r"model 'm': the weights in .* have digest [0-9a-f]{64}, "
                                               r"thresholds.yaml expects a{64} \(models.m.weights_digest\)"):
        checked_digest(model, A)


def test_builds_take_the_avx2_code_paths_unless_told_otherwise():
    env = build_environment({"PATH": "/bin", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"})
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2" and env["PATH"] == "/bin"
    assert build_environment({"GATE_BUILD_CPU": "avx512"})["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"
    assert "ONEDNN_MAX_CPU_ISA" not in build_environment({"GATE_BUILD_CPU": "native"})
    with pytest.raises(ModelUnavailable, match="GATE_BUILD_CPU=avx9: unknown code paths"):
        build_environment({"GATE_BUILD_CPU": "avx9"})
