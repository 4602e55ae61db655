"""Propose thresholds from N repeated results files, as a thresholds.yaml patch for review.

  tools/calibrate RUN1.json RUN2.json RUN3.json [--thresholds FILE] [--margin 0.1] > thresholds.patch
  git apply thresholds.patch     # after reading it

Each target thresholds.yaml sets becomes the worst figure the runs saw, less the
margin (fixtures/harness/calibrate.py says how). At least three runs are needed
(--min-runs), so that a threshold never rests on one measurement.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fixtures.harness.calibrate import calibration_patch
from fixtures.harness.results import ResultsError, load_results
from fixtures.harness.yaml_lines import ConfigError

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--thresholds", type=Path, default=REPO / "thresholds.yaml")
    ap.add_argument("--margin", type=float, default=0.10, help="relative margin (default 0.10)")
    ap.add_argument("--min-runs", type=int, default=3)
    args = ap.parse_args(argv)
    if len(args.results) < args.min_runs:
        print(f"calibrate: {len(args.results)} results file(s); at least {args.min_runs} runs are needed",
              file=sys.stderr)
        return 2
    try:
        docs = [load_results(p) for p in args.results]
        diff, notes = calibration_patch(args.thresholds, docs, args.margin)
    except (ResultsError, ConfigError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(diff or "")
    for note in notes:
        print(f"calibrate: {note}", file=sys.stderr)
    if not diff:
        print("calibrate: no target of the thresholds file was measured by these runs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
