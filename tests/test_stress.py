"""A million messages through a small ring, every sequence number checked.

Each pairing moves 10**6 messages of varying length through a ring of 64 or
256 slots (so the counters wrap around the slots ~4000-16000 times), in the
single-message and the batch form of the ABI: Wasm to Wasm in both linking
styles, host writer to Wasm, Wasm to host reader, and host to host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from conftest import call, check_messages, guest, message
from nanonet import Mesh, State, TunnelReader

N = 10**6
SINGLE, BATCH = 0, 1  # the guests' ABI-form modes
FORMS = pytest.mark.parametrize("form", [SINGLE, BATCH], ids=["single", "batch"])


@pytest.mark.timeout(60)
@FORMS
@pytest.mark.parametrize("producer_memory", ["import", "export"])
def test_wasm_to_wasm(producer_memory: str, form: int) -> None:
    checker_memory = "export" if producer_memory == "import" else "import"
    with Mesh() as mesh:
        mesh.tunnel("t", slots=256, max_payload=40)
        producer = mesh.service("producer", guest("sender", producer_memory, side="write"),
                                writes=["t"])
        checker = mesh.service("checker", guest("receiver", checker_memory),
                               reads=["t"])
        assert producer.linked.style == f"{producer_memory}s-memory"
        assert checker.linked.style == f"{checker_memory}s-memory"
        call(producer, "configure", N, 0, form, -1)
        call(checker, "configure", 0, form)
        mesh.start()
        assert mesh.wait(50), "the pair did not finish"
        assert mesh.traps == []
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert (checker.state, checker.exit_code) == (State.STOPPED, N)
        stats = mesh.statistics()["t"]
        assert (stats.sent, stats.received, stats.closed) == (N, N, True)
        assert stats.bytes_in == stats.bytes_out == sum(8 + i % 25 for i in range(N))


@pytest.mark.timeout(90)
@FORMS
def test_host_writer_to_wasm(form: int) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=256, max_payload=40)
        checker = mesh.service("checker", guest("receiver", "import" if form else "export"),
                               reads=["t"])
        call(checker, "configure", 0, form)
        writer = mesh.writer("t")
        mesh.start()
        if form == BATCH:
            for start in range(0, N, 10_000):
                sent = writer.send_many((message(i) for i in range(start, start + 10_000)),
                                        timeout=30)
                assert sent == 10_000
        else:
            for i in range(N):
                writer.send(message(i), timeout=30)
        writer.close()
        assert mesh.wait(30)
        assert (checker.state, checker.exit_code) == (State.STOPPED, N)


@pytest.mark.timeout(90)
@FORMS
def test_wasm_to_host_reader(form: int) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=256, max_payload=40)
        producer = mesh.service("producer", guest("sender", "export" if form else "import",
                                                          side="write"), writes=["t"])
        call(producer, "configure", N, 0, form, -1)
        reader = mesh.reader("t")
        mesh.start()
        got = 0
        if form == BATCH:
            for batch in iter(lambda: reader.recv_many(4096, timeout=30), None):
                got = check_messages(batch, got)
                if got == N:
                    break
        else:
            for _ in range(N):
                got = check_messages([reader.recv(timeout=30)], got)
        assert got == N
        assert mesh.wait(30)
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert list(reader) == []  # closed and drained: iteration ends


@pytest.mark.timeout(90)
@FORMS
def test_host_to_host(form: int) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=128, max_payload=40)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        errors: list[BaseException] = []

        def write() -> None:
            try:
                if form == BATCH:
                    writer.send_many((message(i) for i in range(N)), timeout=30)
                else:
                    for i in range(N):
                        writer.send(message(i), timeout=30)
                writer.close()
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        got = 0
        if form == BATCH:
            for msg_batch in _batches(reader):
                got = check_messages(msg_batch, got)
        else:
            for msg in reader:
                got = check_messages([msg], got)
        thread.join(30)
        assert not thread.is_alive()
        assert errors == []
        assert got == N
        stats = reader.statistics()
        assert (stats.sent, stats.received) == (N, N)


def _batches(reader: TunnelReader) -> Iterator[list[bytes]]:
    from nanonet import TunnelClosed

    while True:
        try:
            yield reader.recv_many(1000, timeout=30)
        except TunnelClosed:
            return
