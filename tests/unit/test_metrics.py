"""The scoring functions against mistral-evals' own scores, and hand-made cases."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.harness.accuracy.metrics import METRICS, MetricError, final_answer, score

CASES = Path(__file__).parents[1] / "data" / "metrics" / "mistral_evals_cases.jsonl"


def load_cases():
    return [json.loads(line) for line in CASES.read_text().splitlines()]


def test_every_mistral_evals_case_scores_the_same():
    """Cases scored by mistral-evals' metrics.py itself (the file records its scores)."""
    cases = load_cases()
    assert {c["metric"] for c in cases} == set(METRICS)
    wrong = [c for c in cases if score(c["metric"], c["prediction"], c["references"]) != pytest.approx(c["score"])]
    assert wrong == [], f"{len(wrong)} of {len(cases)} differ, e.g. {wrong[:3]}"


@pytest.mark.parametrize("metric, prediction, references, expected", [
    ("vqa_match", "2", ["2"] * 10, 1.0),
    ("vqa_match", "2", ["2", "two", "2"], 2 / 3),
    ("vqa_match", "Red", ["red"] * 10, 0.0),  # case-sensitive, as mistral-evals
    ("vqa_match", '"red"', ["red"] * 3, 1.0),  # one pair of quotes stripped
    ("anls", "Invoice.", ["invoice"], 1.0),  # case and trailing punctuation ignored
    ("anls", "inv0ice", ["invoice"], 1 - 1 / 7),
    ("anls", "xyz", ["invoice"], 0.0),
    ("anls", "abcdefghij", ["abcdexxxxx"], 0.5),  # no 0.5 cut-off by default
    ("anls", "12%", ["12%"], 1.0),  # a trailing % is kept
    ("relaxed_correctness", "1,000", ["1020"], 1.0),  # thousands separator, within 5%
    ("relaxed_correctness", "1,100", ["1000"], 0.0),
    ("relaxed_correctness", "10%", ["0.1"], 1.0),  # percent-aware
    ("relaxed_correctness", "$5", ["5"], 1.0),
    ("relaxed_correctness", "b) second", ["B"], 1.0),  # letter option: first letter
    ("explicit_prompt_relaxed_correctness", "**Final Answer:** C", ["C"], 1.0),  # markdown bold
    ("explicit_prompt_relaxed_correctness", "So the answer is C", ["C"], 0.0),  # no "answer:": parse failure
    ("explicit_prompt_relaxed_correctness", "Final Answer: (B)", ["B"], 1.0),
    ("explicit_prompt_relaxed_correctness", "answer: A\nanswer: D", ["D"], 1.0),  # the last one counts
    ("anywhere_in_answer_relaxed_correctness", "The total is 1,000 units", ["1000"], 1.0),
    ("anywhere_in_answer_relaxed_correctness", "it was paris.", ["Paris"], 1.0),
    # mistral-evals compares lower-cased patterns against the raw text: kept for compatibility.
    ("anywhere_in_answer_relaxed_correctness", "It was Paris.", ["Paris"], 0.0),
    ("anywhere_in_answer_relaxed_correctness", "Paris", ["Paris"], 0.0),  # too generous only in its patterns
])
def test_hand_made_cases(metric, prediction, references, expected):
    assert score(metric, prediction, references) == pytest.approx(expected)


def test_final_answer_extraction_variants():
    assert final_answer("reasoning...\nFinal Answer: 42") == "42"
    assert final_answer("Final Answer:\n\n  12%  \n") == "12%"
    assert final_answer("Final Answer: [B] because") == "B because"
    assert final_answer("no marker") == ""


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_no_references_is_a_clear_error_not_a_crash(metric):
    with pytest.raises(MetricError, match="no reference answers"):
        score(metric, "anything", [])


def test_unknown_metric_is_named():
    with pytest.raises(MetricError, match="unknown metric 'bleu'"):
        score("bleu", "a", ["a"])
