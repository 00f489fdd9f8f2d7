"""``nanonet replay`` and ``nanonet tap`` against a real control server: names
are encoded, an unknown tunnel or a foreign capture is one line and a non-zero
exit, Simple Packet Blocks are read, an empty capture is said to be empty."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer, PcapngWriter, read_packets
from nanonet.observe.pcapng import IDB, SPB, PcapngError, replay_messages, section_header
from nanonet.observe.server import ControlServer
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(120)
TOKEN = "s3cret-token"
NAMES = ("a+b", "a b", "in")
MSGS = [struct.pack("<I", i) + b"payload" for i in range(5)]


@pytest.fixture
def served() -> Iterator[tuple[Mesh, ControlServer]]:
    with Mesh() as mesh:
        for name in NAMES:
            mesh.tunnel(name, slots=64, max_payload=32)
        with Observer(mesh) as obs:
            yield mesh, obs.serve(port=0, token=TOKEN)


def _cli(server: ControlServer, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "nanonet.cli", *args, "--connect", f"127.0.0.1:{server.port}",
           "--token", TOKEN]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _capture(path: Path, msgs: list[bytes], name: str = "in") -> Path:
    with open(path, "wb") as f:
        w = PcapngWriter(f, name)
        for i, m in enumerate(msgs):
            w.write(m, i)
    return path


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def _idb(linktype: int, snaplen: int = 0) -> bytes:
    return _block(IDB, struct.pack("<HHI", linktype, 0, snaplen))


def _spb(data: bytes) -> bytes:
    return _block(SPB, struct.pack("<I", len(data)) + data)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, \
        done.stderr
    return done.stderr


def test_replay_into_names_that_need_encoding(served: tuple[Mesh, ControlServer],
                                              tmp_path: Path) -> None:
    mesh, server = served
    cap = _capture(tmp_path / "in.pcapng", MSGS)
    readers = {name: mesh.reader(name) for name in NAMES}
    for name in ("a+b", "a b"):
        done = _cli(server, "replay", str(cap), "--into", name)
        assert done.returncode == 0, done.stderr
        assert f"sent 5 messages into {name!r}" in done.stderr
        assert readers[name].recv_many(100, timeout=10) == MSGS
        assert all(r.try_recv_many() == [] for r in readers.values())  # nowhere else


def test_replay_into_an_unknown_tunnel_lists_the_tunnels(served: tuple[Mesh, ControlServer],
                                                         tmp_path: Path) -> None:
    _mesh, server = served
    done = _cli(server, "replay", str(_capture(tmp_path / "in.pcapng", MSGS)), "--into", "nope")
    line = _one_line(done)
    assert "no tunnel named 'nope'" in line and "tunnels: a b, a+b, in" in line
    assert '"error"' not in line  # the server's words, not its JSON


def test_replay_refuses_a_capture_of_another_link_type(served: tuple[Mesh, ControlServer],
                                                       tmp_path: Path) -> None:
    mesh, server = served
    eth = tmp_path / "eth.pcapng"
    eth.write_bytes(section_header() + _idb(1) + _spb(bytes(60)))
    reader = mesh.reader("in")
    line = _one_line(_cli(server, "replay", str(eth), "--into", "in"))
    assert "link type 1 (Ethernet)" in line and str(eth) in line
    with open(eth, "rb") as f, pytest.raises(PcapngError, match=r"link type 1 \(Ethernet\)"):
        replay_messages(f)
    assert reader.try_recv_many() == []


def test_replay_reads_simple_packet_blocks(served: tuple[Mesh, ControlServer],
                                           tmp_path: Path) -> None:
    mesh, server = served
    cap = tmp_path / "simple.pcapng"
    cap.write_bytes(section_header() + _idb(147) + b"".join(_spb(m) for m in MSGS))
    done = _cli(server, "replay", str(cap), "--into", "in")
    assert done.returncode == 0 and "sent 5 messages" in done.stderr, done.stderr
    assert mesh.reader("in").recv_many(100, timeout=10) == MSGS


def test_simple_packet_blocks_are_cut_at_the_snaplen() -> None:
    raw = section_header() + _idb(147, snaplen=4) + _spb(b"abcdefgh") + _spb(b"xy")
    assert [p.data for p in read_packets(io.BytesIO(raw))] == [b"abcd", b"xy"]
    with pytest.raises(PcapngError, match="before any interface"):
        list(read_packets(io.BytesIO(section_header() + _spb(b"abc"))))


def test_replay_of_a_capture_with_no_packets_fails(served: tuple[Mesh, ControlServer],
                                                   tmp_path: Path) -> None:
    _mesh, server = served
    line = _one_line(_cli(server, "replay", str(_capture(tmp_path / "e.pcapng", [])),
                          "--into", "in"))
    assert "holds no packets" in line


def test_tap_of_a_name_that_needs_encoding(served: tuple[Mesh, ControlServer],
                                           tmp_path: Path) -> None:
    mesh, server = served
    out = tmp_path / "tap.pcapng"
    cmd = [sys.executable, "-m", "nanonet.cli", "tap", "a+b", "-w", str(out), "--count", "5",
           "--connect", f"127.0.0.1:{server.port}", "--token", TOKEN]
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
        try:
            ring = mesh.tunnels["a+b"].ring
            wait_until(lambda: ring.u32(L.OFF_TAP_MODE) == 1 or proc.poll() is not None,
                       "the tap is attached", 60)
            assert mesh.tunnels["a b"].ring.u32(L.OFF_TAP_MODE) == 0
            mesh.writer("a+b").send_many(MSGS, timeout=10)
            assert mesh.reader("a+b").recv_many(100, timeout=10) == MSGS
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    with open(out, "rb") as f:
        got = list(read_packets(f))
    assert [p.data for p in got] == MSGS and {p.interface for p in got} == {"a+b"}


def test_tap_of_an_unknown_tunnel_leaves_no_file(served: tuple[Mesh, ControlServer],
                                                 tmp_path: Path) -> None:
    _mesh, server = served
    out = tmp_path / "none.pcapng"
    line = _one_line(_cli(server, "tap", "x y", "-w", str(out)))
    assert "no tunnel named 'x y'" in line and not out.exists()
