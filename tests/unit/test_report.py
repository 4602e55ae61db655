"""The results file reader, the report renderer and the run comparison, on a real smoke run's results file."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.harness.report import compare, render
from fixtures.harness.results import ResultsError, ResultsFile, load_results, merge_results, verdict

DATA = Path(__file__).parents[1] / "data" / "results" / "smoke_cpu.json"
REPO = Path(__file__).parents[2]


@pytest.fixture
def doc() -> dict:
    return load_results(DATA)


def test_report_renders_the_cards_tables(doc, tmp_path):
    md = render(doc, tmp_path).read_text()
    assert md.startswith("# Release gate report: PASS")
    assert "| tiny-vlm-w8a8 (cpu) | w8a8-int8 | 52 | PASS |" in md  # checkpoint conformance
    assert "| embedded-vqa | vqa_match | 0.6083 | 0.6083 | 100.00% | 100.00% – 100.00% (95%) | 0.90 |" in md
    assert "| embedded-arith | lm-eval | 0.4667 | 0.3208 | 68.75% |" in md
    assert "| tiny-vlm-w8a8 | 1 | 1.04 | 0.478 |" in md  # average cost reduction, then latency
    assert "visual_reasoning 0.998 (PASS)" in md
    assert "| agreement | tiny-vlm-w8a8 (cpu) | token agreement 0.933 (>= 0.8) | PASS |" in md
    assert "| tiny-vlm-w8a8 | build: base tiny-vlm-bf16, recipe fixtures/recipes/w8a8_gptq_pixtral.yaml |" in md
    assert (tmp_path / "recovery.png").stat().st_size > 10_000


def test_a_schema_1_results_file_is_still_read_and_rendered(tmp_path):
    old = load_results(DATA.with_name("smoke_cpu_v1.json"))
    assert old["schema_version"] == 2 and old["upgraded_from"] == 1
    md = render(old, tmp_path).read_text()
    assert "| embedded-vqa | vqa_match | 0.6833 | 0.6875 | 100.61% |" in md


def test_the_cards_published_figures_are_shown_beside_the_measured_ones(doc, tmp_path):
    from fixtures.results import verdict_rows
    vqa = next(t for t in doc["tests"] if (t["case"] or {}).get("task") == "embedded-vqa")
    vqa["properties"]["published"] = {"baseline_score": 0.7903, "candidate_score": 0.7912, "recovery": 1.0011,
                                      "source": "card"}
    md = render(doc, tmp_path).read_text()
    assert "| 0.7903 / 0.7912 = 100.11% (card) | PASS |" in md
    row = next(r for r in verdict_rows(doc["tests"]) if r[1] == "accuracy embedded-vqa")
    assert row[2] == "recovery 1.000 [1.000, 1.000]" and row[4] == "recovery 1.001 (card)"


def test_the_cards_performance_cells_are_rows_under_the_measured_ones(doc):
    from fixtures.harness.report import multi_stream_section
    from fixtures.results import verdict_rows
    sweep = next(t for t in doc["tests"] if "candidate_sweep" in t["properties"])
    sweep["properties"]["published"] = {
        "baseline_max_qps": 1.0, "candidate_max_qps": 1.7, "baseline_qpd": 284, "candidate_qpd": 467, "source": "card",
        "cost_reduction": 467 / 284, "average": {"average_cost_reduction": 1.61, "source": "card",
                                                 "disagrees": "the card's own QPD cells average 1.66"}}
    lines = multi_stream_section(doc)
    assert "| card: tiny-vlm-bf16 | |  | 1 | 284 |" in lines
    assert "| card: tiny-vlm-w8a8 | | 1.61 (the card's own QPD cells average 1.66) | 1.7 | 467 |" in lines
    row = next(r for r in verdict_rows(doc["tests"]) if r[1].startswith("multi-stream"))
    assert row[4] == "cost reduction 1.644 (card)"


def test_accuracy_tables_say_how_fast_each_model_was_evaluated_beside_the_estimate(doc):
    from fixtures.harness.report import accuracy_section
    vqa = next(t for t in doc["tests"] if (t["case"] or {}).get("task") == "embedded-vqa")
    vqa["properties"]["eval_throughput"] = {
        "tiny-vlm-w8a8": {"requests": 240, "concurrency": 8, "wall_s": 3.6, "requests_per_s": 66.28,
                          "concurrency_efficiency": 0.799, "gpus": 0}}
    lines = accuracy_section(doc, {})
    assert "| embedded-vqa | tiny-vlm-w8a8 | 240 | 8, 80% of N/C | 66.28 | 3.6 | 0 | — | — |" in lines
    vqa["case"]["task"] = "docvqa"  # a task with a measured rate: the estimate's, and measured over it
    vqa["properties"]["eval_throughput"]["tiny-vlm-w8a8"] |= {"gpus": 2, "wall_s": 3600.0, "requests_per_s": 1.5}
    level = {"task": "docvqa", "model": "m", "hardware": "h", "devices": "1 x H200", "concurrency": 8,
             "max_tokens": 10, "requests_per_s": 1.2, "file": "r/eval-rates.jsonl"}
    row = next(line for line in accuracy_section(doc, {"docvqa": [level]}) if line.startswith("| docvqa | tiny"))
    assert "| 1.50 | 3600.0 | 2 | 2.000 | measured / estimate 1.25: 1.200 rows/s (r/eval-rates.jsonl: m on 1 x H200" in row


def test_guidellm_restarts_are_listed_under_their_profile(doc):
    from fixtures.harness.report import single_stream_section
    assert not any("GuideLLM restarts" in line for line in single_stream_section(doc))
    run = next(t for t in doc["tests"] if "candidate_figures" in t["properties"])
    why = "GuideLLM was ended: its log (x.stalled-1.log) did not grow for 180 s"
    run["properties"]["baseline_guidellm_restarts"] = [why]
    lines = single_stream_section(doc)
    entry = f"- {run['case']['profile']}, baseline: {why}"
    assert entry in lines and lines[lines.index(entry) - 1].startswith("GuideLLM restarts")


def test_verdict_passes_only_when_every_selected_check_was_decided_and_held():
    passed = {"nodeid": "a::test_x", "outcome": "passed"}
    failed = {"nodeid": "a::test_y[cpu-m]", "outcome": "failed"}
    skipped = {"nodeid": "a::test_z", "outcome": "skipped"}
    errored = {"nodeid": "a::test_e", "outcome": "error"}
    assert verdict([passed], ["a::test_x"]) == {"verdict": "PASS", "reason": "all 1 selected checks passed",
                                                "passed": 1, "failed": 0, "skipped": 0, "error": 0, "selected": 1}
    fail = verdict([passed, failed, skipped], ["a::test_x", "a::test_y[cpu-m]", "a::test_z"])
    assert (fail["verdict"], fail["reason"]) == ("FAIL", "1 check(s) failed: test_y[cpu-m]")
    incomplete = verdict([passed, skipped, errored], ["a::test_x", "a::test_z", "a::test_e", "a::test_never"])
    assert incomplete["verdict"] == "INCOMPLETE"
    assert incomplete["reason"] == ("3 of 4 selected check(s) not decided: test_z (skipped), test_e (errored in "
                                    "set-up), test_never (not run)")
    assert incomplete["undecided"] == ["a::test_z", "a::test_e", "a::test_never"]
    assert verdict([], [])["verdict"] == "INCOMPLETE"
    # a check that passed and then failed its teardown (as record_of writes it: "error") is not decided
    assert verdict([passed, {**passed, "outcome": "error"}], ["a::test_x"])["verdict"] == "INCOMPLETE"


def test_a_merge_judges_every_shards_selection():
    shard = lambda checks, tests: {"schema_version": 2, "thresholds": {"sha256": "s"}, "started": "1", "tests": tests,
                                   "finished": "2", "complete": True, "command": [], "selection": {"checks": checks}}
    ran = shard(["a::x"], [{"nodeid": "a::x", "outcome": "passed"}])
    never_ran = shard(["a::y"], [])
    merged = merge_results([ran, never_ran], ["1.json", "2.json"])
    assert merged["verdict"]["verdict"] == "INCOMPLETE" and merged["verdict"]["undecided"] == ["a::y"]
    # a failed call and its teardown error stay one failure; a file without a selection adds what it ran
    failed = shard(["a::z"], [{"nodeid": "a::z", "outcome": "failed"}, {"nodeid": "a::z", "outcome": "error"}])
    v1 = {**shard([], [{"nodeid": "a::w", "outcome": "skipped"}]), "selection": None}
    merged = merge_results([ran, failed, v1], ["1.json", "3.json", "4.json"])
    assert merged["verdict"]["verdict"] == "FAIL" and merged["selection"]["checks"] == ["a::x", "a::z", "a::w"]


def test_an_interrupted_run_keeps_what_it_measured(tmp_path):
    path = tmp_path / "results.json"
    results = ResultsFile(path, {"environment": {}})
    results.add_test({"nodeid": "a::test_x", "outcome": "passed"})
    assert json.loads(path.read_text())["tests"] == [{"nodeid": "a::test_x", "outcome": "passed"}]
    results.finish(2, interrupted=True)
    saved = json.loads(path.read_text())
    assert saved["complete"] is False
    assert saved["verdict"]["verdict"] == "INCOMPLETE"
    assert saved["verdict"]["reason"].startswith("the run was interrupted")


@pytest.mark.parametrize("mutate, message", [
    (lambda text: text[: len(text) // 2], "not a complete JSON document (truncated?)"),
    (lambda text: text.replace('"schema_version": 2', '"schema_version": 0'),
     "schema_version 0 is not supported; this version reads schema_version 2 (and 1)"),
    (lambda text: "[1, 2]", "not a gate results file (no schema_version)"),
    (lambda text: text.replace('"verdict": {', '"verdikt": {'), "schema_version 2: missing key 'verdict'"),
])
def test_damaged_or_foreign_results_files_are_refused_by_name(tmp_path, mutate, message):
    bad = tmp_path / "bad.json"
    bad.write_text(mutate(DATA.read_text()))
    with pytest.raises(ResultsError) as exc:
        load_results(bad)
    assert str(exc.value).startswith(f"{bad}: ")
    assert message in str(exc.value)


def test_compare_lists_what_regressed(doc):
    assert compare(doc, doc, "old", "new") == []
    new = copy.deepcopy(doc)
    for t in new["tests"]:
        if t["case"].get("task") == "embedded-chart":
            t["properties"]["recovery"] = 0.90
            t["outcome"] = "failed"
        if "latency_ratio" in t["properties"]:
            t["properties"]["latency_ratio"] *= 1.5
    lines = compare(doc, new, "old", "new")
    assert any("embedded-chart" in line and "passed -> failed" in line for line in lines)
    assert any("recovery 0.9000 below the old interval's lower bound 0.9667" in line for line in lines)
    assert sum("latency ratio" in line for line in lines) == 3


def test_compare_refuses_runs_of_different_models(doc):
    other = copy.deepcopy(doc)
    for t in other["tests"]:
        if t["case"].get("candidate") == "smollm2-w8a8":
            t["case"]["candidate"] = "smollm2-w4a16"
    with pytest.raises(ResultsError, match="old and new test different models"):
        compare(doc, other, "old", "new")


def test_report_command_names_a_bad_file(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text('{"schema_version": 7}')
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "report.py"), str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"report: {bad}: schema_version 7 is not supported" in proc.stderr


def test_runs_split_over_several_commands_merge_into_one(doc):
    first, second = copy.deepcopy(doc), copy.deepcopy(doc)
    first["tests"] = [t for t in doc["tests"] if t["suite"] == "accuracy"]
    second["tests"] = [t for t in doc["tests"] if t["suite"] != "accuracy"]
    merged = merge_results([first, second], ["a.json", "b.json"])
    assert len(merged["tests"]) == len(doc["tests"])
    assert merged["verdict"]["verdict"] == "PASS"
    assert [m["file"] for m in merged["merged_from"]] == ["a.json", "b.json"]
    second["thresholds"] = {"sha256": "other"}
    with pytest.raises(ResultsError, match="b.json: ran with another thresholds file than a.json"):
        merge_results([first, second], ["a.json", "b.json"])
