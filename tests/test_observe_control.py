"""The control endpoint under load and abuse: a bounded number of handler threads, silent
hang-ups, and a control file that is never written through a planted symbolic link nor
over another mesh's."""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.errors import ControlFileError
from nanonet.observe import Observer, attach
from nanonet.observe.client import Endpoint
from nanonet.observe.controlfile import read_control_file, write_control_file
from nanonet.observe.meshdir import claim, release, running_meshes
from nanonet.observe.server import MAX_CONNECTIONS, ControlServer


@pytest.fixture
def big_mesh() -> Iterator[tuple[Observer, ControlServer]]:
    """Enough tunnels that /metrics and a snapshot outgrow the socket buffers."""
    with Mesh() as mesh:
        for i in range(96):
            mesh.tunnel(f"tunnel-with-a-long-name-{i:03}", slots=16, max_payload=16)
        with Observer(mesh) as obs:
            yield obs, obs.serve(port=0)


def _connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _reset(sock: socket.socket) -> None:
    """Hang up the rude way: an RST, whatever the server is still sending."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_slow_clients_get_no_more_threads_than_the_cap(
        big_mesh: tuple[Observer, ControlServer]) -> None:
    _obs, server = big_mesh
    before = threading.active_count()
    extra = 8
    held = [_connect(server.port) for _ in range(MAX_CONNECTIONS)]
    for sock in held:  # a request line and a header, never the blank line that ends them
        sock.sendall(b"GET /api/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    wait_until(lambda: threading.active_count() - before >= MAX_CONNECTIONS,
               "every held connection has its thread")
    turned_away = [_connect(server.port) for _ in range(extra)]
    try:
        for sock in turned_away:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in turned_away:
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer
        with pytest.raises(urllib.error.HTTPError) as err:  # a client that sends at once
            urllib.request.urlopen(server.url + "/metrics", timeout=10)
        with err.value as refused:
            assert refused.code == 503 and b"too many connections" in refused.read()
        assert threading.active_count() - before == MAX_CONNECTIONS
        held[0].sendall(b"\r\n")  # one held request completes, and its slot is free again
        assert held[0].recv(64).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held + turned_away:
            sock.close()
    wait_until(lambda: threading.active_count() <= before, "the handler threads ended")
    with _connect(server.port) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200 ")


def test_clients_that_hang_up_mid_answer_leave_nothing_on_stderr(
        big_mesh: tuple[Observer, ControlServer], capfd: pytest.CaptureFixture[str]) -> None:
    _obs, server = big_mesh
    before = threading.active_count()
    for path in ("/metrics", "/api/snapshot", "/"):
        for _ in range(4):
            sock = _connect(server.port, rcvbuf=1024)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert sock.recv(16).startswith(b"HTTP/1.1 200")  # the answer has begun
            _reset(sock)
    sock = _connect(server.port)  # and one that leaves before its request is complete
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    _reset(sock)
    wait_until(lambda: threading.active_count() <= before, "the handler threads ended")
    assert capfd.readouterr().err == ""


def test_a_symlink_at_the_control_file_is_replaced_not_followed(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    home.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("left alone\n")
    victim.chmod(0o644)
    path = home / "control.json"
    path.symlink_to(victim)
    write_control_file(path, "http://127.0.0.1:1234", "tok-tok-tok")
    assert victim.read_text() == "left alone\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://127.0.0.1:1234", "token": "tok-tok-tok"}
    assert os.listdir(home) == ["control.json"]  # no temporary file left behind
    ep = Endpoint(None, None, path)
    assert (ep.url, ep.token) == ("http://127.0.0.1:1234", "tok-tok-tok")


def test_a_control_file_is_read_only_if_it_is_a_file_of_ones_own(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text(json.dumps({"url": "http://127.0.0.1:1", "token": "x" * 8}))
    link = tmp_path / "control.json"
    link.symlink_to(real)
    with pytest.raises(ControlFileError, match="symbolic link is not followed"):
        read_control_file(link)
    assert read_control_file(tmp_path / "absent.json") == {}
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(ControlFileError, match="is not a control file"):
        read_control_file(tmp_path / "junk.json")
    if os.geteuid() == 0:  # only root can give a file away to test a stranger's file
        os.chown(real, 65534, 65534)
        with pytest.raises(ControlFileError, match="not a file of your own"):
            read_control_file(real)


def test_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ControlFileError, match=r"writable by others.*chmod go-w"):
        write_control_file(shared / "control.json", "http://127.0.0.1:1", "x" * 8)
    assert os.listdir(shared) == []
    if os.geteuid() == 0:
        stranger = tmp_path / "stranger"
        stranger.mkdir(mode=0o755)
        os.chown(stranger, 65534, 65534)
        with pytest.raises(ControlFileError, match="belongs to uid 65534"):
            write_control_file(stranger / "control.json", "http://127.0.0.1:1", "x" * 8)


def test_dashboard_without_a_safe_control_file_says_how_to_connect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("NANONET_CONTROL_FILE", str(shared / "control.json"))
    args = argparse.Namespace(dashboard=True, observe_port=0, traces="none")
    with Mesh() as mesh, attach(mesh, args) as seen:
        err = capsys.readouterr().err
        assert f"dashboard: {seen.url}/#token=" in err
        assert "not writing the control file" in err and "--connect 127.0.0.1:" in err
    assert os.listdir(shared) == []


def test_a_mesh_file_never_replaces_a_link_or_a_live_meshs_file_but_takes_a_stale_ones(
        tmp_path: Path) -> None:
    meshes = tmp_path / "meshes"
    meshes.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("left alone\n")
    (meshes / "edge.json").symlink_to(victim)
    first = claim("edge", "http://127.0.0.1:1", "token-one", meshes)
    assert first.name == "edge-2.json" and victim.read_text() == "left alone\n"
    second = claim("edge", "http://127.0.0.1:2", "token-two", meshes)
    assert second.name == "edge-3.json"  # edge-2 is this live process's
    assert stat.S_IMODE(second.lstat().st_mode) == 0o600
    stale = meshes / "core.json"
    stale.write_text(json.dumps({"url": "http://127.0.0.1:3", "token": "t" * 8,
                                 "pid": str(2**22 + 1), "mesh": "core"}))  # beyond pid_max
    assert claim("core", "http://127.0.0.1:4", "token-four", meshes) == stale
    assert read_control_file(stale)["token"] == "token-four"
    assert [m.name for m in running_meshes(meshes)] == ["core", "edge-2", "edge-3"]
    release(second, "someone-elses-token")  # not its token: left
    release(second, "token-two")
    assert sorted(os.listdir(meshes)) == ["core.json", "edge-2.json", "edge.json"]
