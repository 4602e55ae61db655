"""What `pytest -m MARKER` will cost before it runs: wall time and GPU-hours per check, suite and deployment.

    tools/estimate -m a100 [--results FILE ...] [--rates FILE ...] [--eval-concurrency N] [--limit N]

--results: past results files of the same checks (each check's measured duration).
--rates:   tools/bench_eval.py --json-out files (the accuracy client's measured request rates);
           default: every reports/*/eval-rates.jsonl.
Runs nothing; every figure names the measurement and hardware it rests on (fixtures/harness/estimate.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fixtures.harness.estimate import bench_levels, committed_levels, estimate, past_durations, render
from fixtures.harness.thresholds import load_thresholds
from fixtures.harness.yaml_lines import ConfigError

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", dest="marker", required=True, help="a hardware profile's marker (smoke, a100, h200, ...)")
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    ap.add_argument("--results", type=Path, nargs="*", default=[], help="past results files (results.json)")
    ap.add_argument("--rates", type=Path, nargs="*", default=None, help="bench_eval --json-out files")
    ap.add_argument("--eval-concurrency", type=int, default=None,
                    help="as the run will use (default: each hardware profile's eval_concurrency)")
    ap.add_argument("--limit", type=int, default=None, help="as the run's --limit")
    args = ap.parse_args(argv)
    try:
        cfg = load_thresholds(args.thresholds)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    markers = sorted({h.marker for h in cfg.hardware.values()})
    if args.marker not in markers:
        print(f"no hardware profile of {args.thresholds} has marker {args.marker!r} (markers: {', '.join(markers)})",
              file=sys.stderr)
        return 2
    missing = [p for p in [*args.results, *(args.rates or [])] if not p.is_file()]
    if missing:
        print(f"not a file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    levels = bench_levels(args.rates) if args.rates is not None else committed_levels()
    estimates = estimate(cfg, args.marker, past_durations(args.results), levels,
                         args.eval_concurrency, args.limit)
    print(render(estimates, args.marker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
