"""Render a gate results file as Markdown and PNGs, or compare two results files.

  tools/report RESULTS.json [--out DIR]          writes DIR/report.md, recovery.png, latency_vs_load.png
  tools/report A.json B.json ... --out DIR       one report of a run split over several commands
                                                 (also writes DIR/results.json, the merged file)
  tools/report OLD.json --compare NEW.json       lists what regressed from OLD to NEW (exit 1 if anything did)
  --require-pass                                 exit 1 unless the verdict is PASS (the shards of a CI matrix)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fixtures.harness.report import compare, render
from fixtures.harness.results import ResultsError, load_results, merge_results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, help="output folder (default: report/ beside the results file)")
    ap.add_argument("--compare", type=Path, metavar="NEW", help="a later results file to compare against")
    ap.add_argument("--require-pass", action="store_true",
                    help="exit 1 unless the (merged) verdict is PASS: a CI step that gates on the merge")
    args = ap.parse_args(argv)
    try:
        docs = [load_results(p) for p in args.results]
        sharded = any((d.get("selection") or {}).get("shard") for d in docs)  # one shard alone is a merge missing some
        doc = docs[0] if len(docs) == 1 and not sharded else merge_results(docs, [str(p) for p in args.results])
        for note in (doc.get("shards") or {}).get("notes", []):
            print(f"report: {note}", file=sys.stderr)
        if args.compare:
            regressions = compare(doc, load_results(args.compare), str(args.results[0]), str(args.compare))
            print("\n".join(regressions) if regressions else f"no regression from {args.results[0]} to {args.compare}")
            return 1 if regressions else 0
        out = args.out or args.results[0].parent / "report"
        if len(docs) > 1:
            out.mkdir(parents=True, exist_ok=True)
            (out / "results.json").write_text(json.dumps(doc, indent=1))
        md = render(doc, out)
    except ResultsError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print(md)
    if args.require_pass and (doc.get("verdict") or {}).get("verdict") != "PASS":
        print(f"report: verdict {(doc.get('verdict') or {}).get('verdict')}: "
              f"{(doc.get('verdict') or {}).get('reason')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
