"""The WebTransport server reads a burst of datagrams a batch at a time.

A real ``WtServer`` and an aioquic client in one event loop: the client
writes ``CHUNKS`` pieces to one WebTransport stream, each sent as its own
datagram before the loop turns once, so they all wait in the server's
socket together. The server takes them a batch per wakeup
(``udpbatch.Batched``) and transmits once per batch (its ACKs coalesced),
not once per datagram, and the stream's bytes still arrive whole and in
order.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

pytest.importorskip("aioquic")
from aioquic.asyncio.client import connect
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration

from nanonet.bridge import webtransport as W
from nanonet.bridge.udpbatch import READ_MOST, Batched
from test_webtransport_host import Client

CHUNKS = 3 * READ_MOST
WAIT = 10.0


class Counted(W.WtProtocol):
    """A server connection that counts the datagrams it took and its transmits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.datagrams = self.transmits = 0

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        self.datagrams += 1
        super().datagram_received(data, addr)

    def transmit(self) -> None:
        self.transmits += 1
        super().transmit()


async def _burst(monkeypatch: pytest.MonkeyPatch) -> tuple[Counted, int, int, bytes]:
    """Stream ``CHUNKS`` datagrams to a server: its connection, the datagrams and
    transmits the burst cost it, and the bytes its link gathered."""
    monkeypatch.setattr(W, "WtProtocol", Counted)
    links: list[W.WebTransportLink] = []
    server = await W.WtServer("127.0.0.1", 0, lambda _r, _t, link: links.append(link)).start()
    assert isinstance(server._server._transport, Batched)  # type: ignore[union-attr]
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                            max_datagram_frame_size=65536)
    try:
        async with connect("127.0.0.1", server.port, configuration=cfg,
                           create_protocol=Client) as client:
            assert isinstance(client, Client)
            session, status = await client.session(f"127.0.0.1:{server.port}", "/nanonet/out")
            assert status == b"200"
            stream = client.stream(session)
            client.write(stream, b"start")
            await _until(lambda: bool(links))
            proto = links[0].proto
            assert isinstance(proto, Counted)
            datagrams, transmits = proto.datagrams, proto.transmits
            for i in range(CHUNKS):  # each write transmits: one datagram each
                client.write(stream, i.to_bytes(4, "big"))
            want = 5 + 4 * CHUNKS
            await _until(lambda: links[0].inbox.queued >= want)
            return proto, proto.datagrams - datagrams, proto.transmits - transmits, _bytes(links[0])
    finally:
        server.close()


def _bytes(link: W.WebTransportLink) -> bytes:
    got = b""
    while not link.inbox.empty():
        got += link.inbox.take()
    return got


async def _until(ready: Any) -> None:
    for _ in range(int(WAIT / 0.005)):
        if ready():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the server did not get the burst in time")


def test_a_burst_costs_a_transmit_per_batch_and_arrives_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, datagrams, transmits, got = asyncio.run(_burst(monkeypatch))
    assert got == b"start" + b"".join(i.to_bytes(4, "big") for i in range(CHUNKS))
    assert datagrams >= CHUNKS
    assert transmits * 4 <= datagrams  # one per batch, not one per datagram
