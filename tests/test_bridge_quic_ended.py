"""A QUIC stream the listener stopped (a malformed frame, a tunnel it does not
read) drops what still arrives on it. Those bytes were once read as a new
stream's preamble: every 256 bytes of a peer's garbage became one more
"refused a link" line, or, were they to spell a tunnel's name, a link that
replaced that tunnel's session. Real aioquic both ways, on loopback."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from nanonet.bridge.quic import QuicDialer, QuicListener, make_certificate

pytestmark = pytest.mark.timeout(60)


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bytes_after_a_stream_was_stopped_are_not_a_new_stream(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    names: list[str] = []

    def refuse_all(name: str, link: Any) -> None:  # as a node that reads no such tunnel
        names.append(name)
        link.proto.end_stream(link.stream_id)

    async def go() -> None:
        port = _udp_port()
        listener = await QuicListener("127.0.0.1", port, cert, key, refuse_all).start()
        dialer = await QuicDialer("127.0.0.1", port, cert).start()
        try:
            link = dialer.open("nosuch")
            await link.send(b"\xff" * 20_000)  # many packets: most arrive after the stop
            for _ in range(100):
                if link.closed:
                    break
                await asyncio.sleep(0.05)
            assert link.closed, "the listener never stopped the stream"
            await asyncio.sleep(0.3)  # what was in flight has landed
            other = dialer.open("next")  # the connection still takes new streams
            await other.send(b"x")
            for _ in range(100):
                if "next" in names:
                    break
                await asyncio.sleep(0.05)
        finally:
            await dialer.close()
            listener.close()
    asyncio.run(go())
    assert names == ["nosuch", "next"]
