#!/usr/bin/env python3
"""Write a deliberately degraded copy of a checkpoint: the gate's negative control.

    tools/degrade_model.py --base DIR --noise 0.3 --seed 0 --out DIR

Every Linear weight of the language model (not the vision tower, projector or
LM head, as the W8A8 recipe) gets Gaussian noise of `noise` times that
weight's own standard deviation. The amount is stated, so a test can say how
far below its threshold the degraded model should land. The noise comes from
NumPy's PCG64 generator and the arithmetic is float64, so the same base gives
the same degraded weights on any CPU.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

KEEP = re.compile(r"(vision_tower|multi_modal_projector|lm_head|embed_tokens|norm)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, type=Path)
    ap.add_argument("--noise", required=True, type=float, help="noise std as a fraction of each weight's std")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(args.base, args.out, ignore=shutil.ignore_patterns("*.safetensors", "gate_*.json"))
    rng = np.random.default_rng(args.seed)
    touched = 0
    for file in sorted(args.base.glob("*.safetensors")):
        tensors = load_file(file)
        for key in sorted(tensors):
            t = tensors[key]
            if key.endswith(".weight") and t.ndim == 2 and not KEEP.search(key):
                w = t.double().numpy()
                noisy = w + rng.standard_normal(w.shape) * w.std() * args.noise
                tensors[key] = torch.from_numpy(noisy).to(t.dtype)
                touched += 1
        save_file(tensors, args.out / file.name, metadata={"format": "pt"})
    if not touched:
        raise SystemExit(f"{args.base}: no language-model Linear weight found to degrade")
    (args.out / "gate_model_info.json").write_text(json.dumps(
        {"degraded_from": str(args.base), "noise": args.noise, "seed": args.seed, "weights_touched": touched}, indent=2))
    print(f"degraded {touched} weights of {args.base} by noise {args.noise} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
