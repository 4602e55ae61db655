"""Real vLLM servers on CPU: start, answer, fail clearly, and never outlive the run."""
from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests
from PIL import Image

from fixtures.harness.ports import PortReservation, _try_lock
from fixtures.harness.server import ServerSpec, ServerStartError, VLLMServer

from .conftest import REPO, SERVER_ARGS, SERVER_ENV, gate_env

pytestmark = pytest.mark.server


def image_chat(server: VLLMServer) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (220, 30, 30)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    resp = requests.post(f"{server.base_url}/v1/chat/completions", timeout=120, json={
        "model": server.spec.served_name, "max_tokens": 6, "temperature": 0,
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                  {"type": "text", "text": "what color is the shape"}]}]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def gone(pids: list[int]) -> list[int]:
    """The PIDs of `pids` still running (zombies count as gone)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_healthy_start_answers_an_image_request_and_leaves_nothing(tiny_vlm_dir, server_python, tmp_path):
    spec = ServerSpec(str(tiny_vlm_dir), "tiny-bf16", server_python, SERVER_ARGS, SERVER_ENV, start_deadline_s=300)
    server = VLLMServer(spec, tmp_path / "vllm.log").start()
    try:
        pids = server.pids
        assert len(pids) >= 2, "expected the API server and its engine process"
        body = image_chat(server)
        assert body["usage"]["completion_tokens"] > 0 and body["usage"]["prompt_tokens"] > 16  # image tokens
    finally:
        server.stop()
    assert gone(pids) == []
    assert "[gate] $ " in (tmp_path / "vllm.log").read_text()  # the log is kept as an artifact


def test_bad_model_path_fails_fast_with_the_log_tail(server_python, tmp_path):
    spec = ServerSpec("/nonexistent/model", "broken", server_python, SERVER_ARGS, SERVER_ENV, start_deadline_s=300)
    server = VLLMServer(spec, tmp_path / "vllm.log")
    with pytest.raises(ServerStartError) as info:
        server.start()
    # its exit is seen: the error is not the start deadline's
    assert "exited with code" in str(info.value) and "before it was healthy" in str(info.value)
    assert info.value.log_tail and "/nonexistent/model" in info.value.log_tail
    assert server.pids == []


def test_out_of_memory_at_start_is_a_clear_failure(tiny_vlm_dir, server_python, tmp_path):
    spec = ServerSpec(str(tiny_vlm_dir), "tiny-bf16", server_python, SERVER_ARGS,
                      (("VLLM_CPU_KVCACHE_SPACE", "4096"),), start_deadline_s=300)  # 4 TiB of KV cache
    server = VLLMServer(spec, tmp_path / "vllm.log")
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert "exited with code" in str(info.value)
    assert server.pids == []


def test_port_taken_by_another_program_is_survived_and_w8a8_answers(tiny_w8a8, server_python, tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    chosen = []

    class ClashingServer(VLLMServer):
        def _choose_port(self, avoid):
            # The first pick is a port another program holds, as if it took it after our check.
            if not chosen:
                chosen.append(busy)
                return PortReservation(busy, _try_lock(busy))
            res = super()._choose_port(avoid)
            chosen.append(res.port)
            return res

    spec = ServerSpec(str(tiny_w8a8.path), "tiny-w8a8", server_python, SERVER_ARGS, SERVER_ENV, start_deadline_s=300)
    server = ClashingServer(spec, tmp_path / "vllm.log")
    try:
        server.start()
        assert chosen[0] == busy and server.port != busy
        assert "port %d was taken by another program" % busy in (tmp_path / "vllm.log").read_text()
        assert image_chat(server)["usage"]["completion_tokens"] > 0  # the built W8A8 checkpoint loads and answers
        log = (tmp_path / "vllm.log").read_text().lower()
        assert "compressed-tensors" in log or "compressed_tensors" in log
    finally:
        server.stop()
        blocker.close()


def _vllm_descendants(pid: int) -> list[int]:
    try:
        procs = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    servers = [p for p in procs if "vllm.entrypoints.openai.api_server" in " ".join(p.cmdline())]
    if not servers:
        return []
    out = []
    for s in servers:
        out.append(s.pid)
        out += [c.pid for c in s.children(recursive=True)]
    return out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_pytest_mid_run_leaves_no_server(signum, tiny_gate_file, tiny_w8a8, tmp_path):
    """The gate run is interrupted while its server is up: every vLLM process must end with it."""
    cache = tiny_w8a8.path.parents[1]  # the built candidate is already cached
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "smoke", "--thresholds", str(tiny_gate_file),
         "--artifacts-dir", str(tmp_path / "artifacts"), "suites/serving"],
        cwd=REPO, env=gate_env(cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        pids = _vllm_descendants(proc.pid)
        if len(pids) >= 2:  # the API server and its engine are up
            break
        time.sleep(0.2)
    assert len(pids) >= 2, "the gate never started a vLLM server"
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    deadline = time.monotonic() + 30
    while gone(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gone(pids) == [], f"vLLM processes outlived pytest: {gone(pids)}\n{out[-2000:]}"


def test_gate_run_builds_the_candidate_and_serves_both_models(tiny_gate_file, tiny_w8a8, tmp_path):
    """A whole gate run on the cpu profile: fixtures build the candidate, start both servers, test them."""
    cache = tiny_w8a8.path.parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "smoke", "--thresholds", str(tiny_gate_file),
         "--artifacts-dir", str(tmp_path / "artifacts"), "-v", "suites/serving"],
        cwd=REPO, env=gate_env(cache), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "test_answers_a_chat_request[cpu-tiny-w8a8-single_stream] PASSED" in proc.stdout
    assert "test_answers_a_chat_request[cpu-tiny-bf16-single_stream] PASSED" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "artifacts" / "main" / "logs").iterdir())  # server logs kept
    served = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    assert not [c for c in served if "vllm.entrypoints.openai.api_server" in c and "--served-model-name tiny-" in c]
