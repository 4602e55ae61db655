#!/usr/bin/env python3
"""Score predictions without the model, with the gate's mistral-evals-compatible metrics.

    tools/rescore [FILE]   # or standard input

Each input line is {"metric": NAME, "prediction": STR, "references": [STR, ...]};
each output line is the same object with "score" added. NAME is one of
vqa_match, anls, relaxed_correctness, explicit_prompt_relaxed_correctness,
anywhere_in_answer_relaxed_correctness. A bad line stops with its line number.
"""
from __future__ import annotations

import json
import sys

from fixtures.harness.accuracy.metrics import MetricError, score


def main(argv: list[str]) -> int:
    source = open(argv[0]) if argv else sys.stdin
    name = argv[0] if argv else "<stdin>"
    for lineno, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["score"] = score(row["metric"], row["prediction"], row["references"])
        except (json.JSONDecodeError, KeyError, TypeError, MetricError) as exc:
            print(f"{name}:{lineno}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
