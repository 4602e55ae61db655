"""Under `pytest -n 2`, the tests of one xdist group run on one worker.

The gate gives every test of a gate one `xdist_group`, so that gate's servers start
once, on one worker. This needs the gate's `fixtures.xdist_groups` plugin (plain
`-n N` schedules by group) and the runner's pytest pin (xdist 3.8.0 tags groups
through `item._nodeid`, which pytest 9 no longer reads). Runs real pytest with two
real workers on a throwaway test module.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from collections import defaultdict

MODULE = '''
import json, os, pytest

# As the gate's plugin does: the group is a mark on each parameter set.
CASES = [pytest.param(g, n, marks=pytest.mark.xdist_group(g), id=f"{g}-{n}")
         for g in ("gate-0-0", "gate-0-1", "gate-1-0") for n in range(4)]

@pytest.mark.parametrize("group, n", CASES)
def test_member(group, n):
    with open(os.environ["RUNS_FILE"], "a") as f:
        f.write(json.dumps([group, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
'''


def test_each_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_groups.py").write_text(MODULE)
    runs = tmp_path / "runs.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "fixtures.xdist_groups",
                           "-n", "2", "-q", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"RUNS_FILE": str(runs), "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = defaultdict(set)
    for line in runs.read_text().splitlines():
        group, worker = json.loads(line)
        workers[group].add(worker)
    assert set(workers) == {"gate-0-0", "gate-0-1", "gate-1-0"}
    assert all(len(w) == 1 for w in workers.values()), dict(workers)
    # Two workers both got work: grouping did not collapse to one worker.
    assert len(set().union(*workers.values())) == 2, dict(workers)
