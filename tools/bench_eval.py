"""Eval throughput against the server's saturation throughput on the same requests, one server.

  .venv/runner/bin/python tools/bench_eval.py --model tiny-vlm-bf16 --task embedded-vqa [TASK ...] \
      [--hardware cpu] [--concurrency 1 2 4 8 16 32] [--limit N] [--repeats 2] [--shape] [--json-out FILE]

Starts one vLLM server for the model (as the gate does) and runs the accuracy task's
requests through the gate's own eval client (fixtures/harness/accuracy/chat_eval.py)
at each concurrency, in rising order then falling (each level twice by default, to see
the noise). Every run asks rows of its own (the task drawn with another seed), so no run
is sped up by the server's prefix and image caches holding an earlier run's requests.
Prints requests per second per level, the share of N / C request times each run
reached, and each level's rate as a share of the best seen at any level: the server's
saturation throughput on this workload. Not a test: figures about the harness.

  --shape: requests shaped like the task's (request_shapes.py: the dataset's typical image size and
  question length, the real instruction and max_tokens) instead of its rows, for shape-only servers
  (random weights), where rows would only add their download. Each level also reads the server's token
  counters (vLLM's /metrics) for its prompt and generated tokens per second. --json-out FILE keeps every
  level's figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from fixtures.harness.accuracy.chat_eval import run_task
from fixtures.harness.accuracy.request_shapes import SHAPES, shaped_items
from fixtures.harness.accuracy.tasks import vision_task
from fixtures.harness.envs import cache_root, server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.pool import ServerPool
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[1]


def token_counters(base_url: str) -> dict[str, float]:
    """vLLM's running totals of prompt and generated tokens (its Prometheus /metrics)."""
    text = requests.get(f"{base_url}/metrics", timeout=30).text
    out = {}
    for name in ("prompt_tokens", "generation_tokens"):
        values = re.findall(rf"^vllm:{name}_total(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
        out[name] = sum(float(v) for v in values)
    return out


def devices() -> str:
    """What served the measurement: the GPUs nvidia-smi lists, else this host's CPU count."""
    import subprocess
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=30).stdout.split("\n")
    except OSError:
        names = []
    names = [n.strip() for n in names if n.strip()]
    return f"{len(names)} x {names[0]}" if names else f"{os.cpu_count()} CPUs"


def run_max_tokens(items) -> int:
    return max(i.max_tokens for i in items)


def parse_task(text: str) -> tuple[str, int | None]:
    """TASK or TASK@MAX_TOKENS (the latter with --shape: outputs forced shorter than the task's own)."""
    name, _, tokens = text.partition("@")
    return name, int(tokens) if tokens else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model of thresholds.yaml")
    ap.add_argument("--task", required=True, nargs="+",
                    help="vision tasks (embedded or of fixtures/datasets.yaml), one server for all; "
                         "with --shape, TASK@N forces N output tokens")
    ap.add_argument("--hardware", default="cpu", help="the hardware profile whose deployment serves it")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--limit", type=int, default=None, help="rows of the task (default: all)")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the levels (up, then down, ...)")
    ap.add_argument("--datasets-dir", type=Path, default=None)
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    ap.add_argument("--shape", action="store_true", help=f"requests of the task's shape ({', '.join(SHAPES)})")
    ap.add_argument("--per-level", type=float, default=None,
                    help="with --shape: requests per level as a multiple of its concurrency (at least 8)")
    ap.add_argument("--stop-after", type=float, default=None,
                    help="seconds after which no further level starts (its figures so far are kept)")
    ap.add_argument("--json-out", type=Path, default=None, help="append one JSON line per level to FILE")
    args = ap.parse_args(argv)

    if not args.shape and any("@" in t for t in args.task):
        ap.error("TASK@N forces output tokens of shaped requests only: add --shape")
    t0 = time.monotonic()
    cfg = load_thresholds(args.thresholds)
    deployment = cfg.hardware[args.hardware].deployments[args.model]["single_stream"]
    measured_on = {"devices": devices(), "tensor_parallel": deployment.tensor_parallel,
                   "data_parallel": deployment.data_parallel}
    runs = [(repeat, c) for repeat in range(args.repeats)
            for c in (args.concurrency if repeat % 2 == 0 else list(reversed(args.concurrency)))]
    out = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    pool = ServerPool(cfg, ModelStore(cfg, args.thresholds.parent, cache_root()), str(server_python()),
                      out / "logs", max_live=1)
    summaries = []
    try:
        endpoint = pool.endpoint(args.hardware, args.model, "single_stream")
        print(f"server ready in {endpoint.server.start_seconds:.1f} s", flush=True)
        for name, max_tokens in map(parse_task, args.task):
            task = vision_task(name)
            if args.shape:
                def level_items(c: int, seed: int):
                    n = max(8, round(c * args.per_level)) if args.per_level else (args.limit or 64)
                    return shaped_items(name, n, seed, max_tokens)
                items = {run: level_items(run[1], seed + 1) for seed, run in enumerate(runs)}
                warmup = shaped_items(name, 2, 0, min(16, max_tokens or 16))
            else:
                items = {run: task.items(args.limit, seed + 1, args.datasets_dir)[0] for seed, run in enumerate(runs)}
                warmup = task.items(16, 0, args.datasets_dir)[0]
            run_task(name, list(task.metrics), warmup, endpoint.base_url, endpoint.model, concurrency=4)
            rates: dict[int, list[float]] = {}
            efficiency: dict[int, list[float]] = {}
            for repeat, c in runs:
                if args.stop_after is not None and time.monotonic() - t0 > args.stop_after:
                    print(f"{name}: --stop-after {args.stop_after:.0f} s reached; concurrency {c} not run", flush=True)
                    break
                before = token_counters(endpoint.base_url)
                run = run_task(name, list(task.metrics), items[(repeat, c)], endpoint.base_url, endpoint.model,
                               concurrency=c, timeout_s=1800)
                tokens = {k: (v - before[k]) / run.wall_s for k, v in token_counters(endpoint.base_url).items()}
                failed = sum(1 for r in run.results if r.error and r.seconds == 0)
                if failed:
                    raise SystemExit(f"{name} at concurrency {c}: {failed} request(s) failed: the figures would "
                                     "not be comparable")
                fig = run.throughput()
                rates.setdefault(c, []).append(fig["requests_per_s"])
                efficiency.setdefault(c, []).append(fig["concurrency_efficiency"])
                print(f"{name} pass {repeat + 1} concurrency {c:3d}: {fig['requests_per_s']:8.3f} req/s, mean "
                      f"request {fig['mean_request_s']:.3f} s, {fig['concurrency_efficiency']:.0%} of N/C request "
                      f"times; server {tokens['prompt_tokens']:.0f} prompt + {tokens['generation_tokens']:.0f} "
                      "generated tok/s", flush=True)
                if args.json_out:
                    with args.json_out.open("a") as f:
                        f.write(json.dumps({"model": args.model, "hardware": args.hardware, **measured_on, "task": name,
                                            "shape": args.shape, "max_tokens": run_max_tokens(items[(repeat, c)]),
                                            "pass": repeat + 1, **fig, "server_tokens_per_s":
                                            {k: round(v, 1) for k, v in tokens.items()}}) + "\n")
            summaries.append((name, rates, efficiency))
    finally:
        pool.stop_all()
    for name, rates, efficiency in summaries:
        if not rates:
            continue
        best = max(max(v) for v in rates.values())
        print(f"\n{name}: concurrency  req/s (mean)  share of the best seen ({best:.3f} req/s)  of N/C")
        for c in sorted(rates):
            mean = statistics.mean(rates[c])
            print(f"{c:11d}  {mean:12.3f}  {mean / best:30.0%}  {statistics.mean(efficiency[c]):.0%}")
    print(f"logs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
