"""A Ray deployment's local cluster on real processes: `ray start --head`, the GPU check, and nothing left after a
failed start or after SIGTERM. vLLM's CPU build has no Ray executor (its platform names no Ray device), so the
SIGTERM case serves through vLLM's own executor beside the head the server started."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from fixtures.harness.ray_cluster import RayLaunch
from fixtures.harness.server import ServerSpec, ServerStartError, VLLMServer

from .conftest import REPO, SERVER_ARGS, SERVER_ENV

pytestmark = pytest.mark.server


def _left_of(log: Path) -> list[str]:
    """Processes still running whose command line names the Ray session directory the head in `log` used."""
    text = log.read_text()
    temp_dir = text.split("--temp-dir=", 1)[1].split()[0]
    left = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if temp_dir in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
            left.append(cmd[:200])
    return left


def _wait_gone(log: Path, timeout_s: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (left := _left_of(log)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_a_cluster_without_the_gpus_fails_the_start_and_leaves_nothing(server_python, tiny_w8a8, tmp_path):
    spec = ServerSpec(str(tiny_w8a8.path), "ray-tiny", server_python, SERVER_ARGS, SERVER_ENV, start_deadline_s=300,
                      ray=RayLaunch(gpus=1, nodes=1))
    log = tmp_path / "vllm.log"
    with pytest.raises(ServerStartError) as exc:
        VLLMServer(spec, log).start()
    assert "ray-tiny needs 1 GPU(s) on 1 node(s); the Ray cluster at 127.0.0.1:" in str(exc.value)
    assert "has 0 GPU(s) on 1 node(s)" in str(exc.value)
    head_log = tmp_path / "vllm-ray-head.log"
    assert "--head" in head_log.read_text() and _wait_gone(head_log) == []
    assert not log.exists() or "vllm.entrypoints" not in log.read_text()  # vLLM itself never started


DRIVER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from fixtures.harness.ray_cluster import RayLaunch
    from fixtures.harness.server import ServerSpec, VLLMServer

    def interrupted(*_):  # as the gate's plugin does: SIGTERM ends the run like Ctrl-C
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    model, python, log = sys.argv[1:4]
    spec = ServerSpec(model, "ray-tiny", python, tuple(sys.argv[4:]), (("VLLM_CPU_KVCACHE_SPACE", "1"),),
                      start_deadline_s=300, ray=RayLaunch(gpus=0, nodes=1))
    server = VLLMServer(spec, Path(log)).start()
    print("ready", server.pids, flush=True)
    time.sleep(900)
""")


def test_sigterm_ends_the_server_and_its_ray_head(server_python, tiny_w8a8, tmp_path):
    log = tmp_path / "vllm.log"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tiny_w8a8.path), server_python, str(log),
                             *SERVER_ARGS], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        first = proc.stdout.readline()
        assert first.startswith("ready"), first + proc.stdout.read()[-3000:]
        head_log = tmp_path / "vllm-ray-head.log"
        running = _left_of(head_log)
        assert any("raylet" in c for c in running) and any("gcs_server" in c for c in running), running
        assert "RAY_ADDRESS=127.0.0.1:" in log.read_text()  # the server was pointed at its head
        vllm = [p.pid for p in psutil.process_iter(["cmdline"])
                if "--served-model-name ray-tiny" in " ".join(p.info["cmdline"] or [])]
        assert vllm
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        assert _wait_gone(head_log) == []
        assert [p for p in vllm if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE] == []
    finally:
        if proc.poll() is None:
            proc.kill()
