"""tools/estimate's arithmetic: which measurement each check's estimate rests on, and the totals."""
from __future__ import annotations

import json

from fixtures.harness.estimate import bench_levels, estimate, past_durations, render, request_rate
from fixtures.harness.thresholds import load_thresholds

from .test_thresholds import REPO


def _levels(tmp_path, rows):
    path = tmp_path / "eval-rates.jsonl"
    path.write_text("".join(json.dumps({"model": "m", "hardware": "h200x2_card", "requests": 8, **r}) + "\n"
                            for r in rows))
    return bench_levels([path])


def test_a_rate_is_taken_at_or_below_the_concurrency_and_carried_to_max_tokens(tmp_path):
    levels = _levels(tmp_path, [
        {"task": "chartqa", "concurrency": c, "max_tokens": 256, "requests_per_s": r,
         "server_tokens_per_s": {"prompt_tokens": 1000.0, "generation_tokens": g}}
        for c, r, g in ((1, 0.1, 27.0), (8, 0.5, 144.0), (32, 0.6, 172.0))])["chartqa"]
    rate, basis = request_rate(levels, 16, 2048)
    assert rate == 144.0 / 2048 and "concurrency 8" in basis and "every answer taken to max_tokens" in basis
    assert request_rate(levels, 32, 256)[0] == 0.6  # measured at the task's own length: the request rate
    assert request_rate([lv for lv in levels if lv["concurrency"] > 1], 1, 256) is None


def test_the_card_run_estimates_its_vision_checks_from_rates_and_names_the_rest(tmp_path):
    cfg = load_thresholds(REPO / "thresholds.yaml")
    levels = _levels(tmp_path, [{"task": "docvqa", "concurrency": 8, "max_tokens": 10, "requests_per_s": 1.0,
                                 "server_tokens_per_s": {"prompt_tokens": 3800.0, "generation_tokens": 12.0}}])
    out = {e.nodeid.rsplit("[", 1)[-1].rstrip("]"): e for e in estimate(cfg, "a100", {}, levels, 8)}
    doc = out["a100-pixtral-large-w8a8-docvqa"]
    assert doc.models == ("pixtral-large-w8a8",)  # the card's bf16 score is pinned: the candidate alone runs
    assert doc.wall_s == 5349 and doc.gpus == 2 and doc.gpu_s == 2 * 5349 and "5349 rows" in doc.basis
    assert out["a100-pixtral-large-w8a8-mmlu"].wall_s is None
    text = render(list(out.values()), "a100")
    assert "leaving out" in text and "not estimated" in text and "rest on measured request rates" in text


def test_a_past_results_file_gives_each_check_its_own_duration(tmp_path):
    cfg = load_thresholds(REPO / "thresholds.yaml")
    node = "suites/accuracy/test_text_recovery.py::test_text_recovery[cpu-smollm2-w8a8-embedded-mc]"
    results = tmp_path / "results.json"
    failed = {"nodeid": node.replace("mc]", "arith]"), "when": "call", "outcome": "failed", "duration_s": 1.0}
    results.write_text(json.dumps({"started": "t", "environment": {"cpus": 2, "gpus": []}, "tests": [
        {"nodeid": node, "when": "call", "outcome": "passed", "duration_s": 90.0}, failed]}))
    durations = past_durations([results])
    assert list(durations) == [node]  # a failed check's duration is no measure of a whole one
    mc = next(e for e in estimate(cfg, "smoke", durations, {}, 8) if e.nodeid == node)
    assert mc.wall_s == 90.0 and mc.gpus == 0 and str(results) in mc.basis and "2 CPUs, no GPU" in mc.basis


def test_lm_eval_tasks_are_estimated_in_rows_and_their_limit_counts_per_subtask(tmp_path):
    cfg = load_thresholds(REPO / "thresholds.yaml")
    levels = _levels(tmp_path, [
        {"task": "mmlu", "concurrency": 32, "max_tokens": 1, "requests_per_s": 40.0, "rows_per_s": 10.0,
         "server_tokens_per_s": {"prompt_tokens": 9000.0, "generation_tokens": 40.0}},
        {"task": "mgsm_cot_native", "concurrency": 32, "max_tokens": 128, "requests_per_s": 2.0,
         "server_tokens_per_s": {"prompt_tokens": 500.0, "generation_tokens": 256.0}}])
    out = {e.nodeid.rsplit("[", 1)[-1].rstrip("]"): e for e in estimate(cfg, "a100", {}, levels)}
    mmlu, mgsm = out["a100-pixtral-large-w8a8-mmlu"], out["a100-pixtral-large-w8a8-mgsm_cot_native"]
    assert mmlu.wall_s == 14_042 / 10.0 and "10.000 rows/s" in mmlu.basis  # rows, not log-likelihood requests
    assert mgsm.wall_s == 2_750 / (256.0 / 2048)  # carried to its 2048-token answers
    limited = {e.nodeid: e for e in estimate(cfg, "a100", {}, levels, cli_limit=10)}
    assert limited[mmlu.nodeid].wall_s == 570 / 10.0 and limited[mgsm.nodeid].wall_s == 110 / (256.0 / 2048)


def test_the_estimate_takes_each_profiles_eval_concurrency_unless_one_is_given(tmp_path):
    cfg = load_thresholds(REPO / "thresholds.yaml")
    levels = _levels(tmp_path, [{"task": "docvqa", "concurrency": c, "max_tokens": 10, "requests_per_s": r,
                                 "server_tokens_per_s": {"prompt_tokens": 1.0, "generation_tokens": 1.0}}
                                for c, r in ((8, 1.0), (32, 2.0))])
    node = lambda es: next(e for e in es if e.nodeid.endswith("a100-pixtral-large-w8a8-docvqa]"))
    assert cfg.hardware["a100"].eval_concurrency == 32
    assert node(estimate(cfg, "a100", {}, levels)).wall_s == 5349 / 2.0
    assert node(estimate(cfg, "a100", {}, levels, 8)).wall_s == 5349 / 1.0
