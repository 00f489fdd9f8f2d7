"""``nanonet check`` on a manifest with nodes says where each service runs
and which tunnels cross between nodes (text and --json); a one-node
manifest says nothing of nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nanonet.bridge.placement import crossings, lines
from nanonet.manifest.manifest import load_manifest
from two_nodes import two_nodes


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "nanonet.cli", "check", "--no-load", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_check_shows_nodes_and_bridged_tunnels(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, 10)
    done = _check(str(path))
    assert done.returncode == 0, done.stderr
    assert "  main: producer\n  b: checker\n" in done.stdout
    assert "stream: producer on main -> checker on b" in done.stdout
    assert "bridged tunnels (NATS, or QUIC (WebSocket if QUIC cannot connect)" in done.stdout
    doc = json.loads(_check("--json", str(path)).stdout)
    assert doc["nodes"] == {"main": ["producer"], "b": ["checker"]}
    assert doc["bridged"] == [{"tunnel": "stream", "writer": "producer", "writer_node": "main",
                               "reader": "checker", "reader_node": "b"}]


def test_a_one_node_manifest_has_no_placement(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, 10)
    path.write_text(path.read_text().replace('node = "b"\n', ""))
    m = load_manifest(path)
    assert crossings(m.table) == [] and lines(m.table) == []
    doc = json.loads(_check("--json", str(path)).stdout)
    assert "nodes" not in doc and "bridged" not in doc
