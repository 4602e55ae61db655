"""The gate's pytest plugin refuses bad configuration with a message that says what to fix.

Each case runs pytest for real, in a subprocess, on a real malformed file.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
DATA = Path(__file__).parents[1] / "data" / "thresholds"


def run_gate(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("file, expected", [
    ("missing_profile.yaml", "marker 'h200' has no hardware profile in"),
    ("unregistered_marker.yaml", "hardware.h200.marker 'l40s' is not a registered pytest marker"),
    ("unknown_key.yaml", "hardware.a100.gpu_nmae: unknown key"),
    ("no_such_file.yaml", "file not found"),
    ("unknown_task.yaml", "hardware.cpu.gates[0].accuracy.tasks.vqa3: unknown task (vision: embedded-vqa"),
    ("percent_baseline.yaml", ":15: hardware.cpu.gates[0].accuracy.tasks.mmmu.baseline_score: Input should be less "
                              "than or equal to 1"),
    ("published_mismatch.yaml", "recovery 1.0502 is not candidate_score / baseline_score (0.6389 / 0.6356 = 1.0052)"),
])
def test_bad_thresholds_stop_the_run_naming_the_problem(file, expected):
    proc = run_gate("--thresholds", str(DATA / file), "--collect-only", "suites")
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert expected in proc.stderr, proc.stderr


def test_unknown_marker_expression_lists_the_hardware_markers():
    proc = run_gate("-m", "l40s", "--collect-only", "suites")
    assert proc.returncode == 4
    assert "'l40s' is not a marker. Hardware markers: smoke (cpu), a100 (a100)" in proc.stderr


def test_a_profile_with_no_gates_says_nothing_to_run_and_fails():
    # The repository's cpu profile may have gates; this file's h200 profile has none.
    proc = run_gate("--thresholds", str(DATA / "minimal_valid.yaml"), "-m", "h200", "suites")
    assert proc.returncode == 5, proc.stdout
    assert "nothing to run yet for -m h200: hardware profile 'h200': it has no gates" in proc.stdout


def test_missing_server_environment_fails_naming_it():
    proc = run_gate("--thresholds", str(DATA / "minimal_valid.yaml"), "-m", "smoke",
                    "--server-python", "/nonexistent/bin/python", "suites/serving")
    assert proc.returncode == 1, proc.stdout
    assert "vLLM server environment not found: /nonexistent/bin/python (from --server-python)" in proc.stdout


def test_unreachable_server_url_fails_naming_the_url():
    proc = run_gate("--thresholds", str(DATA / "minimal_valid.yaml"), "-m", "smoke",
                    "--server-url", "http://127.0.0.1:9/v1", "suites/serving")
    assert proc.returncode == 1, proc.stdout
    assert "--server-url http://127.0.0.1:9/v1: not reachable" in proc.stdout


def test_gpu_tests_are_collected_and_skipped_without_the_gpu():
    proc = run_gate("-m", "a100", "-q", "suites")
    assert proc.returncode == 0, proc.stdout
    assert "skipped" in proc.stdout and "this host has no NVIDIA GPU" in proc.stdout


def test_require_hardware_turns_the_skip_into_a_failure():
    proc = run_gate("-m", "a100", "-q", "--require-hardware", "suites")
    assert proc.returncode == 1, proc.stdout
    assert "needs 4 x A100 GPU(s); this host has no NVIDIA GPU" in proc.stdout
