"""tools/convert_smollm2.py refuses a corrupt GGUF with a message naming the file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_truncated_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)  # a header, then nothing
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "convert_smollm2.py"), "--gguf", str(bad),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"{bad}: cannot be read as GGUF" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_gguf_is_named(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "convert_smollm2.py"), "--gguf",
                           str(tmp_path / "nope.gguf"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "nope.gguf: no such GGUF file" in proc.stderr
