"""Failures lead with their cause: a dead server or a refused key first, the client's own error after it;
and a model's figures survive another model's failure."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from fixtures.accuracy_runs import EvalRuns
from fixtures.harness.faults import EndpointFault, exit_description
from fixtures.harness.performance.guidellm import LoadTestError, guidellm_command, key_scenario, run_guidellm
from fixtures.harness.pool import Endpoint
from fixtures.harness.server import ServerSpec, VLLMServer
from fixtures.harness.thresholds import LoadSettings, UseCaseProfile


def test_a_signal_is_named():
    assert exit_description(-9) == "killed by SIGKILL (exit code -9)"
    assert exit_description(1) == "exit code 1"


def test_a_dead_server_is_named_with_its_model_deployment_signal_and_log(tmp_path):
    log = tmp_path / "vllm.log"
    log.write_text("INFO engine ready\nINFO 200 OK\n")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server = VLLMServer(ServerSpec("/m", "tiny-vlm-bf16", sys.executable), log, port=1, process=proc)
    endpoint = Endpoint("http://127.0.0.1:1", "tiny-vlm-bf16", None, server, "cpu/multi_stream")
    fault = endpoint.fault("GuideLLM failed (exit 1)")
    assert str(fault).startswith("the vLLM server of tiny-vlm-bf16 (cpu/multi_stream) died: killed by SIGKILL")
    assert "INFO 200 OK" in str(fault) and str(fault).endswith("-- then: GuideLLM failed (exit 1)")


def test_an_endpoint_that_stopped_answering_is_named_by_its_url():
    endpoint = Endpoint("http://127.0.0.1:9", "m")  # the discard port: nothing listens
    assert endpoint.problem(timeout_s=2).startswith("the endpoint http://127.0.0.1:9 did not answer at ")


def test_guidellm_failure_leads_with_the_server_and_keeps_its_traceback(tmp_path):
    script = tmp_path / "guidellm.py"
    script.write_text(textwrap.dedent("""
        print("Traceback (most recent call last):")
        print("httpx.ConnectError: All connection attempts failed")
        raise SystemExit(1)
    """))
    with pytest.raises(LoadTestError) as info:
        run_guidellm([sys.executable, str(script)], "captioning", tmp_path / "o.json", tmp_path / "o.log",
                     LoadSettings(), sweep=True, server_problem=lambda: "the vLLM server of m (cpu/multi_stream) died")
    msg = str(info.value)
    assert msg.startswith("the vLLM server of m (cpu/multi_stream) died\n-- then: profile 'captioning': GuideLLM")
    assert "httpx.ConnectError" in msg


def test_the_key_reaches_guidellm_through_a_scenario_file_never_argv(tmp_path):
    scenario = tmp_path / "s.json"
    cmd = guidellm_command("http://h:1", "m", "/tok", "cap", UseCaseProfile(width=64, height=48, prompt_tokens=0,
                           output_tokens=8), "synchronous", LoadSettings(), tmp_path / "o.json", tmp_path, scenario)
    assert cmd[cmd.index("--scenario") + 1] == str(scenario)
    assert key_scenario("sk-1")["spec"]["backend"] == {"kind": "openai_http", "api_key": "sk-1"}
    assert not [a for a in cmd if "api_key" in a]


class _Endpoint:
    def __init__(self, problem=None):
        self._problem = problem

    def fault(self, failure):
        return None if self._problem is None else EndpointFault(f"{self._problem}\n-- then: {failure}")


def _runs(evaluate, problems=None, incomplete=lambda r: None):
    problems = problems or {}
    cfg = type("Cfg", (), {"hardware": {"cpu": type("Hw", (), {"deployments": {
        m: {"single_stream": None} for m in ("cand", "base")}})()}})()
    return EvalRuns(evaluate, lambda hw, m, mode: _Endpoint(problems.get(m)), cfg, None, 2, incomplete)


def test_the_survivor_is_kept_and_the_failure_leads_with_its_server():
    def evaluate(hardware, model, task, limit, endpoint):
        if model == "cand":
            raise RuntimeError("Connection refused")
        return [("row-1", 1.0)]
    kept = {}
    runs = _runs(evaluate, problems={"cand": "the vLLM server of cand (cpu/single_stream) died: killed by SIGKILL"})
    with pytest.raises(EndpointFault) as info:
        runs.side_by_side("cpu", ["cand", "base"], "vqa", None, lambda m, r: kept.update({m: r}))
    assert str(info.value).startswith("the vLLM server of cand (cpu/single_stream) died: killed by SIGKILL")
    assert "vqa on cand failed: Connection refused" in str(info.value)
    assert kept == {"base": [("row-1", 1.0)]}


def test_failed_rows_from_a_dead_server_fail_the_eval_with_that_cause():
    runs = _runs(lambda *a: ["row failed"], problems={"base": "the endpoint http://h did not answer at 12:00:00"},
                 incomplete=lambda result: "1 of 1 samples failed (request failed: ConnectionError)")
    with pytest.raises(EndpointFault, match=r"^the endpoint http://h did not answer"):
        runs.side_by_side("cpu", ["cand", "base"], "vqa", None)
    # The same failed rows from a live server are the eval's own result, judged by the test.
    assert _runs(lambda *a: ["row failed"], incomplete=lambda r: "1 failed").side_by_side(
        "cpu", ["cand"], "vqa", None) == [["row failed"]]


def _items(n: int):
    from PIL import Image

    from fixtures.harness.accuracy.chat_eval import VisionItem
    return [VisionItem.single(f"row-{i}", Image.new("RGB", (8, 8)), "what?", ["a"], 4) for i in range(n)]


def test_an_eval_whose_server_is_gone_stops_at_its_first_failed_request():
    from fixtures.harness.accuracy.chat_eval import run_task
    asked = []

    def problem():
        asked.append(1)
        return "the vLLM server of m (cpu/single_stream) died: killed by SIGKILL (exit code -9)"
    with pytest.raises(EndpointFault) as info:  # nothing listens on the discard port
        run_task("vqa", ["vqa_match"], _items(40), "http://127.0.0.1:9", "m", concurrency=2, retries=0,
                 server_problem=problem)
    assert str(info.value).startswith("the vLLM server of m (cpu/single_stream) died")
    assert "-- then: vqa on m: request failed: ConnectionError" in str(info.value)
    assert len(asked) <= 2  # the rows not yet asked were not


def test_a_401_stops_the_eval_at_once_and_says_the_key_was_missing():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from fixtures.harness.accuracy.chat_eval import run_task
    from fixtures.harness.credentials import KeyRefused

    class Refuses(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(KeyRefused, match=f"^{url}/v1/chat/completions answered 401: it requires an API key"):
            run_task("vqa", ["vqa_match"], _items(4), url, "m", concurrency=1)
    finally:
        httpd.shutdown()
