"""A batch that holds a message too big for a slot: the messages before it are
sent and published at once, none after it, and the error counts them."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error

import pytest

from nanonet import Mesh, MessageTooBig
from nanonet.observe import Observer, PcapngWriter
from nanonet.observe.client import Endpoint

pytestmark = pytest.mark.timeout(60)
GOOD, BIG = b"x" * 8, b"y" * 33


def _mesh() -> Mesh:
    mesh = Mesh()
    mesh.tunnel("t", slots=16, max_payload=32)
    return mesh


def _batch(i: int) -> list[bytes]:
    return [bytes([i]) * 4, bytes([i]) * 5]


def test_send_many_publishes_what_went_before_the_big_message() -> None:
    with _mesh() as mesh:
        writer, reader = mesh.writer("t"), mesh.reader("t")
        with pytest.raises(MessageTooBig, match="2 messages before it were sent") as err:
            writer.send_many([*_batch(1), BIG, GOOD], timeout=10)
        assert err.value.sent == 2
        assert reader.try_recv_many() == _batch(1)  # published now, not with the next send
        writer.send_many(_batch(2), timeout=10)
        assert reader.try_recv_many() == _batch(2)


def test_try_send_many_publishes_what_went_before_the_big_message() -> None:
    with _mesh() as mesh:
        writer, reader = mesh.writer("t"), mesh.reader("t")
        with pytest.raises(MessageTooBig) as err:
            writer.try_send_many(iter([*_batch(1), BIG]))
        assert err.value.sent == 2
        assert reader.try_recv_many() == _batch(1)
        with pytest.raises(MessageTooBig) as err:
            writer.try_send(BIG)
        assert err.value.sent == 0 and reader.try_recv_many() == []


def test_a_close_after_the_error_loses_nothing() -> None:
    with _mesh() as mesh:
        writer, reader = mesh.writer("t"), mesh.reader("t")
        with pytest.raises(MessageTooBig):
            writer.send_many([*_batch(3), BIG])
        writer.close()
        assert list(reader) == _batch(3)


def test_asend_many_counts_across_its_waits() -> None:
    with _mesh() as mesh:
        writer, reader = mesh.writer("t"), mesh.reader("t")
        first = [bytes([i]) * 4 for i in range(20)]  # more than the 16 slots: asend waits once
        got: list[bytes] = []

        async def main() -> int:
            task = asyncio.create_task(writer.asend_many([*first, BIG, GOOD]))
            while not task.done():
                got.extend(reader.try_recv_many())
                await asyncio.sleep(0)  # lets the task run; the bound is wait_for's
            try:
                await task
            except MessageTooBig as err:
                return err.sent
            return -1

        assert asyncio.run(asyncio.wait_for(main(), 30)) == 20
        got.extend(reader.try_recv_many())
        assert got == first


def test_http_replay_reports_what_it_sent_and_the_next_is_exact() -> None:
    def capture(msgs: list[bytes]) -> bytes:
        buf = io.BytesIO()
        w = PcapngWriter(buf, "t")
        for i, m in enumerate(msgs):
            w.write(m, i)
        return buf.getvalue()

    with _mesh() as mesh, Observer(mesh) as obs:
        reader = mesh.reader("t")
        ep = Endpoint(obs.serve(port=0, token="replay-token").url, "replay-token")
        with pytest.raises(urllib.error.HTTPError) as err:
            ep.replay("t", capture([*_batch(4), BIG]))
        assert err.value.code == 400
        body = json.loads(err.value.read())
        err.value.close()
        assert body["sent"] == 2 and "2 messages before it were sent" in body["error"]
        assert reader.try_recv_many() == _batch(4)
        five = [bytes([i]) * 3 for i in range(5)]
        assert ep.replay("t", capture(five)) == 5
        assert reader.recv_many(100, timeout=10) == five
