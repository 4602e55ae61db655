"""On real servers: the API key reaches every client and no secret is written anywhere; a server that dies
or an endpoint that goes away mid-run is named first in the failure, the other model's figures are kept,
and no process outlives the run.

Each test runs the gate (pytest -m smoke) on the embedded tiny VLM and its W8A8 build, with a small
thresholds file of its own: its targets are loose on purpose, since these tests judge the harness, not
the models.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fixtures.harness.envs import cache_root, server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.server import ServerSpec, VLLMServer
from fixtures.harness.thresholds import load_thresholds

from .conftest import EMBEDDED_SERVER_ARGS, embedded_gate_yaml

REPO = Path(__file__).parents[2]
SECRETS = {  # one distinct secret per path a secret can come in by
    "--api-key": "sk-gate-argv-3f9a1c77",
    "GATE_API_KEY": "sk-gate-env-8b2e4d10",
    "HF_TOKEN": "hf_planted_5c6d7e8f9a",
    "DEPLOY_SECRET": "planted-secret-0a1b2c3d",
    "DB_PASSWORD": "planted-password-4e5f6a7b",
}

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def embedded_models():
    store = ModelStore(load_thresholds(REPO / "thresholds.yaml"), REPO, cache_root())
    return store.resolve("tiny-vlm-bf16"), store.resolve("tiny-vlm-w8a8")


def _gate_yaml(bf16: Path, w8a8: Path, gate: str, both_modes: bool = False) -> str:
    load = ("    load: {single_stream_requests: 4, warmup_requests: 1, min_completed: 2, max_client_overhead: 0.5,\n"
            "           sweep_levels: 3, sweep_seconds: 8, sweep_requests: 60, sweep_max_concurrency: 4}\n")
    return embedded_gate_yaml(
        {"bf16": (bf16, "bf16"), "w8a8": (w8a8, "w8a8-int8")}, "      - candidate: w8a8\n        baseline: bf16\n" + gate,
        "{single_stream: {}, multi_stream: {}}" if both_modes else "{single_stream: {}}",
        top="profiles:\n  reasoning: {width: 320, height: 240, prompt_tokens: 16, output_tokens: 16}\n", cpu=load)


EVERY_SUITE = """        accuracy:
          tasks:
            embedded-vqa: {min_recovery: 0.01, limit: 24}
            embedded-mc: {min_recovery: 0.01, limit: 24}
        performance:
          single_stream:
            reasoning: {max_latency_ratio: 100}
        regression:
          min_token_agreement: 0.01"""


def _external_server(model_dir: Path, name: str, log: Path, env: dict[str, str] | None = None) -> VLLMServer:
    spec = ServerSpec(str(model_dir), name, str(server_python()), EMBEDDED_SERVER_ARGS,
                      (("VLLM_CPU_KVCACHE_SPACE", "1"), *sorted((env or {}).items())), start_deadline_s=300)
    return VLLMServer(spec, log).start()


def _gate(tmp_path: Path, yaml_text: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    (tmp_path / "thresholds.yaml").write_text(yaml_text)
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "smoke", "--thresholds",
         str(tmp_path / "thresholds.yaml"), "--artifacts-dir", str(tmp_path / "artifacts"),
         "--junitxml", str(tmp_path / "junit.xml"), *args],
        cwd=REPO, env={**os.environ, "GATE_CACHE_DIR": str(cache_root()), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _served(name: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "vllm.entrypoints.openai.api_server" in cmd and f"--served-model-name {name}" in cmd:
            out.append(p)
    return out


def _wait_for(condition, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"never happened: {condition.__doc__}\n{proc.communicate()[0][-3000:]}")


def _results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "artifacts" / "results.json").read_text())


def _leads_with(message: str, text: str) -> bool:
    """The failure's first words after its exception's name are `text`."""
    return message.split(": ", 1)[-1].startswith(text)


def _test_record(results: dict, nodeid_part: str) -> dict:
    found = [t for t in results["tests"] if nodeid_part in t["nodeid"] and t["outcome"] != "passed"]
    assert found, [(t["nodeid"], t["outcome"]) for t in results["tests"]]
    return found[0]


def test_the_key_reaches_every_client_and_no_secret_is_written(embedded_models, tmp_path):
    bf16, w8a8 = embedded_models
    key = SECRETS["--api-key"]
    server = _external_server(bf16.path, "bf16", tmp_path / "external.log", {"VLLM_API_KEY": key})
    try:
        env = {name: value for name, value in SECRETS.items() if not name.startswith("--")}
        proc = _gate(tmp_path, _gate_yaml(bf16.path, w8a8.path, EVERY_SUITE),
                     f"--server-url=bf16={server.base_url}/v1", f"--api-key={key}", env=env)
        gate_argv = " ".join(psutil.Process(proc.pid).cmdline())
        seen: set[str] = set()
        while proc.poll() is None:  # every process the run starts, while it runs: no secret in argv
            for p in psutil.Process(proc.pid).children(recursive=True):
                try:
                    seen.add(" ".join(p.cmdline()))
                except psutil.Error:
                    pass
            time.sleep(0.5)
        # A child caught between fork and exec (running Popen's preexec_fn) still shows the gate's own
        # command line, which holds the key the user gave it: that is not a child's argv.
        seen.discard(gate_argv)
        out = proc.communicate()[0]
    finally:
        server.stop()
    assert any("guidellm" in c for c in seen) and any("lm_eval" in c for c in seen), sorted(seen)[:20]
    leaked = {name for name, value in SECRETS.items() for c in seen if value in c}
    assert not leaked, f"secrets in a child's command line: {leaked}"
    # Every client reached the keyed endpoint with the key: the vision eval, lm-eval, GuideLLM, the pins
    # and the serving check; none was refused.
    log = (tmp_path / "external.log").read_text()
    assert " 401 " not in log and " 403 " not in log, [line for line in log.splitlines() if " 401 " in line][:3]
    assert '"POST /v1/completions HTTP/1.1" 200' in log  # lm-eval's log-likelihoods
    results = _results(tmp_path)
    tests = {t["nodeid"].split("::")[-1]: t for t in results["tests"]}
    for check in ("test_vision_recovery", "test_text_recovery", "test_single_stream",
                  "test_candidate_agrees_with_baseline", "test_answers_a_chat_request"):
        ran = {n: t["outcome"] for n, t in tests.items() if n.startswith(check)}
        assert ran and set(ran.values()) == {"passed"}, f"{check}: {ran}\n{out[-3000:]}"
    # These models have no pins: the pin test got every answer, and only then found no snapshot to compare.
    pins = [t for n, t in tests.items() if n.startswith("test_greedy_outputs_match_their_pins")]
    assert pins and all("does not exist" in t["message"] for t in pins), [t["message"][:300] for t in pins]
    # No secret in anything the run wrote, nor in what it printed.
    written = [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()] + [tmp_path / "junit.xml"]
    found = {(name, str(p.relative_to(tmp_path))) for p in written for name, value in SECRETS.items()
             if value.encode() in p.read_bytes()}
    assert not found, f"secrets written: {sorted(found)}"
    assert not [name for name, value in SECRETS.items() if value in out]
    assert "--api-key=***" in results["command"]


def test_a_server_killed_mid_sweep_is_named_first_and_the_other_sweep_kept(embedded_models, tmp_path):
    bf16, w8a8 = embedded_models
    gate = """        performance:
          multi_stream:
            reasoning: {min_qps_ratio: 0.01}"""
    proc = _gate(tmp_path, _gate_yaml(bf16.path, w8a8.path, gate, both_modes=True), "-k", "multi_stream")
    sweep_log = tmp_path / "artifacts" / "main" / "load" / "cpu" / "bf16" / "multi_stream" / "reasoning.log"

    def baseline_sweep_running():
        """the baseline's sweep sent requests"""
        return sweep_log.is_file() and "Benchmark 1 (" in sweep_log.read_text(errors="replace")
    _wait_for(baseline_sweep_running, 600, proc)
    time.sleep(3)
    victims = _served("bf16")
    pids = [p.pid for v in victims for p in [v, *v.children(recursive=True)]]
    for v in victims:
        v.send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode != 0
    record = _test_record(_results(tmp_path), "test_multi_stream")
    assert _leads_with(record["message"], "the vLLM server of bf16 (cpu/multi_stream) died: killed by SIGKILL"), \
        record["message"][:500]
    assert record["properties"]["candidate_sweep"], "the candidate's finished sweep was lost"
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE], out[-2000:]
    assert not _served("bf16") and not _served("w8a8")


def test_a_server_killed_mid_eval_is_named_first_and_the_other_model_kept(embedded_models, tmp_path):
    bf16, w8a8 = embedded_models
    gate = """        accuracy:
          tasks:
            embedded-vqa: {min_recovery: 0.01, limit: 48}"""
    proc = _gate(tmp_path, _gate_yaml(bf16.path, w8a8.path, gate), "-k", "vision", "--eval-concurrency", "1")
    logs = tmp_path / "artifacts" / "main" / "logs"

    def baseline_answering():
        """the baseline answered eval requests"""
        return any('"POST /v1/chat/completions HTTP/1.1" 200' in p.read_text(errors="replace")
                   for p in logs.glob("vllm-cpu-*-bf16-*.log")) if logs.is_dir() else False
    _wait_for(baseline_answering, 600, proc)
    for v in _served("bf16"):
        v.send_signal(signal.SIGKILL)
    proc.communicate(timeout=600)
    record = _test_record(_results(tmp_path), "test_vision_recovery")
    assert _leads_with(record["message"], "the vLLM server of bf16 (cpu/single_stream) died: killed by SIGKILL"), \
        record["message"][:500]
    assert record["properties"]["measured[w8a8]"]["n"] == 48
    assert not _served("bf16") and not _served("w8a8")


def test_an_endpoint_that_goes_away_mid_run_is_named_by_its_url(embedded_models, tmp_path):
    bf16, w8a8 = embedded_models
    server = _external_server(bf16.path, "bf16", tmp_path / "external.log")
    gate = """        performance:
          single_stream:
            reasoning: {max_latency_ratio: 100}"""
    try:
        proc = _gate(tmp_path, _gate_yaml(bf16.path, w8a8.path, gate).replace(
            "single_stream_requests: 4", "single_stream_requests: 200"), f"--server-url=bf16={server.base_url}/v1",
            "-k", "single_stream")
        run_log = tmp_path / "artifacts" / "main" / "load" / "cpu" / "bf16" / "single_stream" / "reasoning.log"

        def baseline_run_started():
            """the baseline's load run sent requests"""
            return run_log.is_file() and "Benchmark 1 (" in run_log.read_text(errors="replace")
        _wait_for(baseline_run_started, 600, proc)
        time.sleep(2)
    finally:
        server.stop()
    proc.communicate(timeout=600)
    record = _test_record(_results(tmp_path), "test_single_stream")
    assert _leads_with(record["message"], f"the endpoint {server.base_url} did not answer at "), record["message"][:500]
    assert record["properties"]["candidate_figures"]["completed"] >= 2
