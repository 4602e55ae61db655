"""Render a gate results file as Markdown and PNGs, or compare two results files.

  tools/report RESULTS.json [--out DIR]          writes DIR/report.md, recovery.png, latency_vs_load.png
  tools/report OLD.json --compare NEW.json       lists what regressed from OLD to NEW (exit 1 if anything did)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.harness.report import compare, render  # noqa: E402
from fixtures.harness.results import ResultsError, load_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, help="output folder (default: report/ beside the results file)")
    ap.add_argument("--compare", type=Path, metavar="NEW", help="a later results file to compare against")
    args = ap.parse_args(argv)
    try:
        doc = load_results(args.results)
        if args.compare:
            regressions = compare(doc, load_results(args.compare), str(args.results), str(args.compare))
            print("\n".join(regressions) if regressions else f"no regression from {args.results} to {args.compare}")
            return 1 if regressions else 0
        md = render(doc, args.out or args.results.parent / "report")
    except ResultsError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
