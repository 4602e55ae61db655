"""Recovery decisions on intervals: pass, fail and inconclusive, paired and pinned."""
from __future__ import annotations

import random

from fixtures.harness.accuracy.recovery import MIN_SAMPLES, paired_recovery, pinned_recovery


def scores(n: int, p: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < p) for _ in range(n)]


def test_identical_models_pass_with_a_degenerate_paired_interval():
    base = scores(200, 0.7, 0)
    d = paired_recovery(base, base, threshold=0.95)
    assert d.verdict == "PASS" and d.lower == d.upper == 1.0 and d.method == "paired bootstrap"


def test_clearly_worse_candidate_fails_naming_the_shortfall():
    base = scores(300, 0.8, 1)
    cand = [b if i % 3 else 0.0 for i, b in enumerate(base)]  # loses a third of its right answers
    d = paired_recovery(cand, base, threshold=0.95)
    assert d.verdict == "FAIL" and d.upper < 0.95 and "short by" in d.reason


def test_small_noisy_sample_is_inconclusive_not_a_pass():
    base = scores(40, 0.5, 2)
    cand = [1.0 - b if i % 7 == 0 else b for i, b in enumerate(base)]  # disagrees on one sample in seven
    d = paired_recovery(cand, base, threshold=0.98)
    assert d.verdict == "INCONCLUSIVE" and "too few samples" in d.reason


def test_too_few_samples_and_zero_baseline_cannot_decide():
    assert paired_recovery([1.0] * (MIN_SAMPLES - 1), [1.0] * (MIN_SAMPLES - 1), 0.9).verdict == "INCONCLUSIVE"
    d = paired_recovery([0.0] * 50, [0.0] * 50, 0.9)
    assert d.verdict == "INCONCLUSIVE" and "baseline scored 0" in d.reason


def test_pinned_baseline_uses_the_candidates_samples_alone():
    cand = scores(400, 0.79, 3)
    d = pinned_recovery(cand, baseline_score=0.7903, threshold=0.9)  # e.g. the card's VQAv2 baseline
    assert d.method.startswith("candidate-only") and d.verdict == "PASS"
    assert d.lower < d.recovery < d.upper
