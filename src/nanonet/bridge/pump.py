"""A bridge session joined to a ring and a link: the only part that waits.

``send_tunnel`` runs on the writer's node: it peeks batches from the local
ring (``PeekingReader``), hands them to a ``SenderSession`` within its
credit, and commits the ring only up to what the far side acknowledged.
``receive_tunnel`` runs on the reader's node: it writes each new batch into
the local ring (a host ``TunnelWriter``) in one ``try_send_many`` and
acknowledges it (a small batch within ``ACK_DELAY``), granting the ring's
free slots as credit (at most what the link's inbox holds). Python runs
per batch, never per message.

A ``Link`` is any message transport: ``send(data)`` puts one wire message
(whole frames) on its way, best effort; ``incoming`` is a bounded queue of
wire messages that arrived (``inbox.Inbox``: a transport drops what does not
fit, and the protocol recovers a lost frame). Time comes from ``clock``.

A tunnel that opts into loss (``datagrams=True``) runs as one over a link
that carries datagrams (``datagram_room``, the bytes one holds: QUIC); there
its batches leave as DGRAM frames, one per ``send_datagrams`` item, and
arrive as ``inbox.Datagram`` items. Over any other link it is carried as a
stream, reliably. The receiving ring's head plus what was missed is the
next sequence the sender's ring numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol, cast

from ..errors import (
    BridgeProtocolError,
    BridgeRefused,
    InvalidValue,
    TunnelBroken,
    TunnelClosed,
)
from ..ring.endpoint import TunnelWriter
from ..ring.packed import Packed
from ..ring.peek import PeekingReader
from ..ring.protocol import Field, tap_peer
from . import frames as F
from .events import Accepted, Acked, Ended, LinkLost, Messages, Refused
from .farend import end_as_far_writer
from .inbox import Datagram, Inbox
from .linkstats import LinkStats, Totals, transport_of
from .session import DEFAULT_TIMING, ReceiverSession, SenderSession, Timing

log = logging.getLogger(__name__)
IDLE_FIRST, IDLE_MOST = 0.0002, 0.005  # seconds a pump waits when idle: doubling, capped
WIRE_MAX = F.MAX_FRAME  # bytes of frames joined into one wire message
PARK_NS = 20_000_000  # a sender's park on a peeked-out ring (then it looks at its timers)
ACK_DELAY = 0.005  # seconds a receiver may hold an ACK while the sender has credit to spare
LOOK_MOST = 0.05  # seconds an idle pump waits at most before it looks at its clock again
LINGER = 3.0  # seconds of silence after the stream ended before a receiver stops



def refusal_fix(code: int) -> str:
    """What fixes a refusal of this code (REFUSE's ``code``, docs/bridge.md)."""
    if code == F.Refusal.AUTH:
        return ("give both nodes the same bridge token (--token-file, or "
                "$NANONET_BRIDGE_TOKEN)")
    if code == F.Refusal.VERSION:
        return (f"run the same nanonet release on both nodes (this one speaks bridge "
                f"protocol {F.VERSION})")
    return "give both nodes the same manifest (the tunnel's name and max_payload)"


class Link(Protocol):
    inbox: Inbox

    async def send(self, data: bytes) -> None: ...


class DatagramLink(Link, Protocol):
    """A link that also carries datagrams, each of at most ``datagram_room`` bytes."""

    datagram_room: int

    async def send_datagrams(self, frames: list[F.Wire]) -> None: ...


def datagram_room(link: Link, datagrams: bool) -> int | None:
    """The bytes one datagram of ``link`` holds if a tunnel that opts into loss
    (``datagrams``) goes as datagrams over it; None: as a stream."""
    room = getattr(link, "datagram_room", None) if datagrams else None
    return room if isinstance(room, int) else None


Clock = Callable[[], float]


def joined(frames: list[F.Wire], most: int = WIRE_MAX) -> list[bytes]:
    """Frames joined into wire messages of at most ``most`` bytes (a frame
    larger than that goes alone)."""
    out: list[bytes] = []
    part: list[F.Wire] = []
    size = 0
    for f in frames:
        if part and size + len(f) > most:
            out.append(b"".join(part))
            part, size = [], 0
        part.append(f)
        size += len(f)
    if part:
        out.append(b"".join(part))
    return out


def _why_broken(r: PeekingReader) -> tuple[int, str, str] | None:
    """Why the local ring's writer is gone (its ring broken), or None (closed)."""
    code = r.ring.broken
    if not code:
        return None
    info = r.control.broken_by
    if info is None:
        return code, "", "broken by a host end"
    return code, info.service, info.cause


def _honour_cancel() -> None:
    """Raise the cancellation a link's library swallowed: nats-py's publish
    catches ``CancelledError`` while it waits for its flusher, so without this
    a cancelled pump would run on beside its replacement, two writers of one
    ring."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class _Pump:
    """The loop both sides share: feed, drain, flush, timers, idle waits."""

    def __init__(self, link: Link, clock: Clock) -> None:
        self.link, self.clock = link, clock
        self._idle = IDLE_FIRST
        self.totals = Totals()  # of the sessions replaced

    def _stats(self, session: SenderSession | ReceiverSession, side: str,
               in_flight: int) -> LinkStats:
        t = self.totals
        return LinkStats(session.tunnel, side, transport_of(self.link), session.state,
                         session.rtt, in_flight,
                         t.retransmits + getattr(session, "retransmits", 0),
                         t.sessions + getattr(session, "restarts", 0),
                         t.duplicates + getattr(session, "duplicates", 0),
                         t.bytes_sent + session.bytes_out, t.bytes_received + session.bytes_in,
                         t.missed + getattr(session, "missed", 0),
                         "datagram" if session.datagrams else "stream",
                         getattr(self.link, "nats_reconnects", 0))

    def _feed(self, session: SenderSession | ReceiverSession, now: float) -> bool:
        """Give every waiting wire message to the session; True if any came."""
        got = False
        inbox = self.link.inbox
        while not inbox.empty():
            item = inbox.take()
            if isinstance(item, Datagram):
                session.receive_datagram(item, now)
            else:
                session.receive_data(item, now)
            got = True
        return got

    async def _flush(self, session: SenderSession | ReceiverSession, now: float) -> bool:
        """Run a due timer and send what the session has; True if either
        happened (a timer may have made events: they are taken at once)."""
        at = session.get_timer()
        timed = at is not None and at <= now
        if timed:
            session.handle_timer(now)
        frames = session.data_to_send(now)
        dgrams = [f for f in frames if F.is_datagram(f)] if session.datagrams else []
        for wire in joined([f for f in frames if not F.is_datagram(f)] if dgrams else frames):
            await self.link.send(wire)
            _honour_cancel()
        if dgrams:
            await cast(DatagramLink, self.link).send_datagrams(dgrams)
            _honour_cancel()
        return bool(frames) or timed

    async def _wait(self, busy: bool, session: SenderSession | ReceiverSession,
                    poll: bool) -> None:
        """Something moved: a turn. Nothing moved: wait for a wire message, at
        most until the session's timer (and ``LOOK_MOST``); with ``poll`` (the
        local ring may change what there is to do, and nothing wakes us when
        it does) at most ``_idle``, doubling from ``IDLE_FIRST`` to ``IDLE_MOST``."""
        if busy:
            self._idle = IDLE_FIRST
            await asyncio.sleep(0)
            return
        wait = self._until_timer(session)
        if poll:
            wait = min(wait, self._idle)
            self._idle = min(IDLE_MOST, self._idle * 2)
        await self.link.inbox.wait(wait)

    def _until_timer(self, session: SenderSession | ReceiverSession) -> float:
        at = session.get_timer()
        return LOOK_MOST if at is None else max(0.0, min(LOOK_MOST, at - self.clock()))


class SendPump(_Pump):
    """The writer's node: the local ring through a session to the link."""

    def __init__(self, reader: PeekingReader, link: Link, tunnel: str, token: bytes,
                 timing: Timing = DEFAULT_TIMING, clock: Clock = time.monotonic,
                 datagrams: bool = False) -> None:
        super().__init__(link, clock)
        self.reader, self.tunnel, self.token, self.timing = reader, tunnel, token, timing
        g = reader.geometry
        self.batch = max(1, min(F.MAX_BATCH, (F.MAX_FRAME - 16) // (g.max_payload + 4)))
        room = datagram_room(link, datagrams)
        self.datagrams = room is not None
        if room is not None:
            self.batch = F.dgram_batch(g.max_payload, room)
            if not self.batch:
                raise InvalidValue(f"tunnel {tunnel!r}: a message of {g.max_payload} bytes "
                                   f"does not fit a datagram of {room}; carry it as a stream")
        self.session = self._new_session()
        self._park: asyncio.Future[None] | None = None  # a park in a worker thread

    def _new_session(self) -> SenderSession:
        return SenderSession(self.tunnel, self.reader.geometry.max_payload, self.token,
                             self.reader.committed, self.clock(), self.timing,
                             nonce=time.monotonic_ns(), datagrams=self.datagrams)

    def stats(self) -> LinkStats:
        s = self.session
        return self._stats(s, "send", s.next_send - s.acked)

    def relink(self, link: Link) -> None:
        """Go on over a new link (a redial): a new session says hello again,
        and the far side's WELCOME names where to resume in the ring."""
        self.link = link
        self.totals.retire(self.session)
        self.session = self._new_session()

    async def settle(self) -> None:
        """Wait for a park on the ring in flight (a worker thread inside the
        ring's control) to end: then the ring may be released."""
        if self._park is not None:
            await asyncio.wait({self._park})

    def _events(self) -> None:
        s = self.session
        while (e := s.next_event()) is not None:
            if isinstance(e, Accepted | Acked):
                self._commit(e.next_seq)
            elif isinstance(e, Refused):
                raise BridgeRefused(f"the far side refused the bridge of tunnel "
                                    f"{self.tunnel!r}: {e.reason}; {refusal_fix(e.code)}")
            elif isinstance(e, LinkLost):
                log.info("bridge %r: link silent for %.1f s, saying hello again",
                         self.tunnel, e.silent_for)

    def _commit(self, next_seq: int) -> None:
        try:
            self.reader.commit_to(next_seq)
        except InvalidValue as err:
            raise BridgeProtocolError(f"bridge peer broke the protocol: it acknowledged "
                                      f"{next_seq}, which the ring does not hold ({err})") from None

    def _fill(self) -> bool:
        """Peek batches within the credit and queue them; True if any."""
        s, r = self.session, self.reader
        if r.position != s.next_send:
            r.rewind(s.next_send)
        moved = False
        while (room := min(s.sendable(), self.batch)) > 0 and s.next_send != s.end_seq:
            try:
                first, n, frame = r.peek_table(room, F.DATA_HEAD)
            except (TunnelClosed, TunnelBroken):  # drained: closed, or its writer is gone
                s.finish(r.position, _why_broken(r))
                break
            if not n:
                break
            s.send_frame(first, n, F.data_into(frame, first, n, s.batch_kind))
            moved = True
        return moved

    async def _wait(self, busy: bool, session: SenderSession | ReceiverSession,
                    poll: bool = False) -> None:
        """``_Pump._wait``, woken by wire messages only (ACKs move the credit).
        With credit left and every message peeked, also woken by the ring's
        writer (a park in a worker thread), so a message goes out as soon as
        it is written, whether or not earlier ones were acknowledged."""
        if busy or not self.session.sendable() or not self.reader.may_park():
            await super()._wait(busy, session, poll)
            return
        if self._park is None or self._park.done():
            loop = asyncio.get_running_loop()
            self._park = loop.run_in_executor(None, self.reader.park, PARK_NS)
        await self.link.inbox.wait(self._until_timer(session), also=self._park)
        if self._park.done() and not self._park.cancelled():
            self._park.exception()  # a park that failed (a closed ring): _fill sees why

    async def run(self) -> None:
        """Until the local ring is closed and every message is acknowledged."""
        while not self.session.done:
            now = self.clock()
            try:
                got = self._feed(self.session, now)
                self._events()
            except BridgeProtocolError as err:
                log.warning("bridge %r: %s; starting a new session", self.tunnel, err)
                self.totals.retire(self.session)
                self.session = self._new_session()
                continue
            moved = self._fill()
            sent = await self._flush(self.session, now)
            await self._wait(got or moved or sent, self.session)


class ReceivePump(_Pump):
    """The reader's node: the link through a session into the local ring."""

    def __init__(self, writer: TunnelWriter, link: Link, tunnel: str, token: bytes,
                 timing: Timing = DEFAULT_TIMING, clock: Clock = time.monotonic,
                 linger: float = LINGER, close_on_error: bool = False,
                 datagrams: bool = False, totals: Totals | None = None) -> None:
        super().__init__(link, clock)
        self.writer, self.tunnel, self.token, self.timing = writer, tunnel, token, timing
        self.linger, self.close_on_error = linger, close_on_error
        self.datagrams = datagram_room(link, datagrams) is not None
        if totals is not None:  # a pump before this one on the same ring (a dial again)
            self.totals = totals
        self.refusals = self.protocol_errors = 0
        self.ended_at: float | None = None
        self.session = self._new_session()
        self._ack_at: float | None = None  # when a held ACK is due

    def _until_timer(self, session: SenderSession | ReceiverSession) -> float:
        wait = super()._until_timer(session)
        return wait if self._ack_at is None else max(0.0, min(wait, self._ack_at - self.clock()))

    @property
    def window(self) -> int:
        """The most credit granted: the ring's slots, or fewer if that many
        messages in flight would not fit the link's inbox (three quarters of
        it: frame headers, control frames and a resend's duplicates take the
        rest), which would drop them and have them sent again and again."""
        g = self.writer.geometry
        fits = self.link.inbox.most * 3 // 4 // (g.max_payload + 4)
        return max(1, min(g.slot_count, fits))

    def _room(self) -> tuple[int, int]:
        """The next sequence expected (the ring's head plus what was missed)
        and the credit: the ring's free slots."""
        head, free = self._ring_room()
        return head + self.missed, free

    @property
    def missed(self) -> int:
        """Messages given up (datagrams lost on the way): never in the ring."""
        return self.totals.missed + self.session.missed

    def _ring_room(self) -> tuple[int, int]:
        """The ring's head and the credit: its free slots (behind the reader,
        or behind a lossless tap if that is further back), at most ``window``."""
        ring = self.writer.ring
        head = ring.head()
        # SYNC POINT with tapctl's attach: the tap's mode is read before its cursor
        peer, _ = tap_peer(head, ring.tail(), ring.load(Field.TAP_MODE),
                           ring.load(Field.TAP_TAIL))
        return head, min(self.window, self.writer.geometry.slot_count - (head - peer))

    @property
    def duplicates(self) -> int:
        """Messages that arrived twice (resent after a loss) and were dropped."""
        return self.totals.duplicates + self.session.duplicates

    def stats(self) -> LinkStats:
        return self._stats(self.session, "receive", 0)

    def _new_session(self) -> ReceiverSession:
        self._missed_told = 0  # the new session's missed the sender was told of
        head, free = self._ring_room()
        return ReceiverSession(self.tunnel, self.writer.geometry.max_payload, self.token,
                               head + self.totals.missed, free, self.clock(), self.timing,
                               datagrams=self.datagrams)

    def _write(self, e: Messages, now: float) -> None:
        """Write a batch; acknowledge it at once if it is large (a sixteenth
        of the ring) or the sender has less than half the ring of credit
        left, else within ``ACK_DELAY``: a lone message's own ACK would double
        the wire messages of a request and its reply."""
        b = e.batch
        packed = Packed(b.payload, b.bounds[e.skip:], b.longest)
        sent = self.writer.try_send_many(packed)
        if sent != e.count:  # the credit was the ring's room: only a close stops it
            raise TunnelClosed(f"tunnel {self.tunnel!r} took {sent} of {e.count} messages")
        s, slots = self.session, self.window
        if e.count >= slots // 16 or s.granted_end - s.expected < slots // 2:
            self._acknowledge()
        elif self._ack_at is None:
            self._ack_at = now + min(ACK_DELAY, self.timing.resend_after / 4)

    def _acknowledge(self) -> None:
        self._ack_at = None
        self._missed_told = self.session.missed
        self.session.acknowledge(*self._room())

    def _events(self, now: float) -> None:
        s = self.session
        while (e := s.next_event()) is not None:
            if isinstance(e, Messages):
                self._write(e, now)
            elif isinstance(e, Refused):
                self.refusals += 1
                log.warning("bridge %r: refused a peer: %s", self.tunnel, e.reason)
            elif isinstance(e, Ended):
                self._end(e)
                self.ended_at = now
                self._acknowledge()
        if s.missed != self._missed_told and self.ended_at is None:
            self._acknowledge()  # a gap given up (a datagram batch, a SENT): say so now

    def _end(self, e: Ended) -> None:
        """Close the local ring, or break it when the far writer's service is
        gone: the local reader then gets TunnelBroken, as beside the writer."""
        end_as_far_writer(self.writer, self.tunnel, e.broken, log)

    def _window(self) -> None:
        """Tell the sender when the local reader has freed a good part of the ring."""
        s = self.session
        head, free = self._room()
        if s.state == "open" and head == s.written and free > s.credit and (
                s.credit == 0 or free - s.credit >= self.window // 4):
            s.acknowledge(head, free)

    def _watching(self) -> bool:
        """The local reader may free enough of the ring for a window update
        (``_window``), and only polling sees it: the sender was told of less
        than three quarters of the ring (or of none)."""
        s, slots = self.session, self.window
        return self.ended_at is None and s.state == "open" and (
            s.credit == 0 or slots - s.credit >= slots // 4)

    def _quiet_since(self) -> float:
        """Since when the ended stream's sender has said nothing (it repeats its
        CLOSE until it hears ACK_ENDED, so silence means it heard)."""
        return max(self.ended_at or 0.0, self.session.last_heard)

    async def _broken(self, err: BridgeProtocolError) -> bool:
        """The peer sent bytes that are not the protocol. A byte-stream link
        (``close_on_error``: one QUIC stream or WebSocket per tunnel) has lost
        its framing: close it, only it, and let the sender dial again (True:
        stop). A message link (NATS) goes on with a new session (False)."""
        self.protocol_errors += 1
        if self.close_on_error:
            log.warning("bridge %r: %s; closing this tunnel's link", self.tunnel, err)
            close = getattr(self.link, "close", None)
            if close is not None:
                await close()
            return True
        log.warning("bridge %r: %s; waiting for a new hello", self.tunnel, err)
        self.totals.retire(self.session)
        self.session, self._ack_at = self._new_session(), None
        return False

    async def run(self) -> None:
        """Until the stream ended and its sender went quiet for ``linger``
        seconds, or the ring was closed here (TunnelClosed)."""
        while self.ended_at is None or self.clock() < self._quiet_since() + self.linger:
            now = self.clock()
            try:
                got = self._feed(self.session, now)
                self._events(now)
            except BridgeProtocolError as err:
                if await self._broken(err):
                    return
                continue
            if self._ack_at is not None and now >= self._ack_at:
                self._acknowledge()
            if self.ended_at is None:
                self._window()
            sent = await self._flush(self.session, now)
            await self._wait(got or sent, self.session, self._watching())
