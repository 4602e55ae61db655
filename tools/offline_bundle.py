"""Make an offline bundle of the gate's server (vLLM) and runner packages for a GPU host without a registry.

  python3 tools/offline_bundle.py --host-packages HOST.txt --python-version 3.12 --out DIR \
      [--server vllm==0.26.0] [--part-size-mib 60]

Resolves the server requirement, the runner's packages for GPU hosts
(tools/bundle/runner-gpu-host.txt) and transformers' pin as wheels for the target
(CPython version, manylinux x86_64 of every glibc level), leaves out what the host
already has (HOST.txt: `pip list` or `pip freeze` output; a name without a version
counts as present) unless this project pins another version of it, and what
tools/bundle/exclude.yaml lists (each entry with its reason). Writes:

  DIR/parts/bundle.tar.NNN   the wheels in one tar, split into parts of --part-size-mib
  DIR/SHA256SUMS             checksums of the parts
  DIR/bundle.json            what is in it, what was left out and why, the target it was resolved for
  DIR/install.sh             PARTS_DIR TARGET_DIR: checks the host (Python, torch) and every part's
                             checksum, joins, checks every wheel, installs into a staging folder with
                             pip --no-index --no-deps, and only then moves it to TARGET_DIR
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import yaml
from packaging.version import Version

HERE = Path(__file__).resolve().parent
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in range(5, 40)] + ["manylinux2014_x86_64", "manylinux2010_x86_64",
                                                                  "manylinux1_x86_64", "linux_x86_64"]
MIB = 1 << 20


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_host_packages(text: str) -> dict[str, str | None]:
    """`pip freeze` (name==version), `pip list` (name  version, with a header) or bare names."""
    out: dict[str, str | None] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(("Package ", "---")):
            continue
        if "==" in line:
            name, version = line.split("==", 1)
        elif " @ " in line:
            name, version = line.split(" @ ", 1)[0], None
        else:
            parts = line.split()
            name, version = parts[0], (parts[1] if len(parts) > 1 else None)
        out[normalize(name)] = version.strip() if version else None
    return out


def parse_pins(lines: list[str]) -> dict[str, str | None]:
    """Requirement strings -> {name: exact version or None}."""
    pins: dict[str, str | None] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(==\s*([^;,\s]+))?", line)
        if m:
            pins[normalize(m.group(1))] = m.group(4)
    return pins


def wheel_name_version(filename: str) -> tuple[str, str]:
    parts = Path(filename).name.split("-")
    if len(parts) < 5 or not filename.endswith(".whl"):
        raise ValueError(f"not a wheel file name: {filename}")
    return normalize(parts[0]), parts[1]


def load_exclusions(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text()) or []
    out = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("reason"):
            raise ValueError(f"{path}: entry {i + 1} needs a name and a reason: {entry!r}")
        out[normalize(entry["name"])] = entry["reason"]
    return out


def select_wheels(resolved: dict[str, str], host: dict[str, str | None], pins: dict[str, str | None],
                  exclusions: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Which resolved packages travel ({name: version}), and why each other one does not."""
    keep, dropped = {}, {}
    for name, version in sorted(resolved.items()):
        if name in exclusions:
            dropped[name] = f"excluded: {exclusions[name]}"
        elif name in host and (name not in pins or host[name] == version):
            # What this project pins travels unless the host has that very version.
            dropped[name] = f"the host has {name} {host[name] or '(version not given)'}"
        else:
            keep[name] = version
    return keep, dropped


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def split_file(path: Path, part_bytes: int, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    with path.open("rb") as f:
        for i in range(10_000):
            block = f.read(part_bytes)
            if not block:
                break
            part = out_dir / f"{path.name}.{i:03d}"
            part.write_bytes(block)
            parts.append(part)
    return parts


INSTALL_SH = r"""#!/usr/bin/env bash
# Install the gate's offline bundle: PARTS_DIR TARGET_DIR. Stops, naming the problem,
# before anything is installed when the host or a part does not match.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
parts="${1:?usage: install.sh PARTS_DIR TARGET_DIR}"
target="${2:?usage: install.sh PARTS_DIR TARGET_DIR}"
python="${PYTHON:-python3}"
die() { echo "install.sh: $*" >&2; exit 1; }

have_py="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$have_py" = "@PYTHON_VERSION@" ] || die "this bundle is for Python @PYTHON_VERSION@; $python is $have_py"
if [ -n "@TORCH_VERSION@" ]; then
  have_torch="$("$python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)" \
    || die "this bundle needs the host's torch @TORCH_VERSION@; $python cannot import torch"
  [ "$have_torch" = "@TORCH_VERSION@" ] || die "this bundle needs torch @TORCH_VERSION@; the host has $have_torch"
  have_cuda="$("$python" -c 'import torch; print(torch.version.cuda or "none")')"
  case "$have_cuda" in @CUDA_MAJOR@.*) ;; *) die "this bundle needs a CUDA @CUDA_MAJOR@ torch; the host's is built for CUDA $have_cuda";; esac
fi
while read -r sum name; do
  [ -f "$parts/$name" ] || die "missing part $name in $parts"
  [ "$(sha256sum "$parts/$name" | cut -d' ' -f1)" = "$sum" ] || die "checksum mismatch: $parts/$name"
done < "$here/SHA256SUMS"
stage="$(mktemp -d "${TMPDIR:-/tmp}/gate-bundle.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cat $(sed 's/^[^ ]*  //' "$here/SHA256SUMS" | sed "s#^#$parts/#") | tar -x -C "$stage"
(cd "$stage/wheels" && sha256sum --quiet -c ../WHEELS.sha256) || die "a wheel does not match its checksum"
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$stage/site" "$stage"/wheels/*.whl
rm -rf "$target.old"; [ -e "$target" ] && mv "$target" "$target.old"
mv "$stage/site" "$target" && rm -rf "$target.old"
echo "installed $(ls "$stage"/wheels | wc -l) wheels into $target; use PYTHONPATH=$target"
"""


def write_bundle(wheel_dir: Path, keep: list[str], out: Path, part_bytes: int, meta: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "wheels").mkdir(parents=True)
    lines = []
    for wheel in keep:
        shutil.copy2(wheel_dir / wheel, staging / "wheels" / wheel)
        lines.append(f"{sha256(wheel_dir / wheel)}  {wheel}\n")
    (staging / "WHEELS.sha256").write_text("".join(lines))
    tar_path = out / "bundle.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(staging / "WHEELS.sha256", arcname="WHEELS.sha256")
        tar.add(staging / "wheels", arcname="wheels")
    shutil.rmtree(staging)
    shutil.rmtree(out / "parts", ignore_errors=True)
    parts = split_file(tar_path, part_bytes, out / "parts")
    tar_path.unlink()
    (out / "SHA256SUMS").write_text("".join(f"{sha256(p)}  {p.name}\n" for p in parts))
    script = INSTALL_SH
    for key, value in (("PYTHON_VERSION", meta["python_version"]), ("TORCH_VERSION", meta.get("torch") or ""),
                       ("CUDA_MAJOR", meta.get("cuda_major") or "")):
        script = script.replace(f"@{key}@", value)
    (out / "install.sh").write_text(script)
    (out / "install.sh").chmod(0o755)
    meta = {**meta, "parts": [p.name for p in parts], "bytes": sum(p.stat().st_size for p in parts)}
    (out / "bundle.json").write_text(json.dumps(meta, indent=1))
    return meta


def _platform_args(python_version: str) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    return args


def build_pure_wheel(requirement: str, dest: Path) -> Path:
    """A package published only as a source archive: build its wheel here, if it is pure Python."""
    before = set(dest.glob("*.whl"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest), requirement],
                          capture_output=True, text=True)
    built = sorted(set(dest.glob("*.whl")) - before)
    if proc.returncode != 0 or not built:
        raise SystemExit(f"offline_bundle: {requirement} has no wheel for the target and building one failed:\n"
                         + proc.stderr[-2000:])
    if not built[0].name.endswith("-none-any.whl"):
        raise SystemExit(f"offline_bundle: {requirement} has no wheel for the target and is not pure Python "
                         f"({built[0].name}): build it on the target and add it to the bundle")
    return built[0]


def resolve(requirements: list[str], python_version: str, scratch: Path, local_wheels: Path) -> dict[str, str]:
    """{name: version} pip resolves for the target, read from its install report (no wheel is downloaded).

    A dependency published only as a source archive gets a wheel built here (pure Python only)."""
    report = scratch / "resolution.json"
    scratch.mkdir(parents=True, exist_ok=True)
    local_wheels.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
               str(report), "--target", str(scratch / "never-written"), "--find-links", str(local_wheels),
               *_platform_args(python_version), *requirements]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            items = json.loads(report.read_text())["install"]
            return {normalize(i["metadata"]["name"]): i["metadata"]["version"] for i in items}
        missing = re.search(r"No matching distribution found for (\S+)", proc.stderr)
        if not missing:
            break
        print(f"offline_bundle: {missing.group(1)} has no wheel; building a pure-Python one")
        build_pure_wheel(missing.group(1), local_wheels)
    raise SystemExit(f"offline_bundle: pip could not resolve {requirements} for CPython {python_version}:\n"
                     + proc.stderr[-3000:])


def download(packages: dict[str, str], python_version: str, dest: Path) -> list[str]:
    """The chosen wheels, exactly those versions, for the target."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest),
           "--find-links", str(dest), *_platform_args(python_version),
           *(f"{n}=={v}" for n, v in sorted(packages.items()))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("offline_bundle: pip could not download the chosen wheels:\n" + proc.stderr[-3000:])
    # The folder may hold other versions from earlier bundles (a reused --wheel-cache): name and version must match.
    return sorted(p.name for p in dest.glob("*.whl") if _chosen(wheel_name_version(p.name), packages))


def _chosen(name_version: tuple[str, str], packages: dict[str, str]) -> bool:
    name, version = name_version
    return name in packages and Version(version) == Version(packages[name])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host-packages", type=Path, required=True, help="the host's `pip list` or `pip freeze`")
    ap.add_argument("--python-version", required=True, help="the host's Python, e.g. 3.12")
    ap.add_argument("--server", default=None, help="the vLLM requirement (default: tools/envs/server-gpu.txt)")
    ap.add_argument("--runner", type=Path, default=HERE / "bundle" / "runner-gpu-host.txt")
    ap.add_argument("--exclude", type=Path, default=HERE / "bundle" / "exclude.yaml")
    ap.add_argument("--part-size-mib", type=int, default=60)
    ap.add_argument("--wheel-cache", type=Path, default=None, help="where pip downloads (default: DIR/wheels)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    server = [args.server] if args.server else (HERE / "envs" / "server-gpu.txt").read_text().splitlines()
    runner = args.runner.read_text().splitlines()
    requirements = [r.split("#", 1)[0].strip() for r in server + runner if r.split("#", 1)[0].strip()]
    host = parse_host_packages(args.host_packages.read_text())
    pins = parse_pins(requirements)
    wheel_dir = args.wheel_cache or args.out / "wheels"
    resolved = resolve(requirements, args.python_version, args.out / "resolve", wheel_dir)
    keep, dropped = select_wheels(resolved, host, pins, load_exclusions(args.exclude))
    wheels = download(keep, args.python_version, wheel_dir)
    cuda = Counter(m.group(1) for n in resolved if n.startswith("nvidia-") and (m := re.search(r"-cu(\d+)$", n)))
    meta = {"python_version": args.python_version, "requirements": requirements, "torch": resolved.get("torch"),
            "cuda_major": cuda.most_common(1)[0][0] if cuda else None, "resolved": resolved, "wheels": wheels,
            "left_out": dropped}
    meta = write_bundle(wheel_dir, wheels, args.out, args.part_size_mib * MIB, meta)
    print(f"{len(wheels)} wheels, {meta['bytes'] / MIB:.0f} MiB in {len(meta['parts'])} part(s) under {args.out}; "
          f"{len(dropped)} left out (see bundle.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
