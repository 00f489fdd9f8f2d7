"""WebTransport streams into the web host's bridges: the glue between them.

``serve_webtransport`` starts a ``WtServer`` (webtransport.py) on the web
host's loop. A stream for a tunnel the tab writes must open with a HELLO
(gathered across as many chunks as it takes, within ``HELLO_WAIT``
seconds), which the web host checks as it checks a WebSocket's
(``WebHost.admit``) before it runs the same ``ReceivePump``
(``WebHost.carry``). A stream for a tunnel the tab reads (a feed) opens
with the feed's first message, ``{"token": ...}``, as one line (a stream
has no messages: the newline ends it); the host answers with one line,
``ok`` (then its ``SendPump``'s frames follow, ``TabFeeds.carry``) or the
reason a WebSocket would close with (``ended``, ``refused``, ``busy``) and
the stream's end. A feed sent to its end ends its stream (a FIN); any other
end resets it, and the tab dials again. Without aioquic (the ``net`` extra)
there is no WebTransport: the host says so and the tabs use WebSocket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import BridgeProtocolError
from . import frames as F

if TYPE_CHECKING:
    from .webhost import WebHost
    from .webtransport import WebTransportLink, WtServer

log = logging.getLogger(__name__)
HELLO_WAIT = 10.0  # seconds a new stream has to say who it is
LINE_MOST = 4096  # bytes of a feed's first line (a token is a few hundred)


async def serve_webtransport(web: WebHost) -> WtServer | None:
    """A WebTransport server beside ``web``'s port, or None without aioquic."""
    try:
        from .webtransport import WtServer
    except ImportError as err:
        log.warning("web: no WebTransport here (%s: pip install 'nanonet[net]'); tabs use "
                    "WebSocket", err)
        return None
    tasks: set[asyncio.Task[None]] = set()

    def accept(route: str, tunnel: str, link: WebTransportLink) -> None:
        carry = feed_stream if route == "feed" else bridge_stream
        task = asyncio.ensure_future(carry(web, tunnel, link))
        tasks.add(task)  # held until done, so the loop does not drop it
        task.add_done_callback(tasks.discard)

    server = await WtServer(web.host, web.port, accept).start()
    log.info("web: WebTransport on udp %s:%d", server.host, server.port)
    return server


async def first_frame(link: Any) -> bytes:
    """The stream's bytes up to the end of its first whole frame (and what
    came with it); raises ``BridgeProtocolError`` if they are no frame."""
    decoder, got = F.FrameDecoder(), bytearray()
    while not link.closed:
        await link.inbox.wait(0.1)
        while not link.inbox.empty():
            chunk = link.inbox.take()
            got += chunk
            if decoder.feed(chunk):
                return bytes(got)
    raise BridgeProtocolError("the stream ended before its first frame")


async def _opening(web: WebHost, tunnel: str, link: WebTransportLink,
                   read: Coroutine[Any, Any, bytes]) -> bytes | None:
    """What a stream opens with (``read``), within ``HELLO_WAIT``; None, the
    stream aborted, if it broke the rules (refused and logged) or was late."""
    try:
        return await asyncio.wait_for(read, HELLO_WAIT)
    except (TimeoutError, BridgeProtocolError) as err:
        if isinstance(err, BridgeProtocolError):
            web._refuse(f"tunnel {tunnel!r}: {err}")
        link.abort()
        return None


async def bridge_stream(web: WebHost, tunnel: str, link: WebTransportLink) -> None:
    """Check the stream's HELLO, then carry it into the tunnel's ring."""
    first = await _opening(web, tunnel, link, first_frame(link))
    if first is None:
        return
    hello = web.admit(first, tunnel)
    if not isinstance(hello, F.Hello):
        await link.finish(hello or b"")
        return
    await web.carry(link, tunnel, hello.token, first, link.pull(), link.abort, link.close)


async def first_line(link: Any) -> bytes:
    """The stream's first line, without its newline; raises
    ``BridgeProtocolError`` if it runs past ``LINE_MOST`` bytes, if anything
    follows it (the tab says nothing more before the host's HELLO), or if
    the stream ends first."""
    got = bytearray()
    while not link.closed:
        await link.inbox.wait(0.1)
        while not link.inbox.empty():
            got += link.inbox.take()
            line, newline, rest = got.partition(b"\n")
            if newline and rest:
                raise BridgeProtocolError("bytes after the feed's first line")
            if newline:
                return bytes(line)
            if len(got) > LINE_MOST:
                raise BridgeProtocolError(f"a feed's first line longer than {LINE_MOST} bytes")
    raise BridgeProtocolError("the stream ended before its first line")


async def feed_stream(web: WebHost, tunnel: str, link: WebTransportLink) -> None:
    """Check the feed's token line, answer it, then send the tunnel into the tab."""
    feeds = web.feeds
    if feeds is None:
        link.abort()
        return
    line = await _opening(web, tunnel, link, first_line(link))
    if line is None:
        return
    answer, token = feeds.verdict(tunnel, line, web._grant, web._refuse)
    if token is None:
        await link.finish(answer.encode() + b"\n")
        return
    await link.send(b"ok\n")

    async def end(done: bool) -> None:
        if done:
            await link.finish()
        else:
            link.abort()
    await feeds.carry(tunnel, token, link, link.pull(), link.abort, end)
