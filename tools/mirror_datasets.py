"""Make a datasets mirror for offline runs of the real accuracy tasks (run on a connected machine).

    tools/mirror_datasets --out DIR [--task NAME ...] [--pin]

For every vision task of fixtures/datasets.yaml: resolves its revision to a hub
commit and fetches that commit's files for the task's split into
DIR/<owner>/<name>/<revision>/, with MIRROR.json recording the commit. For every
text task: has lm-eval load its datasets into DIR/hf-datasets-cache. --pin
rewrites each fetched task's revision in fixtures/datasets.yaml as the commit.
Then, offline: pytest ... --datasets-dir DIR (or GATE_DATASETS_DIR=DIR).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

from fixtures.harness.accuracy.datasets import (DATASETS_FILE, MIRROR_MANIFEST, SCHEMA_VERSION, TEXT_CACHE,
                                                DatasetsFile, mirror_path, mirror_patterns)
from fixtures.harness.yaml_lines import ConfigError, validate_file


def pin_revisions(text: str, lines: dict, commits: dict[str, str]) -> str:
    """datasets.yaml's text with vision.<task>.revision set to each task's commit (comments kept)."""
    out = text.splitlines(keepends=True)
    for task, commit in commits.items():
        number = lines.get(("vision", task, "revision"))
        if number is None:
            raise KeyError(f"vision.{task}.revision is not in the file")
        out[number - 1] = re.sub(r"(revision:\s*)\S+", rf"\g<1>{commit}", out[number - 1], count=1)
    return "".join(out)


def mirror_vision(out: Path, spec) -> str:
    from huggingface_hub import HfApi, snapshot_download
    commit = HfApi().dataset_info(spec.repo, revision=spec.revision).sha
    target = mirror_path(out, spec)
    snapshot_download(spec.repo, repo_type="dataset", revision=commit, local_dir=target,
                      allow_patterns=mirror_patterns(spec))
    (target / MIRROR_MANIFEST).write_text(json.dumps(
        {"repo": spec.repo, "revision": spec.revision, "commit": commit,
         "fetched": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}, indent=1) + "\n")
    return commit


def mirror_text(out: Path, task: str) -> None:
    os.environ["HF_DATASETS_CACHE"] = str(out / TEXT_CACHE)  # read by `datasets` when lm-eval loads the task
    from lm_eval.tasks import TaskManager, get_task_dict
    get_task_dict([task], TaskManager())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="the mirror directory (created)")
    ap.add_argument("--task", action="append", help="only these tasks (default: every task of datasets.yaml)")
    ap.add_argument("--pin", action="store_true", help="write the fetched commits into fixtures/datasets.yaml")
    args = ap.parse_args(argv)
    try:
        cfg, lines = validate_file(DATASETS_FILE, DatasetsFile, SCHEMA_VERSION)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    wanted = set(args.task or [*cfg.vision, *cfg.text])
    unknown = wanted - set(cfg.vision) - set(cfg.text)
    if unknown:
        print(f"unknown task(s) {sorted(unknown)}; {DATASETS_FILE} names {sorted([*cfg.vision, *cfg.text])}",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    commits, failed = {}, []
    for name, spec in cfg.vision.items():
        if name in wanted:
            try:
                commits[name] = mirror_vision(args.out, spec)
                print(f"{name}: {spec.repo}@{spec.revision} -> {commits[name]} in {mirror_path(args.out, spec)}")
            except Exception as exc:  # each task on its own: one unreachable repo does not stop the others
                failed.append(name)
                print(f"{name}: {spec.repo}@{spec.revision}: {type(exc).__name__}: {exc}", file=sys.stderr)
    for task in cfg.text:
        if task in wanted:
            try:
                mirror_text(args.out, task)
                print(f"{task}: lm-eval datasets cached in {args.out / TEXT_CACHE}")
            except Exception as exc:
                failed.append(task)
                print(f"{task}: {type(exc).__name__}: {exc}", file=sys.stderr)
    if args.pin and commits:
        DATASETS_FILE.write_text(pin_revisions(DATASETS_FILE.read_text(), lines, commits))
        print(f"pinned {', '.join(sorted(commits))} in {DATASETS_FILE}")
    if failed:
        print(f"not mirrored: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
