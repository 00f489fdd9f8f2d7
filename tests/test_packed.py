"""Many messages as one buffer (``Packed``) through the host ends, and the
host ends' flowing path, which calls no Wasm at all."""

from __future__ import annotations

from array import array

import pytest

from conftest import guest, message, wait_until
from nanonet import InvalidValue, Mesh, MessageTooBig, Packed, State, TunnelCorrupt
from nanonet.capi.fastcall import FastFunc
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(60)


def records(first: int, count: int, size: int) -> bytes:
    return b"".join(i.to_bytes(8, "little") + bytes([i % 251]) * (size - 8)
                    for i in range(first, first + count))


@pytest.mark.parametrize("size", [8, 40, 128, 136, 200])
def test_fixed_records_go_through_in_order_across_the_ring_end(size: int) -> None:
    """Batches of 5 through 8 slots: every batch after the first crosses the
    ring's end somewhere; the strided copy (small records) and the one by one
    copy (larger ones) both keep every byte."""
    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=200)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        for first in range(0, 60, 5):
            data = records(first, 5, size)
            assert writer.send_many(Packed.fixed(data, size), timeout=10) == 5
            got = reader.recv_packed(5, timeout=10)
            assert (bytes(got.data), list(got.offsets)) == (data, [i * size for i in range(5)])
            assert list(got) == [data[i * size: (i + 1) * size] for i in range(5)]


def test_packed_messages_of_any_sizes_and_an_array_buffer() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=64)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        assert writer.send_many(Packed.of(b"abcdefghij", [0, 3, 3, 10]), timeout=10) == 3
        words = array("q", range(4))
        assert writer.try_send_many(Packed.fixed(words, 16)) == 2
        assert reader.try_recv_many(10) == [b"abc", b"", b"defghij", words.tobytes()[:16],
                                            words.tobytes()[16:]]


def test_a_packed_message_too_big_stops_the_batch_after_publishing_the_rest() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=8)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        with pytest.raises(MessageTooBig, match="message of 9 bytes") as err:
            writer.send_many(Packed.of(b"a" * 30, [0, 8, 16, 25, 30]), timeout=10)
        assert err.value.sent == 2
        assert reader.try_recv_many(10) == [b"a" * 8, b"a" * 8]


def test_packed_bounds_are_checked() -> None:
    with pytest.raises(InvalidValue, match="must grow from 0"):
        Packed.of(b"abc", [0, 2, 1])
    with pytest.raises(InvalidValue, match="must grow from 0"):
        Packed.of(b"abc", [0, 4])
    with pytest.raises(InvalidValue, match="does not hold whole messages"):
        Packed.fixed(b"abc", 2)
    with pytest.raises(InvalidValue, match="bytes-like buffer"):
        Packed.fixed([1, 2], 1)


def test_a_packed_receive_quarantines_a_bad_slot_length() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=8, max_payload=16)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        writer.send_many([b"ok", b"bad"], timeout=10)
        tunnel.ring.put_slot_length(1, 17)
        with pytest.raises(TunnelCorrupt, match="slot length 17"):
            reader.try_recv_packed(8)
        assert tunnel.ring.quarantine == L.Quarantine.BAD_LENGTH


def test_a_flowing_tunnel_between_host_ends_calls_no_wasm(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishing is a store, a fence and a load from Python: no control
    function (a Wasm call) runs while data flows and neither end parks."""
    calls: list[tuple[int, ...]] = []
    real_call = FastFunc.__call__

    def counted(self: FastFunc, *args: int) -> int | None:
        calls.append(args)
        return real_call(self, *args)

    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=16)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        monkeypatch.setattr(FastFunc, "__call__", counted)
        for i in range(100):
            writer.send(b"%d" % i)
            writer.send_many([b"a", b"b"])
            writer.send_many(Packed.fixed(b"cd", 1))
            assert reader.recv(timeout=10) == b"%d" % i
            assert reader.recv_many(4, timeout=10) == [b"a", b"b", b"c", b"d"]
        assert calls == []


def test_a_host_writer_wakes_a_parked_wasm_reader() -> None:
    """The reader parks (its waiting flag set); the host's publish, behind its
    fence, sees the flag and notifies it: every message arrives, and the
    wakes are counted."""
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=64, max_payload=40)
        checker = mesh.service("c", guest("receiver"), reads=["t"])
        writer = mesh.writer("t")
        mesh.start()
        for i in range(5):
            wait_until(lambda: tunnel.ring.u32(L.OFF_READER_WAITING) == 1, "the reader parked")
            writer.send(message(i), timeout=10)
        writer.close()
        assert mesh.wait(30)
        assert (checker.state, checker.exit_code) == (State.STOPPED, 5)
        assert writer.statistics().writer_wakes >= 1  # a park may time out just before a send
