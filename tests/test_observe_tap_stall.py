"""A tap whose HTTP client stops reading: detached after the stall bound, so
the writer runs again; closing the observer detaches every tap, whatever its
client does."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer
from nanonet.observe.tap import Tap, TapStalled
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(120)
TOKEN = "s3cret-token"
SLOTS, SIZE = 16, 4096
COUNT = 20_000  # 80 MB: far more than the socket buffers hold


@pytest.fixture
def mesh() -> Iterator[Mesh]:
    with Mesh() as m:
        m.tunnel("t", slots=SLOTS, max_payload=SIZE)
        yield m


def _silent_client(server: ControlServer, tunnel: str) -> socket.socket:
    """POST /api/tap, read the response head, then never read again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"POST /api/tap?tunnel={tunnel} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                 f"Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


class _Pump:
    """A host writer and reader on their own threads: COUNT messages through the tunnel."""

    def __init__(self, mesh: Mesh, timeout: float) -> None:
        self.writer, self.reader = mesh.writer("t"), mesh.reader("t")
        self.received = 0
        self.error: BaseException | None = None
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True)
                        for f in (lambda: self._write(timeout), self._read)]
        for t in self.threads:
            t.start()

    def _guard(self, run: Callable[[], object]) -> None:
        try:
            run()
        except BaseException as err:  # the test reads it
            self.error = err

    def _write(self, timeout: float) -> None:
        self.writer.send_many((bytes(SIZE) for _ in range(COUNT)), timeout=timeout)

    def _read(self) -> None:
        while self.received < COUNT:
            self.received += len(self.reader.recv_many(SLOTS, timeout=60))

    def join(self, timeout: float) -> bool:
        for t in self.threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self.threads)


def _in_socket_send(tap: Tap) -> bool:
    """The tap's thread sits in a send on the response's socket."""
    thread = tap._thread  # where the thread is, not what it holds
    frame = sys._current_frames().get(thread.ident) if thread and thread.ident else None
    return frame is not None and frame.f_code.co_filename.endswith("socketserver.py")


def _held_by_tap(mesh: Mesh, tap: Tap) -> bool:
    """The reader drained the ring, the writer is parked, and the tap, a ring
    behind, is inside a send its client does not take."""
    ring = mesh.tunnels["t"].ring
    head = ring.u64(L.OFF_HEAD)
    return (ring.u64(L.OFF_TAIL) == head and head - ring.u64(L.OFF_TAP_TAIL) == SLOTS
            and ring.u32(L.OFF_WRITER_WAITING) == 1 and _in_socket_send(tap))


def test_a_client_that_stops_reading_is_detached_and_the_writer_runs_again(
        mesh: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nanonet.observe")
    with Observer(mesh, tap_stall=0.5) as obs:
        server = obs.serve(port=0, token=TOKEN)
        client = _silent_client(server, "t")
        wait_until(lambda: "t" in obs.taps, "the tap is attached")
        tap = obs.taps["t"]
        pump = _Pump(mesh, timeout=30)
        assert pump.join(60), "the writer is still held by a tap nobody reads"
        assert pump.error is None and pump.received == COUNT
        wait_until(lambda: tap.done, "the tap thread ended")
        assert isinstance(tap.error, TapStalled)
        assert mesh.tunnels["t"].ring.u32(L.OFF_TAP_MODE) == 0
        assert not obs.fresh().tunnels[0].tap
        assert any("tap on tunnel 't' detached" in r.getMessage() for r in caplog.records)
        client.close()


@pytest.mark.parametrize("own_server", [True, False], ids=["served", "server-apart"])
def test_close_detaches_a_tap_whose_client_stopped_reading(mesh: Mesh, own_server: bool) -> None:
    obs = Observer(mesh, tap_stall=600).start()  # the bound is not what frees it here
    # a server apart from the observer keeps its request thread waiting on the tap
    server = (obs.serve(port=0, token=TOKEN) if own_server
              else ControlServer(obs, port=0, token=TOKEN).start())
    try:
        client = _silent_client(server, "t")
        wait_until(lambda: "t" in obs.taps, "the tap is attached")
        tap = obs.taps["t"]
        pump = _Pump(mesh, timeout=60)
        wait_until(lambda: _held_by_tap(mesh, tap), "the writer waits for a stalled tap", 60)
        obs.close()
        assert mesh.tunnels["t"].ring.u32(L.OFF_TAP_MODE) == 0
        assert tap.done and not obs.taps
        assert pump.join(60), "the writer is still held after close"
        assert pump.error is None and pump.received == COUNT
        client.close()
    finally:
        server.close()


class _StuckSink:
    """An output that takes the capture's head, then blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.writes = 0

    def write(self, data: bytes, /) -> int:
        self.writes += 1
        if self.writes > 1:
            self.release.wait(60)
        return len(data)

    def flush(self) -> None:
        pass


def test_stop_detaches_even_when_the_output_cannot_be_unblocked(mesh: Mesh) -> None:
    sink = _StuckSink()
    obs = Observer(mesh).start()
    tap = obs.tap("t", sink)
    pump = _Pump(mesh, timeout=60)
    wait_until(lambda: sink.writes > 1 and _writer_parked(mesh), "the writer waits for the tap")
    obs.close()
    ring = mesh.tunnels["t"].ring
    assert ring.u32(L.OFF_TAP_MODE) == 0 and not tap.attached
    assert pump.join(60) and pump.error is None and pump.received == COUNT
    cursor = ring.u64(L.OFF_TAP_TAIL)
    sink.release.set()
    assert tap.wait(30)
    assert ring.u64(L.OFF_TAP_TAIL) == cursor  # a detached tap never moves its cursor again


def _writer_parked(mesh: Mesh) -> bool:
    ring = mesh.tunnels["t"].ring
    return ring.u32(L.OFF_WRITER_WAITING) == 1 and ring.u64(L.OFF_TAIL) == ring.u64(L.OFF_HEAD)


def test_the_poll_thread_detaches_a_tap_whose_output_blocks(
        mesh: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nanonet.observe")
    sink = _StuckSink()
    with Observer(mesh, interval=0.05, tap_stall=0.5) as obs:
        tap = obs.tap("t", sink)
        pump = _Pump(mesh, timeout=30)
        assert pump.join(60), "the writer is still held by a tap whose output blocks"
        assert pump.error is None and pump.received == COUNT
        assert isinstance(tap.error, TapStalled) and not tap.attached
        assert mesh.tunnels["t"].ring.u32(L.OFF_TAP_MODE) == 0
        assert any("for one batch" in r.getMessage() for r in caplog.records)
        sink.release.set()
        assert tap.wait(30)
