"""Port reservation: free now, and never handed to two holders at once."""
from __future__ import annotations

import socket
import subprocess
import sys

from fixtures.harness.ports import _try_lock, is_free, reserve_port


def test_reserved_port_is_free_and_locked():
    res = reserve_port()
    try:
        assert is_free(res.port)
        assert _try_lock(res.port) is None  # a second holder in this process is refused too
    finally:
        res.release()
    fd = _try_lock(res.port)
    assert fd is not None


def test_another_process_cannot_take_a_reserved_port():
    res = reserve_port()
    try:
        code = "from fixtures.harness.ports import _try_lock; print(_try_lock(%d) is None)" % res.port
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "True"
    finally:
        res.release()


def test_a_port_held_by_a_socket_is_not_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not is_free(s.getsockname()[1])
        assert reserve_port(avoid=set()).port != s.getsockname()[1]
