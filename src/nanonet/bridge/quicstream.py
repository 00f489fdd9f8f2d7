"""aioquic stream plumbing the two QUIC transports share.

The node-to-node QUIC bridge (``quic.py``) and the tabs' WebTransport server
(``webtransport.py``) each carry one tunnel's frames on one aioquic stream.
aioquic buffers stream data without bound, so a send waits while more than
``HIGH_WATER`` bytes are unacknowledged on its stream (``unacked``: the one
read of aioquic's internals); ending a link stops its stream both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.connection import QuicConnection

HIGH_WATER = 1 << 20  # unacknowledged bytes on a stream before send waits
WATER_POLL = 0.002
STREAM_BROKEN = 0x4E42  # the error code of a stream reset on a protocol error


def unacked(quic: QuicConnection, stream_id: int) -> int:
    """Bytes given to the stream and not yet acknowledged by the peer."""
    stream = quic._streams.get(stream_id)  # aioquic offers no public measure
    return len(stream.sender._buffer) if stream is not None else 0


async def send_below_water(proto: QuicConnectionProtocol, stream_id: int, data: bytes,
                           closed: Callable[[], bool]) -> None:
    """Queue ``data`` on the stream once it is under the high watermark
    (dropped if ``closed()`` by then: the bridge protocol sends it again)."""
    while unacked(proto._quic, stream_id) > HIGH_WATER and not closed():
        await asyncio.sleep(WATER_POLL)
    if closed():
        return
    proto._quic.send_stream_data(stream_id, data)
    proto.transmit()


def stop_both_ways(quic: QuicConnection, stream_id: int) -> None:
    """Reset the stream and ask the peer to stop sending on it (``STREAM_BROKEN``);
    a stream already ended is left as it is."""
    with contextlib.suppress(Exception):  # aioquic refuses a second reset: it is gone
        quic.reset_stream(stream_id, STREAM_BROKEN)
    with contextlib.suppress(Exception):
        quic.stop_stream(stream_id, STREAM_BROKEN)
