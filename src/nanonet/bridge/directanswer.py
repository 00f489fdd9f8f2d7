"""The server's node of a port link point to point (``directport``).

Each stream the callers' node opens for the link is checked by its hello
(the token in constant time, the link's name, the port's ``max_payload``),
welcomed or refused; then each call it carries is answered through the
port's host mailboxes (``crossport.CallAnswerer``, several at once) and its
reply sent back with the call's number, whichever is ready first.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from ..errors import BridgeProtocolError
from . import frames as F
from .crossport import FAILED, CallAnswerer
from .directport import Figures, Outgoing, after, frame_size, frames_of, message_frame, messages
from .linkstats import LinkStats, transport_of

log = logging.getLogger(__name__)


class StreamAnswerer:
    """The server's node: the calls of one port link's streams, each answered
    through the port's host mailboxes (``CallAnswerer``) and its reply sent back."""

    def __init__(self, answerer: CallAnswerer, link: str, max_payload: int,
                 token: bytes) -> None:
        self.answerer, self.link_name = answerer, link
        self.max_payload, self.token = max_payload, token
        self.figures = Figures(state="waiting")
        self.in_flight = 0
        self._calls: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.Task[None]] = set()

    def take(self, link: Any) -> None:
        """Serve a stream that just arrived, beside any other (on the loop)."""
        task = asyncio.ensure_future(self.serve(link))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    async def serve(self, link: Any) -> None:
        """One stream from the callers' node, until it closes."""
        fig, decoder, out = self.figures, F.FrameDecoder(), None
        fig.sessions, fig.transport = fig.sessions + 1, transport_of(link)
        try:
            async for frame in frames_of(link, decoder):
                fig.bytes_received += frame_size(frame)
                if out is None:
                    out = await self._welcome(link, frame)
                    if out is None:
                        return
                    continue
                for number, request in messages(frame, self.max_payload):
                    self._spawn(out, number, request)
        except BridgeProtocolError as err:
            log.warning("port link %r: %s; closing its stream", self.link_name, err)
            await link.close()
        finally:
            fig.state = after(fig.state)
            if out is not None:
                await out.close()

    async def _welcome(self, link: Any, frame: F.Frame) -> Outgoing | None:
        """Check the stream's hello: an ``Outgoing`` for its replies, or None (refused)."""
        refused = self._refusal(frame)
        if refused is not None:
            code, why = refused
            log.warning("bridge: port link %r refused a peer: %s", self.link_name, why)
            refusal = F.refuse(code, why)
            await link.send(refusal)
            self.figures.bytes_sent += len(refusal)
            await link.close()
            return None
        hello = F.parse_hello(frame)
        welcome = F.welcome(F.VERSION, 0, hello.nonce, 0)
        await link.send(welcome)
        self.figures.bytes_sent += len(welcome)
        self.figures.state = "open"
        return Outgoing(link, self.figures)

    def _refusal(self, frame: F.Frame) -> tuple[F.Refusal, str] | None:
        """Why a stream's first frame is refused (the token checked in constant time)."""
        if frame.kind is not F.Kind.HELLO:
            return F.Refusal.TUNNEL, f"a {frame.kind.name} frame before the hello"
        h = F.parse_hello(frame)
        if not hmac.compare_digest(h.token, self.token):
            return F.Refusal.AUTH, "wrong token"
        if not h.min_version <= F.VERSION <= h.max_version:
            return F.Refusal.VERSION, (f"versions {h.min_version}..{h.max_version} offered, "
                                       f"{F.VERSION} spoken here")
        if h.name != self.link_name.encode() or h.max_payload != self.max_payload:
            return F.Refusal.TUNNEL, (f"port link {h.name.decode(errors='replace')!r} of "
                                      f"max_payload {h.max_payload} asked, {self.link_name!r} "
                                      f"of {self.max_payload} here")
        return None

    def _spawn(self, out: Outgoing, number: int, request: bytes) -> None:
        task = asyncio.ensure_future(self._answer(out, number, request))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _answer(self, out: Outgoing, number: int, request: bytes) -> None:
        self.in_flight += 1
        try:
            reply = await self.answerer.reply_to(request)
        finally:
            self.in_flight -= 1
        if reply[:1] == FAILED:
            reply = reply[:F.MAX_REASON + 1]
        out.put(message_frame(number, reply))

    async def stop(self) -> None:
        """End every stream and every answer in progress."""
        tasks = [*self._streams, *self._calls]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stats(self) -> LinkStats:
        fig = self.figures
        return LinkStats(self.link_name, "receive", fig.transport, fig.state, None,
                         self.in_flight, 0, max(0, fig.sessions - 1), 0, fig.bytes_sent,
                         fig.bytes_received)
