"""The offline bundle's selection, splitting and install script, without a registry."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.tool_modules import load_tool

ob = load_tool("offline_bundle")


def test_host_package_lists_in_every_pip_format():
    text = ("Package    Version\n---------- -------\ntorch      2.11.0\nNumPy 2.5.2\n"
            "transformers==5.17.0\nfoo @ file:///x\npytest\n# comment\n")
    assert ob.parse_host_packages(text) == {"torch": "2.11.0", "numpy": "2.5.2", "transformers": "5.17.0",
                                            "foo": None, "pytest": None}


def test_selection_drops_what_the_host_has_and_the_curated_exclusions():
    resolved = {"vllm": "0.26.0", "torch": "2.11.0", "numpy": "2.3.5", "transformers": "5.16.1",
                "pytest": "8.4.2", "flashinfer-python": "0.6.14", "pydantic": "2.14.3"}
    host = {"torch": "2.11.0", "numpy": "2.5.2", "transformers": "5.17.0", "pytest": None}
    pins = {"vllm": "0.26.0", "transformers": "5.16.1", "pytest": "8.4.2", "pydantic": "2.14.3"}
    keep, dropped = ob.select_wheels(resolved, host, pins, {"flashinfer-python": "optional kernels"})
    # transformers and pytest are pinned by the project at versions the host may not have: they travel.
    assert keep == {"vllm": "0.26.0", "transformers": "5.16.1", "pytest": "8.4.2", "pydantic": "2.14.3"}
    assert dropped == {"flashinfer-python": "excluded: optional kernels", "numpy": "the host has numpy 2.5.2",
                       "torch": "the host has torch 2.11.0"}


def test_every_exclusion_has_a_reason(tmp_path):
    exclusions = ob.load_exclusions(Path(ob.HERE) / "bundle" / "exclude.yaml")
    assert "flashinfer-python" in exclusions and all(exclusions.values())
    bad = tmp_path / "exclude.yaml"
    bad.write_text("- name: foo\n")
    with pytest.raises(ValueError, match="entry 1 needs a name and a reason"):
        ob.load_exclusions(bad)


def test_pins_and_wheel_names():
    assert ob.parse_pins(["lm-eval[api]==0.4.13", "vllm==0.26.0  # why", "rich", ""]) == {
        "lm-eval": "0.4.13", "vllm": "0.26.0", "rich": None}
    assert ob.wheel_name_version("lm_eval-0.4.13-py3-none-any.whl") == ("lm-eval", "0.4.13")
    with pytest.raises(ValueError):
        ob.wheel_name_version("vllm-0.26.0.tar.gz")


def _fake_wheel(directory: Path, name: str, version: str) -> str:
    """A real, installable pure-Python wheel (one module)."""
    filename = f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}.py", f"VERSION = {version!r}\n")
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")
    (directory / filename).write_bytes(buf.getvalue())
    return filename


@pytest.fixture
def bundle(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    names = [_fake_wheel(wheels, f"gatepkg{i}", "1.0") for i in range(3)]
    meta = {"python_version": "%d.%d" % sys.version_info[:2], "torch": None}
    out = tmp_path / "bundle"
    meta = ob.write_bundle(wheels, names, out, 4096, meta)  # the tar (~10 KiB) splits into 3 parts
    return out, meta


def _install(out: Path, target: Path):
    return subprocess.run(["bash", str(out / "install.sh"), str(out / "parts"), str(target)],
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin",
                                                                           "PYTHON": sys.executable})


def test_bundle_splits_checksums_and_installs(bundle, tmp_path):
    out, meta = bundle
    assert len(meta["parts"]) >= 2
    assert all((out / "parts" / p).stat().st_size <= 4096 for p in meta["parts"])
    proc = _install(out, tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "site").glob("gatepkg*.py")) == ["gatepkg0.py", "gatepkg1.py",
                                                                             "gatepkg2.py"]


def _drop_second_part(out: Path, meta: dict) -> str:
    (out / "parts" / meta["parts"][1]).unlink()
    return f"missing part {meta['parts'][1]}"


def _corrupt_first_part(out: Path, meta: dict) -> str:
    part = out / "parts" / meta["parts"][0]
    part.write_bytes(b"x" + part.read_bytes()[1:])
    return f"checksum mismatch: {part}"


@pytest.mark.parametrize("damage", [_drop_second_part, _corrupt_first_part])
def test_install_stops_on_a_bad_part_before_installing(bundle, tmp_path, damage):
    out, meta = bundle
    expected = damage(out, meta)
    proc = _install(out, tmp_path / "site")
    assert proc.returncode == 1
    assert expected in proc.stderr
    assert not (tmp_path / "site").exists()


def test_install_stops_on_the_wrong_python_or_torch(bundle, tmp_path):
    out, _ = bundle
    script = (out / "install.sh").read_text()
    (out / "install.sh").write_text(script.replace('= "%d.%d" ]' % sys.version_info[:2], '= "3.99" ]')
                                    .replace("this bundle is for Python %d.%d" % sys.version_info[:2],
                                             "this bundle is for Python 3.99"))
    proc = _install(out, tmp_path / "site")
    assert proc.returncode == 1
    assert "this bundle is for Python 3.99; " in proc.stderr
    meta = {"python_version": "%d.%d" % sys.version_info[:2], "torch": "0.0.1", "cuda_major": "13"}
    out2 = tmp_path / "b2"
    ob.write_bundle(tmp_path / "wheels", [], out2, 4096, meta)
    proc = _install(out2, tmp_path / "site2")
    assert proc.returncode == 1
    assert "this bundle needs torch 0.0.1; the host has" in proc.stderr or "cannot import torch" in proc.stderr
    assert json.loads((out2 / "bundle.json").read_text())["torch"] == "0.0.1"


def test_a_reused_wheel_folder_gives_only_the_chosen_versions():
    _chosen = ob._chosen
    packages = {"vllm": "0.26.0", "apache-tvm-ffi": "0.1.10"}
    assert _chosen(("vllm", "0.26.0"), packages) and _chosen(("apache-tvm-ffi", "0.1.10"), packages)
    assert not _chosen(("vllm", "0.33.0"), packages) and not _chosen(("apache-tvm-ffi", "0.1.11"), packages)
    assert not _chosen(("torch", "2.11.0"), packages)
