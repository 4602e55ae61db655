"""tools/calibrate: the worst figure of repeated runs, less the margin, as a patch that applies."""
from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

from fixtures.harness.calibrate import calibration_patch, propose
from fixtures.harness.results import load_results

REPO = Path(__file__).parents[2]
DATA = Path(__file__).parents[1] / "data" / "results" / "smoke_cpu.json"


def runs(factors=(1.0, 0.97, 1.03)) -> list[dict]:
    base = load_results(DATA)
    out = []
    for f in factors:
        doc = copy.deepcopy(base)
        for t in doc["tests"]:
            for judged in t["properties"].get("judged", []):
                judged["value"] *= f
        out.append(doc)
    return out


def test_proposals_take_the_worst_run_and_the_margin():
    assert propose("min_recovery", [1.0, 0.97, 1.03], 0.10) == 0.87  # floor(0.97 * 0.9, 2)
    assert propose("max_latency_ratio", [1.07, 1.04, 1.10], 0.10) == 1.21  # ceil(1.10 * 1.1, 2)


def test_patch_rewrites_values_in_place_with_the_evidence(tmp_path):
    thresholds = tmp_path / "thresholds.yaml"
    shutil.copy(REPO / "thresholds.yaml", thresholds)
    diff, notes = calibration_patch(thresholds, runs(), 0.10)
    assert "-            embedded-chart: {min_recovery: 0.90}" in diff
    assert "+            embedded-chart: {min_recovery: 0.84}" in diff
    assert ("+            # calibrated: min_recovery 0.9 -> 0.84 from 3 run(s) (0.967, 0.938, 0.996), margin 10%"
            in diff)
    assert "+          min_token_agreement: 0.81" in diff
    assert "+            image_captioning: {min_qps_ratio: 0.74}" in diff
    assert notes == []
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "p.diff").write_text(diff)
    proc = subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "embedded-chart: {min_recovery: 0.84}" in thresholds.read_text()


def test_fewer_than_three_runs_are_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "calibrate.py"), str(DATA), str(DATA)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "2 results file(s); at least 3 runs are needed" in proc.stderr


def test_pin_agreement_calibrates_the_floor_it_was_judged_against(tmp_path):
    thresholds = tmp_path / "thresholds.yaml"
    shutil.copy(REPO / "thresholds.yaml", thresholds)
    floor = ["hardware", "cpu", "gates", 0, "regression", "min_pin_agreement"]  # tiny-vlm-w8a8's gate
    docs = []
    for value in (1.0, 0.95, 0.9):
        doc = copy.deepcopy(load_results(DATA))
        doc["tests"] = [{"suite": "regression", "check": "pinned outputs",
                         "case": {"hardware": "cpu", "model": "tiny-vlm-w8a8"},
                         "properties": {"pin_agreement": value, "judged": [{"path": floor, "value": value}]}}]
        docs.append(doc)
    diff, notes = calibration_patch(thresholds, docs, 0.10)
    assert "+          min_pin_agreement: 0.81" in diff  # floor(0.90 x 0.9, 2)
    assert diff.count("min_pin_agreement: 0.81") == 1  # the SmolLM2 gate's floor is not its business


def test_a_file_without_judgements_calibrates_nothing(tmp_path):
    thresholds = tmp_path / "thresholds.yaml"
    shutil.copy(REPO / "thresholds.yaml", thresholds)
    old = load_results(DATA.with_name("smoke_cpu_v1.json"))  # schema 1: no key paths were recorded
    diff, notes = calibration_patch(thresholds, [old, old, old], 0.10)
    assert diff == "" and len(notes) == 3 and "records no target key paths; it calibrates nothing" in notes[0]
