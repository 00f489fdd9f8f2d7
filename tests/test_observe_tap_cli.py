"""``nanonet tap`` as a user runs it, against a real control server: a refused
tap leaves no file (nor truncates one), bad counts never reach the server,
``-w -`` is the standard output, several tunnels go into one capture in time
order, and the Lua dissector names the fields in tshark."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer, read_packets
from nanonet.observe.server import ControlServer
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(120)
TOKEN = "s3cret-token"


@pytest.fixture
def served() -> Iterator[tuple[Mesh, ControlServer]]:
    with Mesh() as mesh:
        for name in ("a", "b"):
            mesh.tunnel(name, slots=64, max_payload=32)
        with Observer(mesh) as obs:
            yield mesh, obs.serve(port=0, token=TOKEN)


def _command(server: ControlServer, *args: str) -> list[str]:
    return [sys.executable, "-m", "nanonet.cli", "tap", *args,
            "--connect", f"127.0.0.1:{server.port}", "--token", TOKEN]


def _cli(server: ControlServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(server, *args), capture_output=True, text=True, timeout=60)


def _attached(mesh: Mesh, *names: str) -> bool:
    return all(mesh.tunnels[n].ring.u32(L.OFF_TAP_MODE) == 1 for n in names)


def _copied(mesh: Mesh, name: str, counter: int) -> bool:
    """The tap's cursor is past message ``counter`` of ``name``: it was copied out."""
    return mesh.tunnels[name].ring.u64(L.OFF_TAP_TAIL) > counter


def test_a_refused_tap_creates_no_file_and_keeps_the_one_there(
        served: tuple[Mesh, ControlServer], tmp_path: Path) -> None:
    _mesh, server = served
    kept, fresh = tmp_path / "kept.pcapng", tmp_path / "fresh.pcapng"
    kept.write_bytes(b"yesterday's capture")
    for out in (kept, fresh):
        done = _cli(server, "nope", "-w", str(out))
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines == ["tap: no tunnel named 'nope' (tunnels: a, b)"], done.stderr
    assert kept.read_bytes() == b"yesterday's capture" and not fresh.exists()


@pytest.mark.parametrize("bad", [["--count", "-1"], ["--count", "0"], ["--sample", "0"],
                                 ["--stream", "-1"]], ids=" ".join)
def test_bad_numbers_are_refused_before_the_server_is_asked(
        served: tuple[Mesh, ControlServer], tmp_path: Path, bad: list[str]) -> None:
    mesh, server = served
    out = tmp_path / "out.pcapng"
    done = _cli(server, "a", "-w", str(out), *bad)
    assert done.returncode == 2, done.stderr
    assert f"argument {bad[0]}: must be" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr and not out.exists()
    assert mesh.tunnels["a"].ring.u64(L.OFF_TAP_TAIL) == 0 and not _attached(mesh, "a")


def test_a_folder_that_does_not_exist_is_said_before_the_server_is_asked(
        served: tuple[Mesh, ControlServer], tmp_path: Path) -> None:
    _mesh, server = served
    done = _cli(server, "a", "-w", str(tmp_path / "no" / "such.pcapng"))
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stderr


def test_dash_writes_the_capture_to_stdout(served: tuple[Mesh, ControlServer],
                                           tmp_path: Path) -> None:
    mesh, server = served
    msgs = [struct.pack("<I", i) + b"to stdout" for i in range(5)]
    with subprocess.Popen(_command(server, "a", "-w", "-", "--count", "5"), cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            wait_until(lambda: _attached(mesh, "a") or proc.poll() is not None,
                       "the tap is attached", 60)
            mesh.writer("a").send_many(msgs, timeout=10)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert [p.data for p in read_packets(io.BytesIO(out))] == msgs
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    assert b"to the standard output" in err


def _two_tunnel_capture(mesh: Mesh, server: ControlServer, out: Path) -> list[tuple[str, int]]:
    """Tap a and b into ``out`` while a host writer alternates between them,
    each message copied by the tap before the next is sent; what was sent."""
    writers = {n: mesh.writer(n) for n in ("a", "b")}
    order = [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    with subprocess.Popen(_command(server, "a", "b", "-w", str(out), "--count", "6"),
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            wait_until(lambda: _attached(mesh, "a", "b") or proc.poll() is not None,
                       "the tap is attached to both", 60)
            for name, counter in order:
                writers[name].send(struct.pack("<I", counter) + name.encode(), timeout=10)
                wait_until(partial(_copied, mesh, name, counter), "the tap copied it")
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    return order


def test_two_tunnels_into_one_capture_in_time_order(served: tuple[Mesh, ControlServer],
                                                    tmp_path: Path) -> None:
    mesh, server = served
    out = tmp_path / "ab.pcapng"
    order = _two_tunnel_capture(mesh, server, out)
    with open(out, "rb") as f:
        got = list(read_packets(f))
    assert [(p.interface, p.packet_id) for p in got] == order
    assert [p.data for p in got] == [struct.pack("<I", c) + n.encode() for n, c in order]
    times = [p.ts_ns for p in got]
    assert times == sorted(times)
    tshark = shutil.which("tshark")
    if tshark is None:
        return  # our own reader saw it all; tshark's reading is checked where installed
    fields = subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e",
                             "frame.interface_name", "-e", "frame.packet_id"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert [tuple(line.split("\t")) for line in fields.splitlines()] == [
        (n, str(c)) for n, c in order]


def _tshark_with_lua() -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/setup installs it from Debian)")
    version = subprocess.run([tshark, "-v"], capture_output=True, text=True, timeout=60).stdout
    if "without Lua" in version or "with Lua" not in version:
        pytest.skip("this tshark was built without Lua: the dissector cannot be loaded")
    return tshark


def test_the_lua_dissector_names_the_fields(served: tuple[Mesh, ControlServer],
                                            tmp_path: Path) -> None:
    tshark = _tshark_with_lua()
    mesh, server = served
    out = tmp_path / "ab.pcapng"
    order = _two_tunnel_capture(mesh, server, out)
    printed = subprocess.run([sys.executable, "-m", "nanonet.cli", "tap", "--dissector"],
                             capture_output=True, text=True, timeout=60, check=True)
    lua = Path(printed.stdout.strip())
    assert lua.is_file() and lua.name == "nanonet.lua"
    home = tmp_path / "home"  # no personal plugins: a dissector installed there is not this one
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")} | {"HOME": str(home)}
    plain = subprocess.run([tshark, "-r", str(out), "-V"], capture_output=True, text=True,
                           timeout=60, check=True, env=env).stdout
    assert "DLT=147" in plain  # without the dissector Wireshark has no name for the data
    verbose = subprocess.run([tshark, "-X", f"lua_script:{lua}", "-r", str(out), "-V"],
                             capture_output=True, text=True, timeout=60, check=True,
                             env=env).stdout
    assert "DLT=147" not in verbose and "nanonet tunnel message" in verbose
    assert "[Tunnel: b]" in verbose and "[Sequence (ring counter): 2]" in verbose
    assert "[Length: 5]" in verbose and "Payload: 0200000062" in verbose
    fields = subprocess.run(
        [tshark, "-X", f"lua_script:{lua}", "-r", str(out), "-T", "fields", "-e",
         "nanonet.tunnel", "-e", "nanonet.sequence", "-e", "nanonet.length", "-e",
         "nanonet.stream"], capture_output=True, text=True, timeout=60, check=True,
        env=env).stdout
    assert [tuple(line.split("\t")) for line in fields.splitlines()] == [
        (n, str(c), "5", str(c)) for n, c in order]
