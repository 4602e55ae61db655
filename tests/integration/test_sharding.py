"""`--shard K/N` on real gate runs: every selected check runs once over the shards, no deployment starts in two,
and the merge of the shards' results gives the unsharded verdict (and INCOMPLETE without one of them)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.harness.envs import cache_root
from fixtures.harness.models import ModelStore
from fixtures.harness.thresholds import load_thresholds

from .conftest import REPO, embedded_gate_yaml

pytestmark = pytest.mark.server

# Two gates with no model in common (the second serves the same checkpoints under other names): two groups.
GATES = ("      - candidate: w8a8\n        baseline: bf16\n"
         "      - candidate: w8a8-b\n        baseline: bf16-b\n")


@pytest.fixture(scope="module")
def thresholds(tmp_path_factory) -> Path:
    store = ModelStore(load_thresholds(REPO / "thresholds.yaml"), REPO, cache_root())
    bf16, w8a8 = store.resolve("tiny-vlm-bf16").path, store.resolve("tiny-vlm-w8a8").path
    models = {"bf16": (bf16, "bf16"), "w8a8": (w8a8, "w8a8-int8"), "bf16-b": (bf16, "bf16"),
              "w8a8-b": (w8a8, "w8a8-int8")}
    path = tmp_path_factory.mktemp("sharding") / "thresholds.yaml"
    path.write_text(embedded_gate_yaml(models, GATES))
    return path


def _gate(thresholds: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "smoke", "--thresholds", str(thresholds),
         "--artifacts-dir", str(out), "-k", "conformance or serving", *args],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "GATE_CACHE_DIR": str(cache_root())})


def _collected(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def _served(logs: Path) -> list[str]:
    """The --served-model-name of every vLLM server a run started, once per start."""
    names = []
    for log in sorted(logs.glob("vllm-*.log")):
        names += re.findall(r"^\[gate\] \$ .*--served-model-name (\S+)", log.read_text(), re.M)
    return names


def test_shards_run_each_check_once_and_merge_to_the_unsharded_verdict(thresholds, tmp_path):
    whole = _collected(_gate(thresholds, tmp_path / "all", "--collect-only", "-q"))
    parts = [_collected(_gate(thresholds, tmp_path / f"c{k}", "--collect-only", "-q", f"--shard={k}/2"))
             for k in (1, 2)]
    assert len(whole) == 8 and sorted(parts[0] + parts[1]) == sorted(whole) and all(parts), parts
    refused = _gate(thresholds, tmp_path / "c3", "--collect-only", "-q", "--shard=3/3")
    assert refused.returncode != 0 and "2 server group(s)" in refused.stderr + refused.stdout

    runs = {k: _gate(thresholds, tmp_path / f"s{k}", f"--shard={k}/2") for k in (1, 2)}
    for k, proc in runs.items():
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert f"shard {k}/2: this verdict covers the shard's 4 check(s) only" in proc.stdout
    docs = {k: json.loads((tmp_path / f"s{k}" / "results.json").read_text()) for k in (1, 2)}
    ran = [t["nodeid"] for k in (1, 2) for t in docs[k]["tests"]]
    assert len(ran) == len(set(ran)) == 8  # every check ran, in one shard only
    served = {k: _served(tmp_path / f"s{k}" / "main" / "logs") for k in (1, 2)}
    assert sorted(served[1] + served[2]) == ["bf16", "bf16-b", "w8a8", "w8a8-b"], served  # each started once
    assert not set(served[1]) & set(served[2])
    shard = docs[1]["selection"]["shard"]
    assert (shard["index"], shard["count"]) == (1, 2) and shard == {**docs[2]["selection"]["shard"], "index": 1}

    report = [sys.executable, "tools/report.py", "--require-pass"]
    merged = subprocess.run([*report, str(tmp_path / "s1" / "results.json"), str(tmp_path / "s2" / "results.json"),
                             "--out", str(tmp_path / "merged")], cwd=REPO, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    verdict = json.loads((tmp_path / "merged" / "results.json").read_text())["verdict"]
    assert (verdict["verdict"], verdict["selected"], verdict["passed"]) == ("PASS", 8, 8)
    alone = subprocess.run([*report, str(tmp_path / "s1" / "results.json"), "--out", str(tmp_path / "alone")],
                           cwd=REPO, capture_output=True, text=True)  # one shard alone is a merge missing one
    assert alone.returncode == 1 and "verdict INCOMPLETE: shard 2/2 missing" in alone.stderr, alone.stderr
    assert docs[1]["selection"]["narrowed"] == {"-k": "conformance or serving"}  # a shard is not a narrowing
