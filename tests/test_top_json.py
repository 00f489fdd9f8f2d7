"""``nanonet top --json``: one snapshot of a real control server, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nanonet import Mesh
from nanonet.observe import Observer

pytestmark = pytest.mark.timeout(120)
TOKEN = "top-json-token"


def test_top_json_prints_the_snapshot_top_draws() -> None:
    with Mesh() as mesh:
        mesh.tunnel("jobs", slots=64, max_payload=32)
        writer = mesh.writer("jobs")
        for i in range(3):
            writer.send(b"job %d" % i)
        with Observer(mesh) as obs:
            server = obs.serve(port=0, token=TOKEN)
            done = subprocess.run(
                [sys.executable, "-m", "nanonet.cli", "top", "--json", "--connect",
                 f"127.0.0.1:{server.port}", "--token", TOKEN],
                capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)
    assert set(snap) >= {"services", "tunnels"}
    [jobs] = [t for t in snap["tunnels"] if t["name"] == "jobs"]
    assert jobs["sent"] == 3
