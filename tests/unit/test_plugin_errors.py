"""The gate's pytest plugin refuses bad configuration with a message that says what to fix.

Each case runs pytest for real, in a subprocess, on a real malformed file.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
DATA = Path(__file__).parents[1] / "data" / "thresholds"


def run_gate(*args: str, timeout: int = 120, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "GATE_ARTIFACTS_DIR": tempfile.mkdtemp(prefix="gate-artifacts-")}  # not the repository's
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("file, expected", [
    ("missing_profile.yaml", "marker 'h200' has no hardware profile in"),
    ("unregistered_marker.yaml", "hardware.h200.marker 'l40s' is not a registered pytest marker"),
    ("unknown_key.yaml", "hardware.a100.gpu_nmae: unknown key"),
    ("no_such_file.yaml", "file not found"),
    ("unknown_task.yaml", "hardware.cpu.gates[0].accuracy.tasks.vqa3: unknown task (vision: embedded-vqa"),
    ("percent_baseline.yaml", ":15: hardware.cpu.gates[0].accuracy.tasks.mmmu.baseline_score: Input should be less "
                              "than or equal to 1"),
    ("published_mismatch.yaml", "recovery 1.0502 is not candidate_score / baseline_score (0.6389 / 0.6356 = 1.0052)"),
    # A target a mode does not read, or a key a text task does not read, is refused where it is written.
    ("unread_mode_key.yaml", ":17: hardware.cpu.gates[0].performance.single_stream.captioning.min_qps_ratio: "
                             "unknown key"),
    ("text_failure_rate.yaml", ":14: hardware.cpu.gates[0].accuracy.tasks.embedded-mc.max_failure_rate: not read "
                               "for a text task"),
    ("published_baseline_drift.yaml", ":14: hardware.cpu.gates[0].accuracy.tasks.mmmu: Value error, "
                                      "published.baseline_score 0.64 differs from baseline_score 0.6356"),
    ("renamed_warmup.yaml", ":7: hardware.cpu.load: Value error, 'warmup' is now 'warmup_requests'"),
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


def test_gpu_checks_skipped_without_the_gpu_leave_the_verdict_incomplete(tmp_path):
    proc = run_gate("-m", "a100", "-q", "--artifacts-dir", str(tmp_path), "suites")
    assert proc.returncode == 1, proc.stdout  # INCOMPLETE is not a success
    assert "skipped" in proc.stdout and "this host has no NVIDIA GPU" in proc.stdout
    assert "VERDICT: INCOMPLETE: 38 of 38 selected check(s) not decided" in proc.stdout
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["verdict"]["verdict"] == "INCOMPLETE" and len(doc["selection"]["checks"]) == 38


def test_require_hardware_turns_the_skip_into_a_failure(tmp_path):
    proc = run_gate("-m", "a100", "-q", "--require-hardware", "--artifacts-dir", str(tmp_path), "suites")
    assert proc.returncode == 1, proc.stdout
    assert "needs 4 x A100 GPU(s); this host has no NVIDIA GPU" in proc.stdout


@pytest.mark.parametrize("form, where", [("two tokens", "repository"), ("equals", "repository"),
                                         ("two tokens", "elsewhere")])
def test_a_thresholds_copy_outside_the_repository_works_without_a_test_path(tmp_path, form, where):
    # A real copy, in a folder outside the repository: its relative recipe and model paths
    # (fixtures/...) are found in the suite's root, and pytest's rootdir moving to the copy's
    # folder no longer hides the gate's options (the plugin is an installed entry point).
    copy = tmp_path / "elsewhere" / "copy.yaml"
    copy.parent.mkdir()
    copy.write_text((REPO / "thresholds.yaml").read_text())
    option = ["--thresholds", str(copy)] if form == "two tokens" else [f"--thresholds={copy}"]
    proc = run_gate(*option, "-m", "smoke", "--collect-only", "-q", cwd=REPO if where == "repository" else tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "24/" in proc.stdout and "tests collected" in proc.stdout, proc.stdout[-2000:]
    assert "test_checkpoint_matches_its_scheme[cpu-tiny-vlm-w8a8]" in proc.stdout


def test_a_server_that_cannot_start_fails_its_checks(tmp_path):
    # The runner's own Python has no vLLM: the server dies at start-up, and the check that needed it fails
    # (FAIL, not INCOMPLETE), with the server's log tail.
    proc = run_gate("-m", "smoke", "-k", "serving and tiny-vlm-bf16-single", "--max-live-servers", "1",
                    "--server-python", sys.executable, "--artifacts-dir", str(tmp_path), timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "FAILED suites/serving/test_serving.py::test_answers_a_chat_request[cpu-tiny-vlm-bf16-single_stream]" \
        in proc.stdout
    assert "No module named 'vllm'" in proc.stdout, proc.stdout[-3000:]
    assert "VERDICT: FAIL: 1 check(s) failed" in proc.stdout
    assert "selection narrowed by -k" in proc.stdout
