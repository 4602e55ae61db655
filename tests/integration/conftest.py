"""Shared pieces of the integration tests: a tiny VLM the tests build, a W8A8 build of it,
and a thresholds file that gates one against the other on the cpu profile."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fixtures.harness.envs import server_python as find_server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.thresholds import load_thresholds
from fixtures.harness.tiny_vlm import build_tiny_vlm

REPO = Path(__file__).parents[2]
RECIPE = REPO / "fixtures" / "recipes" / "w8a8_gptq_pixtral.yaml"
WORDS = ("what color is the shape red green blue yellow circle square triangle "
         "how many one two three four answer yes no hello").split()


def tiny_gate_yaml(bf16_dir: Path, recipe: Path = RECIPE, dataset: str = "generated-shapes") -> str:
    """A thresholds file whose cpu profile gates a W8A8 build of the tiny VLM against it."""
    text = (REPO / "tests" / "data" / "thresholds" / "minimal_valid.yaml").read_text()
    head = text.split("models:")[0].replace(
        "      tiny: {single_stream: {}}\n    gates:\n      - {candidate: tiny, baseline: tiny}",
        "      tiny-bf16: {single_stream: {}}\n      tiny-w8a8: {single_stream: {}}\n"
        "    gates:\n      - {candidate: tiny-w8a8, baseline: tiny-bf16}")
    head = head.replace("    deployments:\n", "    server_env: {VLLM_CPU_KVCACHE_SPACE: \"1\"}\n"
                                                "    server_start_deadline_s: 300\n    deployments:\n", 1)
    server_args = '["--max-model-len", "2048", "--dtype", "bfloat16", "--enforce-eager"]'
    return head + (
        "models:\n"
        f"  tiny-bf16:\n    fetch: {bf16_dir}\n    scheme: bf16\n    server_args: {server_args}\n"
        f"  tiny-w8a8:\n    build:\n      base: tiny-bf16\n      recipe: {recipe}\n"
        f"      calibration: {{dataset: {dataset}, samples: 8, max_seq_length: 512}}\n"
        f"    server_args: {server_args}\n")


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "bf16", WORDS)


@pytest.fixture(scope="session")
def tiny_gate_file(tmp_path_factory, tiny_vlm_dir) -> Path:
    path = tmp_path_factory.mktemp("gate") / "thresholds.yaml"
    path.write_text(tiny_gate_yaml(tiny_vlm_dir))
    return path


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory, tiny_gate_file) -> ModelStore:
    return ModelStore(load_thresholds(tiny_gate_file), tiny_gate_file.parent, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_w8a8(tiny_store):
    return tiny_store.resolve("tiny-w8a8")


@pytest.fixture(scope="session")
def server_python() -> str:
    return str(find_server_python())


SERVER_ARGS = ("--max-model-len", "2048", "--dtype", "bfloat16", "--enforce-eager")
SERVER_ENV = (("VLLM_CPU_KVCACHE_SPACE", "1"),)


def gate_env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "GATE_CACHE_DIR": str(cache_dir)}


EMBEDDED_SERVER_ARGS = ("--max-model-len", "4096", "--dtype", "bfloat16", "--enforce-eager", "--limit-mm-per-prompt",
                        '{"image": 1}')


def embedded_gate_yaml(models: dict[str, tuple[Path, str]], gates: str, modes: str = "{single_stream: {}}",
                       top: str = "", cpu: str = "") -> str:
    """A thresholds file whose cpu profile serves `models` (name -> (directory, scheme)) in `modes` and holds
    `gates` (YAML list items, indented for hardware.cpu.gates); `top` and `cpu` add keys at those levels."""
    args = json.dumps(list(EMBEDDED_SERVER_ARGS))
    deployments = "".join(f"      {name}: {modes}\n" for name in models)
    entries = "".join(f"  {name}: {{fetch: {path}, scheme: {scheme}, server_args: {args}}}\n"
                      for name, (path, scheme) in models.items())
    gpu = "price: {usd_per_hour: 2.0, per: gpu, source: t, observed: 2026-01-01}"
    return (f"schema_version: 1\n{top}hardware:\n  cpu:\n    marker: smoke\n    gpu_name: null\n"
            f"    price: {{usd_per_hour: 0.0832, per: instance, source: \"test\", observed: 2026-06-01}}\n"
            f"    server_env: {{VLLM_CPU_KVCACHE_SPACE: \"1\"}}\n{cpu}    deployments:\n{deployments}    gates:\n{gates}\n"
            f"  a100: {{marker: a100, gpu_name: A100, {gpu}}}\n  h100: {{marker: h100, gpu_name: H100, {gpu}}}\n"
            f"  h200: {{marker: h200, gpu_name: H200, {gpu}}}\nmodels:\n{entries}")
