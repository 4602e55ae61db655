"""How exact vLLM's CPU W8A8 GEMM is on this CPU: its output against the exact int32 product, side by side for
full-range int8 weights and weights within +-64.

    .venv/server/bin/python tools/bench_int8_gemm.py [--m 8 --k 576 --n 1536]

Runs vLLM's own kernel (oneDNN's int8 matmul, as vLLM's CPU W8A8 layers call it) on random weights and
dynamically quantized activations. Without int8 dot-product instructions (VNNI, AMX) the u8 x s8 pairs are
summed in int16 and saturate when the weights use the full int8 range; within +-64 (the gate's limit, and
7-bit weights' range) they cannot: 255 x (64 + 64) = 32640. A mean relative error of the order of bf16's
rounding (below 1%) with both is an exact kernel.
"""
from __future__ import annotations

import argparse

import torch


def relative_error(m: int, k: int, n: int, weight_max: int, seed: int = 0) -> float:
    from vllm import _custom_ops as ops

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen, dtype=torch.float32).to(torch.bfloat16) * 2
    w_q = torch.randint(-weight_max, weight_max + 1, (n, k), generator=gen, dtype=torch.int8)
    w_s = torch.full((n, 1), 0.01, dtype=torch.float32)
    x_q, x_s, x_zp = ops.onednn_scaled_int8_quant(x, None, None, True)
    exact = (x_q.double() @ w_q.double().t()) * x_s.double().view(-1, 1) * w_s.double().view(1, -1)
    handler = ops.create_onednn_scaled_mm(w_q.t(), w_s, torch.bfloat16, True, False, 32)
    out = torch.empty((m, n), dtype=torch.bfloat16)
    ops.onednn_scaled_mm(handler, x_q, out, x_s, x_zp, None, None)
    return float((out.double() - exact).abs().mean() / exact.abs().mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=8, help="tokens")
    ap.add_argument("--k", type=int, default=576, help="input features (SmolLM2-135M's hidden size)")
    ap.add_argument("--n", type=int, default=1536, help="output features (its MLP width)")
    args = ap.parse_args(argv)
    from vllm.platforms import current_platform
    current_platform.import_kernels()
    flags = next((line.partition(":")[2].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    int8_dot = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    print(f"CPU int8 dot-product flags: {' '.join(int8_dot) or 'none (AVX2 only)'}; GEMM {args.m}x{args.k}x{args.n}")
    full, narrow = (relative_error(args.m, args.k, args.n, w) for w in (127, 64))
    print(f"mean relative error, weights in [-127, 127]: {full:.5f}")
    print(f"mean relative error, weights in [-64, 64]:   {narrow:.5f}")
    print(f"full-range / within +-64: {full / narrow:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
