"""The watchdog that ends hung child processes, and GuideLLM's restart after a hang."""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from fixtures.harness.performance.guidellm import LoadTestError, run_guidellm

from fixtures.harness.processes import Stopped, run_watched
from fixtures.harness.thresholds import LoadSettings


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_exit_code_is_returned(tmp_path):
    cmd = _script(tmp_path, "print('done'); raise SystemExit(3)")
    assert run_watched(cmd, tmp_path / "log", stall_s=30, timeout_s=60, poll_s=0.05) == 3
    assert (tmp_path / "log").read_text() == "done\n"


def test_a_silent_process_is_ended_with_its_whole_group(tmp_path):
    # The child starts a grandchild (as GuideLLM starts workers), says one line, then hangs.
    cmd = _script(tmp_path, f"""
        import subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(tmp_path / 'worker.pid')!r}, "w").write(str(worker.pid))
        print("started", flush=True)
        time.sleep(600)
    """)
    with pytest.raises(Stopped) as info:
        run_watched(cmd, tmp_path / "log", stall_s=3.0, timeout_s=120, poll_s=0.05)
    assert info.value.why == "stalled"
    assert "did not grow for 3 s" in str(info.value) and str(tmp_path / "log") in str(info.value)
    worker = int((tmp_path / "worker.pid").read_text())
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
    # Where each process hung is in the log: the leader's stack and the worker's.
    log = (tmp_path / "log").read_text()
    assert "[gate] its log" in log and "SIGABRT to each process of the group" in log
    worker_stack, leader_stack = log.split("most recent call first")[1:]
    assert '<string>", line 1 in <module>' in worker_stack  # the worker's `python -c`, dumped first
    assert f'File "{tmp_path / "child.py"}", line 6 in <module>' in leader_stack
    assert not list(tmp_path.glob("core*"))


def test_a_busy_process_that_never_ends_times_out(tmp_path):
    cmd = _script(tmp_path, """
        import time
        while True:
            print("tick", flush=True)
            time.sleep(0.05)
    """)
    with pytest.raises(Stopped) as info:
        run_watched(cmd, tmp_path / "log", stall_s=30, timeout_s=1.0, poll_s=0.05)
    assert info.value.why == "timeout"
    assert "did not finish within 1 s" in str(info.value)


# A stand-in for the load client's process only: it hangs on its first start and, on the
# second, exits without results, so each branch of the restart logic shows in the error.
HANGS_ONCE = """
    import pathlib, time
    marker = pathlib.Path({marker!r})
    if not marker.exists():
        marker.write_text("1")
        print("benchmark 1 started", flush=True)
        time.sleep(600)
    print("second start", flush=True)
"""


def _settings(**kw) -> LoadSettings:
    return LoadSettings(stall_seconds=3, max_seconds=60, **kw)


def test_a_hung_run_is_restarted_once_and_its_log_kept(tmp_path):
    cmd = _script(tmp_path, HANGS_ONCE.format(marker=str(tmp_path / "marker")))
    log = tmp_path / "load" / "captioning.log"
    with pytest.raises(LoadTestError, match="GuideLLM wrote no results"):
        run_guidellm(cmd, "captioning", tmp_path / "load" / "captioning.json", log, _settings(), sweep=False)
    stalled = (tmp_path / "load" / "captioning.stalled-1.log").read_text()
    assert stalled.startswith("benchmark 1 started\n") and "in <module>" in stalled  # with its stack
    assert log.read_text() == "second start\n"


def test_no_restart_when_the_server_is_down(tmp_path):
    cmd = _script(tmp_path, HANGS_ONCE.format(marker=str(tmp_path / "marker")))
    with pytest.raises(LoadTestError) as info:
        run_guidellm(cmd, "captioning", tmp_path / "c.json", tmp_path / "c.log", _settings(), sweep=False,
                     server_problem=lambda: "http://127.0.0.1:1/v1/models: ConnectionError")
    msg = str(info.value)
    assert msg.startswith("http://127.0.0.1:1/v1/models: ConnectionError\n-- then: profile 'captioning': GuideLLM "
                          "was ended") and "did not grow for 3 s" in msg
    assert "benchmark 1 started" in msg  # the log's tail
    assert not (tmp_path / "c.log").exists() and (tmp_path / "c.stalled-1.log").exists()


def test_a_second_hang_fails_with_the_count(tmp_path):
    cmd = _script(tmp_path, "import time; print('benchmark 1 started', flush=True); time.sleep(600)")
    with pytest.raises(LoadTestError, match=r"did not grow for 3 s after 1 restart\(s\)"):
        run_guidellm(cmd, "captioning", tmp_path / "c.json", tmp_path / "c.log", _settings(), sweep=False)
    assert sorted(p.name for p in tmp_path.glob("c.stalled-*.log")) == ["c.stalled-1.log", "c.stalled-2.log"]


def test_restarts_can_be_turned_off(tmp_path):
    cmd = _script(tmp_path, HANGS_ONCE.format(marker=str(tmp_path / "marker")))
    with pytest.raises(LoadTestError, match="did not grow for 3 s; last lines"):
        run_guidellm(cmd, "captioning", tmp_path / "c.json", tmp_path / "c.log", _settings(stall_restarts=0),
                     sweep=False)


def test_a_previous_runs_figures_are_never_read(tmp_path):
    (tmp_path / "c.json").write_text('{"benchmarks": []}')
    cmd = _script(tmp_path, "print('no output written')")
    with pytest.raises(LoadTestError, match="GuideLLM wrote no results"):
        run_guidellm(cmd, "captioning", tmp_path / "c.json", tmp_path / "c.log", _settings(), sweep=False)
    assert os.path.exists(tmp_path / "c.log")
