"""A load run that hangs, on a real vLLM server and real GuideLLM: ended, its stacks kept, started again."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from fixtures.harness.performance.guidellm import guidellm_command, run_guidellm

from fixtures.harness.pool import Endpoint
from fixtures.harness.server import ServerSpec, VLLMServer
from fixtures.harness.thresholds import LoadSettings, UseCaseProfile

from .conftest import SERVER_ARGS, SERVER_ENV

pytestmark = pytest.mark.server

PROFILE = UseCaseProfile(width=96, height=64, prompt_tokens=8, output_tokens=8)
SETTINGS = LoadSettings(single_stream_requests=10, warmup_requests=0, max_seconds=120, stall_seconds=30)


def _freeze_engine_until(server: VLLMServer, released: threading.Event, stalled_log) -> None:
    """SIGSTOP the engine (the API server keeps answering /v1/models), so every generation request
    hangs; SIGCONT it once the watchdog has kept the stalled log, or when released."""
    engine = [pid for pid in server.pids if pid != server.process.pid]
    for pid in engine:
        os.kill(pid, signal.SIGSTOP)
    try:
        while not stalled_log.exists() and not released.is_set():
            time.sleep(0.1)
    finally:
        for pid in engine:
            os.kill(pid, signal.SIGCONT)


def test_a_hung_guidellm_run_is_ended_with_its_stacks_and_restarted(tiny_vlm_dir, server_python, tmp_path):
    spec = ServerSpec(str(tiny_vlm_dir), "tiny-bf16", server_python, SERVER_ARGS, SERVER_ENV, start_deadline_s=300)
    server = VLLMServer(spec, tmp_path / "vllm.log").start()
    released = threading.Event()
    try:
        endpoint = Endpoint(server.base_url, "tiny-bf16", server=server)
        log, out_json = tmp_path / "load" / "probe.log", tmp_path / "load" / "probe.json"
        cmd = guidellm_command(endpoint.base_url, endpoint.model, str(tiny_vlm_dir), "probe", PROFILE,
                               "synchronous", SETTINGS, out_json, tmp_path / "data")
        freezer = threading.Thread(target=_freeze_engine_until,
                                   args=(server, released, tmp_path / "load" / "probe.stalled-1.log"))
        freezer.start()
        run = run_guidellm(cmd, "probe", out_json, log, SETTINGS, sweep=False, server_problem=endpoint.problem)
    finally:
        released.set()
        server.stop()
    assert len(run.restarts) == 1 and "did not grow for 30 s" in run.restarts[0]
    stalled = (tmp_path / "load" / "probe.stalled-1.log").read_text()
    assert "SIGABRT to each process of the group" in stalled
    assert "most recent call first" in stalled and "guidellm" in stalled  # where GuideLLM waited
    fig = run.figures[0]
    # No warm-up here: GuideLLM reads it as seconds, which on a run this fast would take every request.
    assert fig.errored == 0 and fig.completed == SETTINGS.single_stream_requests
