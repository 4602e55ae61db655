"""The gate matrix over N shards: the split (whole server groups, balanced by cost) and the merge's refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.harness.cases import expected_checks
from fixtures.harness.results import ResultsError, merge_results
from fixtures.harness.shards import Shard, ShardError, partition, server_groups, shard_record
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[2]


def test_shard_values_are_k_of_n():
    assert Shard.parse("2/3") == Shard(2, 3) and str(Shard.parse(" 1 / 1 ")) == "1/1"
    for bad in ("0/2", "3/2", "2", "a/b", "1/0", ""):
        with pytest.raises(ShardError, match="--shard"):
            Shard.parse(bad)


def _groups(marker: str) -> dict[str, str]:
    cfg = load_thresholds(REPO / "thresholds.yaml")
    checks = expected_checks(cfg, lambda m: m == marker)
    return server_groups(cfg, {n: case for n, (_, case) in checks.items()})


def test_gates_that_share_a_model_form_one_group():
    # smoke: two gates with no model in common; a100: W8A8 and W4A16 share the bf16 baseline
    assert set(_groups("smoke").values()) == {"cpu/tiny-vlm-bf16", "cpu/smollm2-bf16"}
    assert set(_groups("a100").values()) == {"a100/pixtral-large-bf16"}
    assert len(_groups("a100")) > 10


def test_groups_are_balanced_costliest_first():
    groups = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "d1": "D"}
    cost = {"a1": 50, "a2": 50, "b1": 70, "c1": 40, "d1": 30}.__getitem__
    # A (100) -> 1, B (70) -> 2, C (40) -> 2 (110), D (30) -> 1 (130)
    assert partition(groups, cost, 2) == {"a1": 1, "a2": 1, "b1": 2, "c1": 2, "d1": 1}
    # equal costs: groups in their declared order, round the shards
    assert partition(groups, lambda n: 1.0, 3) == {"a1": 1, "a2": 1, "b1": 2, "c1": 3, "d1": 2}


def _shard_doc(index: int, count: int, tests: list[dict], started: str = "2026-12-01T10:00:00+00:00",
               partition_: dict | None = None, revision: str = "r1") -> dict:
    assigned = partition_ or {"s::a[x]": 1, "s::b[x]": 1, "s::c[y]": 2}
    shard = shard_record(Shard(index, count), assigned, "60 s a check")
    return {"schema_version": 2, "thresholds": {"sha256": "t"}, "started": started, "finished": started,
            "complete": True, "command": ["-m", "smoke", f"--shard={index}/{count}"],
            "environment": {"host": "h", "git": {"revision": revision}}, "tests": tests, "verdict": {},
            "selection": {"checks": [n for n, k in assigned.items() if k == index], "shard": shard}}


PASSED = lambda nodeid: {"nodeid": nodeid, "outcome": "passed"}  # noqa: E731


def test_the_merge_of_every_shard_judges_the_whole_selection():
    one = _shard_doc(1, 2, [PASSED("s::a[x]"), PASSED("s::b[x]")])
    two = _shard_doc(2, 2, [PASSED("s::c[y]")])
    merged = merge_results([two, one], ["2.json", "1.json"])
    assert merged["verdict"]["verdict"] == "PASS" and merged["verdict"]["selected"] == 3
    assert merged["shards"] == {"count": 2, "missing": [], "notes": []}


def test_a_missing_shard_leaves_the_merge_incomplete():
    one = _shard_doc(1, 2, [PASSED("s::a[x]"), PASSED("s::b[x]")])
    merged = merge_results([one], ["1.json"])
    assert merged["verdict"]["verdict"] == "INCOMPLETE"
    assert merged["verdict"]["reason"].startswith("shard 2/2 missing; 1 of 3 selected check(s) not decided: c[y]")
    assert merged["shards"]["missing"] == [2]


def test_the_merge_refuses_shards_of_another_split_or_revision():
    one = _shard_doc(1, 2, [PASSED("s::a[x]"), PASSED("s::b[x]")])
    with pytest.raises(ResultsError, match="2.json: ran revision r2, 1.json ran r1"):
        merge_results([one, _shard_doc(2, 2, [], revision="r2")], ["1.json", "2.json"])
    with pytest.raises(ResultsError, match="2.json: another selection than 1.json"):
        merge_results([one, _shard_doc(2, 2, [], partition_={"s::a[x]": 1, "s::c[y]": 2})], ["1.json", "2.json"])
    with pytest.raises(ResultsError, match="another partition"):
        merge_results([one, _shard_doc(2, 2, [], partition_={"s::a[x]": 1, "s::b[x]": 2, "s::c[y]": 2})],
                      ["1.json", "2.json"])
    with pytest.raises(ResultsError, match="another number of shards"):
        merge_results([one, _shard_doc(2, 3, [])], ["1.json", "2.json"])
    unsharded = {**one, "selection": {"checks": ["s::a[x]"]}}
    with pytest.raises(ResultsError, match="plain.json: not a shard"):
        merge_results([one, unsharded], ["1.json", "plain.json"])


def test_a_resumed_shard_is_told_from_a_duplicate():
    interrupted = {**_shard_doc(1, 2, [PASSED("s::a[x]"), {"nodeid": "s::b[x]", "outcome": "failed"}]),
                   "complete": False}
    rerun = _shard_doc(1, 2, [PASSED("s::b[x]")], started="2026-12-01T11:00:00+00:00")
    two = _shard_doc(2, 2, [PASSED("s::c[y]")])
    # given latest first: the later run still wins for the check it ran again; the earlier keeps the one it alone ran
    merged = merge_results([rerun, two, interrupted, two], ["1b.json", "2.json", "1a.json", "2-copy.json"])
    assert merged["verdict"]["verdict"] == "PASS", merged["verdict"]
    assert merged["shards"]["notes"] == [
        "shard 1/2: resumed: 1a.json, 1b.json are runs of it, earliest first; took each check from the latest run "
        "that recorded it",
        "shard 2/2: 2-copy.json and 2.json are copies of the same run (a duplicate); took 2.json, the fuller"]
    assert [m["file"] for m in merged["merged_from"]] == ["1a.json", "2.json", "1b.json"]
    # a copy saved mid-run loses to the finished one, whichever comes first
    partial = {**two, "finished": None, "tests": []}
    one = _shard_doc(1, 2, [PASSED("s::a[x]"), PASSED("s::b[x]")])
    merged = merge_results([one, partial, two], ["1.json", "2-early.json", "2.json"])
    assert merged["verdict"]["verdict"] == "PASS" and "took 2.json, the fuller" in merged["shards"]["notes"][0]
