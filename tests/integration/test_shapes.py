"""Shape-only checkpoints: written from a named architecture in the server environment, checked against
their scheme, and served by a real vLLM with random weights (`--load-format dummy`)."""
from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from fixtures.harness.conformance import check_checkpoint
from fixtures.harness.models import ModelStore
from fixtures.harness.server import ServerSpec, VLLMServer
from fixtures.harness.shapes import LOAD_FORMAT_ARGS, SHAPES, Shape
from fixtures.harness.thresholds import load_thresholds

from .conftest import REPO, SERVER_ENV
from .test_server import image_chat

pytestmark = pytest.mark.server

# Pixtral-Large's tokenizer and processor on a body small enough for a CPU (head_dim 32: vLLM's CPU attention).
SMALL = replace(SHAPES["pixtral-large-2411"],
                text={**SHAPES["pixtral-large-2411"].text, "hidden_size": 128, "num_hidden_layers": 2,
                      "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 32, "intermediate_size": 256,
                      "max_position_embeddings": 4096},
                vision={**SHAPES["pixtral-large-2411"].vision, "hidden_size": 128, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "head_dim": 32, "intermediate_size": 256},
                longest_edge=128)


def write_in_server_env(server_python: str, out: Path, scheme: str, shape: Shape = SMALL) -> Path:
    """Run shape_worker's writer in the server environment, as the model store does."""
    code = ("import json, pathlib, sys\nfrom fixtures.harness.shapes import Shape\n"
            "from fixtures.harness.shape_worker import write_shape\n"
            "write_shape(Shape(**json.loads(sys.argv[1])), sys.argv[2], pathlib.Path(sys.argv[3]))")
    subprocess.run([server_python, "-c", code, json.dumps(asdict(shape)), scheme, str(out)], cwd=REPO, check=True,
                   capture_output=True, text=True)
    return out


def test_the_pixtral_large_shape_is_its_config_tokenizer_and_processor(server_python, tmp_path):
    out = write_in_server_env(server_python, tmp_path / "w8a8", "w8a8-int8", SHAPES["pixtral-large-2411"])
    config = json.loads((out / "config.json").read_text())
    text, vision = config["text_config"], config["vision_config"]
    assert (text["hidden_size"], text["num_hidden_layers"], text["num_attention_heads"],
            text["num_key_value_heads"], text["intermediate_size"], text["vocab_size"]) == (
        12288, 88, 96, 8, 28672, 32768)
    assert (vision["hidden_size"], vision["head_dim"], vision["patch_size"]) == (1664, 104, 16)
    assert config["image_token_index"] == 10 and config["multimodal_projector_bias"] is False
    assert config["quantization_config"]["format"] == "int-quantized"
    assert not list(out.glob("*.safetensors")) and not (out / "params.json").exists()
    # Its scheme is checked on the config alone: no tensors to read.
    checked = check_checkpoint("shape", out, "w8a8-int8")
    assert checked.problems == () and checked.linear_layers == 0
    assert not check_checkpoint("shape", out, "fp8-dynamic").problems == ()
    # The tokenizer is Pixtral-Large's: its image tokens, and a 1680x2240 document as 3136 image tokens.
    probe = ("from transformers import AutoProcessor; from PIL import Image\n"
             f"p = AutoProcessor.from_pretrained({str(out)!r})\n"
             "t = p.tokenizer; print(t.convert_tokens_to_ids(['[IMG]', '[IMG_BREAK]', '[IMG_END]']))\n"
             "ids = p(text='[IMG]', images=[Image.new('RGB', (1680, 2240))])['input_ids'][0]\n"
             "print(len(ids))")
    lines = subprocess.run([server_python, "-c", probe], check=True, capture_output=True, text=True).stdout.split("\n")
    assert lines[0] == "[10, 14, 15]" and lines[1] == "3136"


def test_a_shape_only_model_serves_with_random_weights(server_python, tmp_path):
    out = write_in_server_env(server_python, tmp_path / "small-w8a8", "w8a8-int8")
    spec = ServerSpec(str(out), "small-w8a8", server_python,
                      ("--max-model-len", "2048", "--dtype", "bfloat16", "--enforce-eager", *LOAD_FORMAT_ARGS),
                      SERVER_ENV, start_deadline_s=300)
    with VLLMServer(spec, tmp_path / "vllm.log") as server:
        body = image_chat(server)
    assert body["usage"]["completion_tokens"] > 0
    assert "CompressedTensorsW8A8Int8" in (tmp_path / "vllm.log").read_text()  # served as int8, not bf16


def test_the_model_store_writes_a_shape_once_in_the_server_env(server_python, tmp_path):
    cfg_file = tmp_path / "thresholds.yaml"
    minimal = (REPO / "tests" / "data" / "thresholds" / "minimal_valid.yaml").read_text()
    cfg_file.write_text(minimal.split("models:")[0] + "models:\n  tiny:\n    shape: pixtral-large-2411\n"
                                                       "    scheme: fp8-dynamic\n")
    store = ModelStore(load_thresholds(cfg_file), tmp_path, tmp_path / "cache", shape_python=lambda: server_python)
    model = store.resolve("tiny")
    assert model.manifest["source"] == {"shape": "pixtral-large-2411", "label": "shape-only (random weights)"}
    assert json.loads((model.path / "config.json").read_text())["quantization_config"]["format"] == "float-quantized"
    assert store.conformance("tiny").problems == ()
    again = ModelStore(load_thresholds(cfg_file), tmp_path, tmp_path / "cache", shape_python=lambda: server_python)
    assert again.resolve("tiny").path == model.path  # cached by what determines it
