#!/usr/bin/env python3
"""Build and train the embedded tiny Pixtral-architecture VLM.

    tools/build_tiny_vlm.py --out DIR [--seed 0] [--steps N]

LlavaForConditionalGeneration with a Pixtral vision tower and a Mistral text
model, trained on images the suite draws (shapes, counts, bar charts, words),
saved in HF format with its processor and chat template. Held-out accuracy per
task, the majority-class rate and the score on blank images are written to
gate_model_info.json (and so into the cache manifest).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fixtures.harness.tiny_vlm import save_tiny_vlm
from fixtures.harness.tiny_vlm_train import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    args = ap.parse_args(argv)
    model, tokenizer, processor, info = train(TrainConfig(seed=args.seed, steps=args.steps),
                                              log=lambda m: print(m, flush=True))
    save_tiny_vlm(model, tokenizer, processor, args.out, info)
    (args.out / "gate_model_info.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    print(json.dumps(info["held_out"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
