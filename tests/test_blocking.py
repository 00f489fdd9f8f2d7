"""Full and empty rings block and resume; try_* forms do not block; close
wakes whoever is parked, and readers still drain what was sent before it."""

from __future__ import annotations

import struct
import threading

import pytest

from conftest import call, check_messages, guest, message, wait_until
from nanonet import Mesh, Service, State, TunnelClosed, TunnelReader
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(60)
SINGLE, BATCH, TRY, TRY_BATCH = 0, 1, 2, 3
RECV, SEND, RECV_BATCH, SEND_BATCH = 0, 1, 2, 3  # until_status.wat ops
AGAIN, CLOSED = -2, -1


def _flag(mesh: Mesh, offset: int) -> bool:
    return mesh.tunnels["t"].ring.u32(offset) == 1


def _tally(svc: Service, count: int = 11) -> list[int]:
    raw = svc.linked.memory.read(svc.store, 256, 256 + 4 * count)
    return list(struct.unpack(f"<{count}I", raw))


def _drain(reader: TunnelReader, first: int = 0) -> int:
    got = first
    while True:
        try:
            got = check_messages(reader.recv_many(64, timeout=30), got)
        except TunnelClosed:
            return got


# -- a full ring blocks the writer, an empty one the reader ------------------

@pytest.mark.parametrize("form", [SINGLE, BATCH], ids=["send", "send_batch"])
def test_wasm_writer_blocks_on_full_ring_until_host_reader_drains(mesh: Mesh, form: int) -> None:
    mesh.tunnel("t", slots=8, max_payload=40)
    producer = mesh.service("p", guest("sender", side="write"), writes=["t"])
    call(producer, "configure", 100, 0, form, -1)
    reader = mesh.reader("t")
    mesh.start()
    wait_until(lambda: _flag(mesh, L.OFF_WRITER_WAITING), "the writer parks on the full ring")
    assert producer.running
    assert reader.statistics().sent == 8 and reader.statistics().received == 0
    assert _drain(reader) == 100
    assert mesh.wait(30)
    assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
    stats = reader.statistics()
    assert stats.times_full >= 1 and stats.writer_parks >= 1


@pytest.mark.parametrize("form", [SINGLE, BATCH], ids=["recv", "recv_batch"])
def test_wasm_reader_blocks_on_empty_ring_until_host_writes(mesh: Mesh, form: int) -> None:
    mesh.tunnel("t", slots=8, max_payload=40)
    checker = mesh.service("c", guest("receiver"), reads=["t"])
    call(checker, "configure", 0, form)
    writer = mesh.writer("t")
    mesh.start()
    wait_until(lambda: _flag(mesh, L.OFF_READER_WAITING), "the reader parks on the empty ring")
    assert checker.running
    assert writer.send_many((message(i) for i in range(50)), timeout=30) == 50
    writer.close()
    assert mesh.wait(30)
    assert (checker.state, checker.exit_code) == (State.STOPPED, 50)
    stats = writer.statistics()
    assert stats.times_empty >= 1 and stats.reader_parks >= 1


def test_host_writer_blocks_on_full_ring_until_wasm_reader_starts(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    writer = mesh.writer("t")
    mesh.start()  # no service yet; the reader is added later
    errors: list[BaseException] = []

    def write() -> None:
        try:
            writer.send_many((message(i) for i in range(40)), timeout=30)
            writer.close()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    wait_until(lambda: _flag(mesh, L.OFF_WRITER_WAITING), "the host writer parks")
    assert thread.is_alive() and writer.statistics().sent == 4
    checker = mesh.service("c", guest("receiver"), reads=["t"])  # starts at once
    thread.join(30)
    assert not thread.is_alive() and errors == []
    assert mesh.wait(30)
    assert (checker.state, checker.exit_code) == (State.STOPPED, 40)


def test_host_reader_blocks_on_empty_ring_until_wasm_writer_starts(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    reader = mesh.reader("t")
    mesh.start()
    got: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            got.append(_drain(reader))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    wait_until(lambda: _flag(mesh, L.OFF_READER_WAITING), "the host reader parks")
    assert thread.is_alive()
    producer = mesh.service("p", guest("sender", side="write"), writes=["t"])  # starts at once
    thread.join(30)
    assert not thread.is_alive() and errors == []
    assert got == [1000]  # sender.wat's default count
    assert mesh.wait(30) and producer.exit_code == 0


# -- try_* forms never block -------------------------------------------------

@pytest.mark.parametrize(("mode", "calls", "agains"), [(4, 7, 3), (5, 3, 2)],
                         ids=["try_send", "try_send_batch"])
def test_wasm_try_send_on_full_ring_is_again(mesh: Mesh, mode: int, calls: int,
                                             agains: int) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    prober = mesh.service("w", guest("prober", side="write"), writes=["t"])
    call(prober, "configure", mode, calls)
    mesh.start()
    assert mesh.wait(30) and prober.exit_code == 0
    tally = _tally(prober)
    assert tally[9] == 4  # the ring's four slots filled
    assert tally[2] == agains  # every later call: AGAIN
    assert tally[7] == 0
    assert mesh.tunnels["t"].statistics().sent == 4


@pytest.mark.parametrize(("mode", "empty"), [(0, "again"), (1, "zero")],
                         ids=["try_recv", "try_recv_batch"])
def test_wasm_try_recv_on_empty_ring(mesh: Mesh, mode: int, empty: str) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    prober = mesh.service("r", guest("prober", side="read"), reads=["t"])
    call(prober, "configure", mode, 5)
    mesh.start()
    assert mesh.wait(30) and prober.exit_code == 0
    tally = _tally(prober)
    if empty == "again":
        assert tally[2] == 5 and tally[0] == 0
    else:  # docs/abi.md: try_recv_batch gives 0 records at once on an empty ring
        assert tally[0] == 5 and tally[9] == 0 and tally[2] == 0
    assert tally[7] == 0


def test_host_try_forms_do_not_block(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    writer, reader = mesh.writer("t"), mesh.reader("t")
    assert reader.try_recv() is None
    assert reader.try_recv_many() == []
    assert writer.try_send_many(message(i) for i in range(6)) == 4
    assert writer.try_send(message(4)) is False
    assert writer.try_send_many([message(4)]) == 0
    assert check_messages(reader.try_recv_many(3), 0) == 3
    assert writer.try_send(message(4)) is True
    rest = reader.try_recv_many()
    rest += reader.try_recv_many()  # the first may stop at the head it had cached
    assert check_messages(rest, 3) == 5
    assert reader.try_recv() is None
    with pytest.raises(TimeoutError):
        reader.recv(timeout=0.01)  # an empty ring: the bounded wait gives up


# -- close wakes parked services ---------------------------------------------

@pytest.mark.parametrize("op", [RECV, RECV_BATCH], ids=["recv", "recv_batch"])
def test_close_wakes_service_parked_in_recv(mesh: Mesh, op: int) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    svc = mesh.service("s", guest("until_status", side="read"), reads=["t"])
    call(svc, "configure", op)
    mesh.start()
    wait_until(lambda: _flag(mesh, L.OFF_READER_WAITING), "the service parks in recv")
    mesh.tunnels["t"].control.close()
    assert mesh.wait(30)
    assert (svc.state, svc.exit_code, call(svc, "done")) == (State.STOPPED, CLOSED, 0)


@pytest.mark.parametrize("op", [SEND, SEND_BATCH], ids=["send", "send_batch"])
def test_close_wakes_service_parked_in_send(mesh: Mesh, op: int) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    svc = mesh.service("s", guest("until_status", side="write"), writes=["t"])
    call(svc, "configure", op)
    mesh.start()
    wait_until(lambda: _flag(mesh, L.OFF_WRITER_WAITING), "the service parks in send")
    mesh.tunnels["t"].control.close()
    assert mesh.wait(30)
    assert (svc.state, svc.exit_code, call(svc, "done")) == (State.STOPPED, CLOSED, 4)


@pytest.mark.parametrize("op", [SEND, SEND_BATCH], ids=["send", "send_batch"])
def test_send_on_closed_tunnel_is_closed(mesh: Mesh, op: int) -> None:
    mesh.tunnel("t", slots=4, max_payload=40)
    svc = mesh.service("s", guest("until_status", side="write"), writes=["t"])
    call(svc, "configure", op)
    mesh.tunnels["t"].control.close()
    mesh.start()
    assert mesh.wait(30)
    assert (svc.exit_code, call(svc, "done")) == (CLOSED, 0)
    assert mesh.tunnels["t"].statistics().sent == 0


@pytest.mark.parametrize("form", [SINGLE, BATCH, TRY, TRY_BATCH],
                         ids=["recv", "recv_batch", "try_recv", "try_recv_batch"])
def test_wasm_reader_drains_before_closed(mesh: Mesh, form: int) -> None:
    mesh.tunnel("t", slots=16, max_payload=40)
    writer = mesh.writer("t")
    assert writer.try_send_many(message(i) for i in range(16)) == 16
    writer.close()
    with pytest.raises(TunnelClosed):
        writer.send(message(16))
    checker = mesh.service("c", guest("receiver"), reads=["t"])
    call(checker, "configure", 0, form)
    mesh.start()
    assert mesh.wait(30)
    assert (checker.state, checker.exit_code) == (State.STOPPED, 16)  # all 16, then CLOSED


def test_host_reader_drains_before_closed(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=16, max_payload=40)
    producer = mesh.service("p", guest("sender", side="write"), writes=["t"])
    call(producer, "configure", 16, 0, SINGLE, -1)  # sends 16, then closes
    reader = mesh.reader("t")
    mesh.start()
    assert mesh.wait(30) and producer.exit_code == 0
    assert reader.statistics().closed
    assert check_messages(reader.try_recv_many(5), 0) == 5
    assert check_messages(list(reader), 5) == 16
    with pytest.raises(TunnelClosed):
        reader.try_recv()
    with pytest.raises(TunnelClosed):
        reader.recv(timeout=5)
