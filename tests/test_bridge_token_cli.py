"""The bridge token on the command line: a node that listens for links from
the network will not start without one (else any peer that reaches its port
feeds its tunnels), and a token file that cannot be read is named, with no
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.bridge.natsd import free_port
from two_nodes import two_nodes

pytestmark = pytest.mark.timeout(60)


def _node(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NANONET_BRIDGE_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run([sys.executable, "-m", "nanonet.cli", "node", "--name", "b",
                           "--listen", f"127.0.0.1:{free_port()}", "--timeout", "20", *args,
                           str(two_nodes(tmp, 10))], env=env, text=True, capture_output=True,
                          timeout=50)


def test_a_listening_node_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    done = _node(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "takes links from the network, and this node has no bridge token" in done.stderr
    assert "--token-file" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_token_file_is_no_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    done = _node(tmp_path, "--token-file", str(tmp_path / "token"))
    assert done.returncode == 1 and "no bridge token" in done.stderr, done.stderr


def test_a_token_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    done = _node(tmp_path, "--token-file", str(tmp_path / "missing"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nanonet: invalid-value: --token-file" in done.stderr and "missing" in done.stderr
    assert "Traceback" not in done.stderr
