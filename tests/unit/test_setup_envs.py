"""The environment installer's idempotence: a stamp that follows the pin files."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).parents[2]
spec = importlib.util.spec_from_file_location("setup_envs", REPO / "tools" / "setup_envs.py")
setup_envs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(setup_envs)


def test_every_environment_pins_exist_and_hash_stably():
    for name in setup_envs.ENV_SPECS:
        assert setup_envs.spec_hash(name) == setup_envs.spec_hash(name)


def test_stamp_follows_pin_file_content(tmp_path, monkeypatch):
    pins = tmp_path / "pins"
    pins.mkdir()
    for f in REPO.joinpath("tools", "envs").iterdir():
        (pins / f.name).write_text(f.read_text())
    monkeypatch.setattr(setup_envs, "PINS", pins)
    env = tmp_path / "runner"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("")
    (env / setup_envs.STAMP).write_text(setup_envs.spec_hash("runner") + "\n")
    assert setup_envs.is_current(env, "runner")
    (pins / "torch.txt").write_text("torch==9.9.9\n")  # the shared torch changed: the runner is stale too
    assert not setup_envs.is_current(env, "runner")


def test_every_pin_line_is_exact_or_commented():
    """Versions are pinned in one place; a bare name is allowed only where vLLM's own metadata leaves it open."""
    for f in ("torch.txt", "runner.txt", "runner-nodeps.txt", "server-cpu-nodeps.txt", "server-gpu.txt"):
        for line in REPO.joinpath("tools", "envs", f).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                assert "==" in line, f"{f}: {line!r} is not pinned"
