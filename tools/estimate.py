"""What `pytest -m MARKER` will cost before it runs: wall time and GPU-hours per check, suite and deployment.

    tools/estimate -m a100 [--results FILE ...] [--rates FILE ...] [--eval-concurrency N] [--limit N]
                           [--against RESULTS]

--results: past results files of the same checks (each check's measured duration); default: every
           reports/*/results.json, the runs the project ships.
--against: a run's results file: the estimate beside what it measured, and the ratio.
--rates:   tools/bench_eval.py --json-out files (the accuracy client's measured request rates);
           default: every reports/*/eval-rates.jsonl.
Runs nothing; every figure names the measurement and hardware it rests on (fixtures/harness/estimate.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fixtures.harness.estimate import (against_run, bench_levels, committed_levels, committed_results, estimate,
                                       past_durations, render)
from fixtures.harness.results import ResultsError, load_results
from fixtures.harness.thresholds import load_thresholds
from fixtures.harness.yaml_lines import ConfigError

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", dest="marker", required=True, help="a hardware profile's marker (smoke, a100, h200, ...)")
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    ap.add_argument("--results", type=Path, nargs="*", default=None,
                    help="past results files (default: every reports/*/results.json, a later one winning)")
    ap.add_argument("--rates", type=Path, nargs="*", default=None, help="bench_eval --json-out files")
    ap.add_argument("--eval-concurrency", type=int, default=None,
                    help="as the run will use (default: each hardware profile's eval_concurrency)")
    ap.add_argument("--limit", type=int, default=None, help="as the run's --limit")
    ap.add_argument("--against", type=Path, metavar="RESULTS", help="a run's results file: the estimate beside "
                                                                    "what that run measured, and their ratio")
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
    results = committed_results() if args.results is None else args.results
    missing = [p for p in [*results, *(args.rates or []), *([args.against] if args.against else [])]
               if not p.is_file()]
    if missing:
        print(f"not a file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    levels = bench_levels(args.rates) if args.rates is not None else committed_levels()
    estimates = estimate(cfg, args.marker, past_durations(results), levels,
                         args.eval_concurrency, args.limit)
    print(render(estimates, args.marker))
    if args.against:
        try:
            print("\n" + against_run(estimates, load_results(args.against), str(args.against)))
        except ResultsError as exc:
            print(exc, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
