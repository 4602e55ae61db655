"""Eval throughput against the server's saturation throughput on the same requests, one server.

  .venv/runner/bin/python tools/bench_eval.py --model tiny-vlm-bf16 --task embedded-vqa \
      [--hardware cpu] [--concurrency 1 2 4 8 16 32] [--limit N] [--repeats 2]

Starts one vLLM server for the model (as the gate does) and runs the accuracy task's
requests through the gate's own eval client (fixtures/harness/accuracy/chat_eval.py)
at each concurrency, in rising order then falling (each level twice by default, to see
the noise). Every run asks rows of its own (the task drawn with another seed), so no run
is sped up by the server's prefix and image caches holding an earlier run's requests.
Prints requests per second per level, the share of N / C request times each run
reached, and each level's rate as a share of the best seen at any level: the server's
saturation throughput on this workload. Not a test: figures about the harness.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from fixtures.harness.accuracy.chat_eval import run_task
from fixtures.harness.accuracy.tasks import vision_task
from fixtures.harness.envs import cache_root, server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.pool import ServerPool
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model of thresholds.yaml")
    ap.add_argument("--task", required=True, help="a vision task (embedded or of fixtures/datasets.yaml)")
    ap.add_argument("--hardware", default="cpu", help="the hardware profile whose deployment serves it")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--limit", type=int, default=None, help="rows of the task (default: all)")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the levels (up, then down, ...)")
    ap.add_argument("--datasets-dir", type=Path, default=None)
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    args = ap.parse_args(argv)

    cfg = load_thresholds(args.thresholds)
    task = vision_task(args.task)
    runs = [(repeat, c) for repeat in range(args.repeats)
            for c in (args.concurrency if repeat % 2 == 0 else list(reversed(args.concurrency)))]
    items = {run: task.items(args.limit, seed + 1, args.datasets_dir)[0] for seed, run in enumerate(runs)}
    warmup = task.items(16, 0, args.datasets_dir)[0]
    out = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    pool = ServerPool(cfg, ModelStore(cfg, args.thresholds.parent, cache_root()), str(server_python()),
                      out / "logs", max_live=1)
    rates: dict[int, list[float]] = {c: [] for c in args.concurrency}
    efficiency: dict[int, list[float]] = {c: [] for c in args.concurrency}
    try:
        endpoint = pool.endpoint(args.hardware, args.model, "single_stream")
        print(f"server ready in {endpoint.server.start_seconds:.1f} s; {len(items[runs[0]])} requests of "
              f"{args.task} per run", flush=True)
        run_task(args.task, list(task.metrics), warmup, endpoint.base_url, endpoint.model, concurrency=4)
        for repeat, c in runs:
            run = run_task(args.task, list(task.metrics), items[(repeat, c)], endpoint.base_url, endpoint.model,
                           concurrency=c)
            failed = sum(1 for r in run.results if r.error and r.seconds == 0)
            if failed:
                raise SystemExit(f"concurrency {c}: {failed} request(s) failed: the figures would not be comparable")
            fig = run.throughput()
            rates[c].append(fig["requests_per_s"])
            efficiency[c].append(fig["concurrency_efficiency"])
            print(f"pass {repeat + 1} concurrency {c:3d}: {fig['requests_per_s']:8.2f} req/s, mean request "
                  f"{fig['mean_request_s']:.3f} s, {fig['concurrency_efficiency']:.0%} of N/C request times",
                  flush=True)
    finally:
        pool.stop_all()
    best = max(max(v) for v in rates.values())
    print(f"\nconcurrency  req/s (mean of {args.repeats})  share of the best seen ({best:.2f} req/s)  of N/C")
    for c in args.concurrency:
        mean = statistics.mean(rates[c])
        print(f"{c:11d}  {mean:20.2f}  {mean / best:34.0%}  {statistics.mean(efficiency[c]):.0%}")
    print(f"logs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
