"""The card's text tasks as lm-eval command lines, and per-sample scores read back from lm-eval's logs."""
from __future__ import annotations

import json
from pathlib import Path

from fixtures.harness.accuracy.text_tasks import TEXT_TASKS, lm_eval_command, per_sample_scores


def _args(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_mmlu_runs_as_the_card_says():
    cmd = lm_eval_command(TEXT_TASKS["mmlu"], None, "http://h:1", "m", "/models/m", Path("/out"), 8, limit=20)
    assert _args(cmd, "--model") == "local-completions" and _args(cmd, "--tasks") == "mmlu"
    assert _args(cmd, "--num_fewshot") == "5" and _args(cmd, "--limit") == "20"
    model_args = _args(cmd, "--model_args")
    assert "base_url=http://h:1/v1/completions" in model_args and "tokenizer=/models/m" in model_args
    assert "add_bos_token=True" in model_args and "num_concurrent=8" in model_args
    assert "--apply_chat_template" not in cmd and "--include_path" not in cmd
    assert "tokenized_requests=True" in model_args  # token ids: the server scores what lm-eval counted
    assert "max_length" not in model_args  # the server did not say: lm-eval's own default


def test_the_context_length_is_the_servers():
    cmd = lm_eval_command(TEXT_TASKS["mmlu"], None, "http://h:1", "m", "/t", Path("/out"), max_length=4096)
    assert "max_length=4096" in _args(cmd, "--model_args")


def test_mgsm_runs_as_the_card_says():
    cmd = lm_eval_command(TEXT_TASKS["mgsm_cot_native"], None, "http://h:1", "m", "/t", Path("/out"))
    assert _args(cmd, "--model") == "local-chat-completions" and _args(cmd, "--tasks") == "mgsm_cot_native"
    assert _args(cmd, "--num_fewshot") == "0" and "--apply_chat_template" in cmd
    assert "max_gen_toks=2048" in _args(cmd, "--model_args") and "--limit" not in cmd
    assert "tokenized_requests=False" in _args(cmd, "--model_args")  # chat messages are text


def test_embedded_tasks_read_their_own_yaml_and_take_no_lm_eval_limit(tmp_path):
    cmd = lm_eval_command(TEXT_TASKS["embedded-mc"], tmp_path, "http://h:1", "m", "/t", tmp_path / "out", limit=5)
    assert _args(cmd, "--include_path") == str(tmp_path) and "--limit" not in cmd  # rows were cut when written


def test_lm_eval_knows_the_card_task_names():
    from lm_eval.tasks import TaskManager
    names = set(TaskManager().all_tasks)
    assert {"mmlu", "mgsm_cot_native"} <= names


def _log(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_group_samples_are_keyed_by_subtask_and_filtered(tmp_path):
    run = tmp_path / "m"
    run.mkdir()
    _log(run / "samples_mgsm_native_cot_en_2026-11-29T10-00-00.1.jsonl",
         [{"doc_id": d, "filter": f, "exact_match": float(d == 1), "doc": {}} for d in (1, 0)
          for f in ("strict-match", "flexible-extract")])
    _log(run / "samples_mgsm_native_cot_de_2026-11-29T10-00-00.1.jsonl",
         [{"doc_id": 0, "filter": "strict-match", "exact_match": 1.0, "doc": {}}])
    scores = per_sample_scores(TEXT_TASKS["mgsm_cot_native"], tmp_path)
    assert scores == [("mgsm_native_cot_de/0", 1.0), ("mgsm_native_cot_en/0", 0.0), ("mgsm_native_cot_en/1", 1.0)]


def test_each_task_decides_on_a_filter_its_config_defines():
    from fixtures.harness.accuracy.text_tasks import TASK_BODY
    for task in TEXT_TASKS.values():
        if task.builtin or task.filter == "none":
            continue
        assert f"name: {task.filter}" in TASK_BODY[task.name], task.name
    import lm_eval
    mgsm_en = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / "native_cot" / "mgsm_native_cot_en.yaml"
    assert f"name: {TEXT_TASKS['mgsm_cot_native'].filter}" in mgsm_en.read_text()
