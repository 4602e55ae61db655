"""The contract between thresholds.yaml, the suites and the verdict (harness/cases.py), on the real files.

Every target thresholds.yaml sets is decided by a collected test, and every
collected gate test is a declared check: a renamed test or a target no suite
reads cannot slip out of the verdict unnoticed.
"""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fixtures.harness.cases import CHECKS, PinnedCase, Target, all_targets, check_of, expected_checks, judge
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).parents[2]
CFG = load_thresholds(REPO / "thresholds.yaml")


@pytest.fixture(scope="module")
def collected() -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "suites"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_every_collected_test_is_a_declared_check_and_every_declared_check_is_collected(collected):
    expected = expected_checks(CFG, lambda marker: True)
    assert set(collected) == set(expected)
    assert all(check_of(nodeid) is not None for nodeid in collected)
    assert {c.test for c in CHECKS} == {n.split("[")[0] for n in collected}


def test_every_target_is_decided_by_exactly_one_collected_test(collected):
    expected = expected_checks(CFG, lambda marker: True)
    deciders = Counter(t.path for nodeid in collected for t in expected[nodeid][1].targets(CFG))
    targets = all_targets(CFG)
    assert targets, "thresholds.yaml sets no target"
    undecided = [t for t in targets if t not in deciders]
    assert not undecided, f"targets no collected test decides: {undecided}"
    assert set(deciders) <= set(targets)
    for path, count in deciders.items():
        # A gate's pin floor holds each of its two models' pins (one test per model and profile);
        # every other target has one test.
        expected_count = 2 if path[-1] == "min_pin_agreement" else 1
        assert count == expected_count, f"{path} is decided by {count} tests"


def test_checks_without_a_numeric_target_still_count(collected):
    names = {check_of(n).name for n in collected}
    assert {"conformance", "serves"} <= names
    conformance = [n for n in collected if check_of(n).name == "conformance"]
    expected = expected_checks(CFG, lambda marker: True)
    assert conformance and all(expected[n][1].targets(CFG) == [] for n in conformance)


def test_a_target_is_held_by_its_comparison_and_a_missing_figure_is_an_error():
    floor = Target(("hardware", "cpu", "gates", 0, "accuracy", "tasks", "embedded-vqa", "min_recovery"), 0.9)
    ceiling = Target(("hardware", "cpu", "gates", 0, "performance", "single_stream", "x", "max_latency_ratio"), 1.5)
    assert [j.held for j in judge([floor], {"lower": 0.9})] == [True]
    assert [j.held for j in judge([floor], {"lower": 0.89})] == [False]
    assert [j.held for j in judge([ceiling], {"latency_ratio": 1.6})] == [False]
    assert judge([ceiling], {"latency_ratio": 1.2})[0].as_dict()["comparison"] == "<="
    with pytest.raises(KeyError, match="no figure lower"):
        judge([floor], {"latency_ratio": 1.0})


def test_a_pinned_model_is_held_to_the_floor_of_every_gate_it_belongs_to():
    paths = [t.path for t in PinnedCase("cpu", "tiny-vlm-w8a8").targets(CFG)]
    assert paths == [("hardware", "cpu", "gates", 0, "regression", "min_pin_agreement")]
