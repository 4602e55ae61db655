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
    assert list(durations) == [node]  # a check that failed part way: its duration is no measure of a whole one
    judged = {**failed, "properties": {"judged": [{"key": "min_recovery", "held": False}]}}
    results.write_text(json.dumps({"started": "t", "environment": {"cpus": 2, "gpus": []}, "tests": [judged]}))
    assert list(past_durations([results])) == [judged["nodeid"]]  # it failed its target, measured whole
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


def test_the_estimate_beside_a_measured_run_gives_per_check_and_total_ratios(tmp_path):
    from fixtures.harness.estimate import Estimate, against_run
    run = {"started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T10:05:00+00:00",
           "environment": {"cpus": 2}, "tests": [{"nodeid": "s::a", "duration_s": 100.0},
                                                 {"nodeid": "s::b", "duration_s": 150.0}]}
    estimates = [Estimate(f"s::{n}", "accuracy", ("m",), 0, wall, "x")
                 for n, wall in (("a", 120.0), ("b", 150.0), ("c", 30.0), ("d", None))]
    text = against_run(estimates, run, "b.json")
    assert ["a", "120.0", "100.0", "1.20"] in [line.split() for line in text.splitlines()]
    # the total against the run's wall time (300 s), not the sum of its checks
    assert text.endswith("total: estimate 300.0 s, the run's wall time 300.0 s: estimate / measured 1.00 "
                         "(2 estimated checks the run did not record)")
    unfinished = against_run(estimates, {**run, "finished": None}, "b.json")
    assert unfinished.endswith("b.json did not finish, so it has no wall time to compare")


def test_a_merged_run_is_measured_by_its_runs_wall_times_not_the_gaps_between_them():
    from fixtures.harness.estimate import Estimate, against_run
    merged = {"started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T11:00:00+00:00", "tests": [],
              "merged_from": [{"started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T10:05:00+00:00"},
                              {"started": "2026-12-01T10:55:00+00:00", "finished": "2026-12-01T11:00:00+00:00"}]}
    text = against_run([Estimate("s::a", "accuracy", ("m",), 0, 660.0, "x")], merged, "merged.json")
    assert "the run's wall time 600.0 s: estimate / measured 1.10" in text


def test_mgsm_without_a_rate_of_its_own_rests_on_mathvistas_decode_rate_and_says_so(tmp_path):
    cfg = load_thresholds(REPO / "thresholds.yaml")
    levels = _levels(tmp_path, [{"task": "mathvista", "concurrency": 32, "max_tokens": 256, "requests_per_s": 0.9,
                                 "server_tokens_per_s": {"prompt_tokens": 900.0, "generation_tokens": 204.8}}])
    out = {e.nodeid.rsplit("[", 1)[-1].rstrip("]"): e for e in estimate(cfg, "a100", {}, levels)}
    mgsm = out["a100-pixtral-large-w8a8-mgsm_cot_native"]
    assert mgsm.wall_s == 2750 / (204.8 / 2048)  # every answer to 2048 tokens at MathVista's generated tok/s
    assert "no rate of its own; mathvista's stands for it" in mgsm.basis and "errs long" in mgsm.basis
    assert "2 of them rest on another task's rate" in render(list(out.values()), "a100")
