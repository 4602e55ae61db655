"""tools/rescore: the mistral-evals comparison cases go through the command and come back scored the same."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]
CASES = REPO / "tests" / "data" / "metrics" / "mistral_evals_cases.jsonl"


def test_rescore_reproduces_recorded_scores():
    lines = [json.loads(l) for l in CASES.read_text().splitlines()[:400]]
    stdin = "".join(json.dumps({k: c[k] for k in ("metric", "prediction", "references")}) + "\n" for c in lines)
    out = subprocess.run([sys.executable, str(REPO / "tools" / "rescore.py")], input=stdin, capture_output=True,
                         text=True, check=True)
    scored = [json.loads(l) for l in out.stdout.splitlines()]
    assert [s["score"] for s in scored] == [c["score"] for c in lines]


def test_bad_line_names_its_number():
    out = subprocess.run([sys.executable, str(REPO / "tools" / "rescore.py")], capture_output=True, text=True,
                         input='{"metric": "anls", "prediction": "a", "references": ["a"]}\n{"metric": "bleu"}\n')
    assert out.returncode == 2 and "<stdin>:2:" in out.stderr
