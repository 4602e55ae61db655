"""GuideLLM against vLLM's own serving benchmark client, one profile, one server, side by side.

  .venv/runner/bin/python tools/bench_clients.py --model tiny-vlm-bf16 --profile visual_reasoning \
      [--hardware cpu] [--requests 20] [--repeats 3] [--out DIR]

Starts one vLLM server for the model (as the gate does), writes the profile's requests
once (fixtures/harness/performance/requests.py), and sends them one at a time with each
client in turn, alternating which goes first in each repeat: GuideLLM `synchronous`
(as the single-stream suite does) and `vllm bench serve --max-concurrency 1` with the
same prompts and images (`custom_image` dataset) and the same output length, EOS ignored.
Prints each client's mean request latency and time to first token per repeat, their
ratio, and the run-to-run spread of each client's mean latency. Not a test: figures
about the harness itself.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fixtures.harness.envs import cache_root, server_python
from fixtures.harness.models import ModelStore
from fixtures.harness.performance.guidellm import guidellm_command, run_guidellm
from fixtures.harness.performance.requests import request_dataset
from fixtures.harness.pool import ServerPool
from fixtures.harness.thresholds import load_thresholds

REPO = Path(__file__).resolve().parents[1]

VLLM_BENCH = ("import argparse, sys\n"
              "from vllm.benchmarks.serve import add_cli_args, main\n"
              "p = argparse.ArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))")


def run_vllm_bench(python: str, base_url: str, model: str, tokenizer: str, rows: list[dict], output_tokens: int,
                   warmups: int, out: Path) -> dict:
    """vLLM's serving benchmark, one request at a time, on the same requests GuideLLM sends."""
    data = out / "vllm_requests.jsonl"
    data.write_text("".join(json.dumps({"prompt": r.get("prompt", ""), "image_files": [r["image"]]}) + "\n"
                            for r in rows))
    cmd = [python, "-c", VLLM_BENCH, "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
           "--base-url", base_url, "--model", model, "--tokenizer", tokenizer, "--dataset-name", "custom_image",
           "--dataset-path", str(data), "--num-prompts", str(len(rows)), "--max-concurrency", "1",
           "--custom-output-len", str(output_tokens), "--ignore-eos", "--num-warmups", str(warmups),
           "--custom-ensure-client-side-data",  # images inline (base64), as GuideLLM sends them
           "--seed", "0", "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99",
           "--save-result", "--result-dir", str(out), "--result-filename", "vllm_bench.json"]
    log = out / "vllm_bench.log"
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"vllm bench serve failed (exit {proc.returncode}); log {log}:\n"
                         + "\n".join(log.read_text().splitlines()[-20:]))
    result = json.loads((out / "vllm_bench.json").read_text())
    if result.get("completed") != len(rows):
        raise SystemExit(f"vllm bench serve: {result.get('completed')} of {len(rows)} requests completed "
                         f"({result.get('failed')} failed); log {log}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model of thresholds.yaml")
    ap.add_argument("--profile", required=True, help="a use-case profile of thresholds.yaml")
    ap.add_argument("--hardware", default="cpu", help="the hardware profile whose deployment serves it")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    cfg = load_thresholds(args.thresholds)
    hw = cfg.hardware[args.hardware]
    profile = cfg.profiles[args.profile]
    settings = hw.load.model_copy(update={"single_stream_requests": args.requests})
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-clients-"))
    out.mkdir(parents=True, exist_ok=True)
    store = ModelStore(cfg, args.thresholds.parent, cache_root())
    tokenizer = str(store.resolve(args.model).path)
    python = str(server_python())
    pool = ServerPool(cfg, store, python, out / "logs", max_live=1)
    rows_total = args.requests + settings.warmup_requests
    dataset = request_dataset(args.profile, profile, out / "data", rows_total, tokenizer)
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    results: dict[str, list[tuple[float, float]]] = {"guidellm": [], "vllm": []}
    try:
        endpoint = pool.endpoint(args.hardware, args.model, "single_stream")
        print(f"server ready in {endpoint.server.start_seconds:.1f} s; {args.requests} requests per client "
              f"and repeat ({settings.warmup_requests} warm-up), profile {args.profile}", flush=True)
        for repeat in range(args.repeats):
            order = ("guidellm", "vllm") if repeat % 2 == 0 else ("vllm", "guidellm")
            for client in order:
                run_dir = out / f"repeat{repeat}" / client
                run_dir.mkdir(parents=True, exist_ok=True)
                if client == "guidellm":
                    cmd = guidellm_command(endpoint.base_url, endpoint.model, tokenizer, args.profile, profile,
                                           "synchronous", settings, run_dir / "guidellm.json", out / "data")
                    fig = run_guidellm(cmd, args.profile, run_dir / "guidellm.json", run_dir / "guidellm.log",
                                       settings, sweep=False, server_problem=endpoint.problem).figures[0]
                    results["guidellm"].append((fig.latency_s["mean"], fig.ttft_ms["mean"]))
                else:
                    res = run_vllm_bench(python, endpoint.base_url, endpoint.model, tokenizer,
                                         rows[settings.warmup_requests:], profile.output_tokens,
                                         settings.warmup_requests, run_dir)
                    results["vllm"].append((res["mean_e2el_ms"] / 1000, res["mean_ttft_ms"]))
                lat, ttft = results[client][-1]
                print(f"repeat {repeat + 1} {client:8s}: mean latency {lat:.4f} s, mean TTFT {ttft:.1f} ms", flush=True)
    finally:
        pool.stop_all()
    print("\nclient     mean latency (s) per repeat        spread (max/min)   CV")
    for client, figs in results.items():
        lats = [f[0] for f in figs]
        cv = statistics.stdev(lats) / statistics.mean(lats) if len(lats) > 1 else 0.0
        print(f"{client:9s}  {', '.join(f'{x:.4f}' for x in lats):34s} {max(lats) / min(lats):.3f}              {cv:.2%}")
    ratios = [g[0] / v[0] for g, v in zip(results["guidellm"], results["vllm"])]
    ttft_ratios = [g[1] / v[1] for g, v in zip(results["guidellm"], results["vllm"])]
    print(f"\nGuideLLM / vLLM client, mean latency: {', '.join(f'{r:.3f}' for r in ratios)} "
          f"(mean {statistics.mean(ratios):.3f}); TTFT: {', '.join(f'{r:.3f}' for r in ttft_ratios)}")
    print(f"artifacts: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
