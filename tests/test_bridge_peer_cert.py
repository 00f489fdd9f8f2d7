"""A pinned QUIC certificate between two node processes: node b listens with
a certificate of its own (``--listen-cert``/``--listen-key``), the main node
dials it with ``--peer-cert``. The right certificate carries the stream; a
listener presenting another one is refused with a message naming the option,
and there is no WebSocket fallback (plain WebSocket could not show it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.bridge.natsd import free_port
from nanonet.bridge.quic import make_certificate
from two_nodes import two_nodes

pytestmark = pytest.mark.timeout(120)
COUNT = 5_000


def _nanonet(tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args, "--token-file",
                             str(tmp / "token"), "--timeout", "60"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _pair(tmp: Path, pinned: Path) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """Run b (listening with the certificate in ``tmp``) and the main node
    (pinning ``pinned``): each one's (exit status, stdout, stderr)."""
    path = two_nodes(tmp, COUNT)
    (tmp / "token").write_text("t")
    where = f"127.0.0.1:{free_port()}"
    b = _nanonet(tmp, "node", "--name", "b", "--listen", where, "--listen-cert",
                 str(tmp / "bridge-cert.pem"), "--listen-key", str(tmp / "bridge-key.pem"),
                 str(path))
    main = _nanonet(tmp, "run", "--peer", f"b={where}", "--peer-cert", str(pinned), str(path))
    out_main, err_main = main.communicate(timeout=100)
    if main.returncode != 0:
        b.terminate()
    out_b, err_b = b.communicate(timeout=100)
    return (main.returncode, out_main, err_main), (b.returncode, out_b, err_b)


def test_the_pinned_certificate_carries_the_stream(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path)
    (code, out, err), (code_b, out_b, err_b) = _pair(tmp_path, cert)
    assert code == 0 and code_b == 0, out + err + out_b + err_b
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert "node main: tunnel stream was bridged over quic" in err, err


def test_a_listener_with_another_certificate_is_refused(tmp_path: Path) -> None:
    make_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = make_certificate(tmp_path / "other")
    (code, out, err), _ = _pair(tmp_path, other)
    assert code == 1, out + err
    assert "presents another certificate than the one --peer-cert pins" in err, err
    assert "websocket" not in err.lower(), err  # no fallback around the pin
