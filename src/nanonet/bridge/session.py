"""The bridge protocol as two sans-I/O sessions: bytes in, events out, time passed in.

A tunnel crosses machines as one ``SenderSession`` (beside the ring's
writer: it reads the local ring and sends batches) and one
``ReceiverSession`` (beside the ring's reader: it writes them into its own
ring). Like h11 and aioquic, a session opens no socket and reads no clock:
its driver feeds it what arrived (``receive_data(data, now)``), takes
``next_event()`` until None, sends ``data_to_send(now)``, and calls
``handle_timer(now)`` at ``get_timer()``. Sequence numbers are the sender
ring's counters; the receiver acknowledges cumulatively (every message
before ``next_seq`` is in its ring) and grants credit (how many more it
has room for), so the sender never sends what the far ring cannot hold.
Anything lost (a link cut, a NATS server restart) is recovered by the same
rule: the sender goes back to the last acknowledged sequence and sends
again, and the receiver drops what it already has. docs/bridge.md is the
written form.

A tunnel that opts into loss (``datagrams=True`` on both sessions, over a
link that carries QUIC datagrams) sends its batches as DGRAM frames, never
resent on a loss: the receiver counts a gap in the sequence as ``missed``
and goes on from the batch that came, so its next expected sequence is its
ring's head plus everything missed so far. A batch that comes ahead of a gap
waits ``reorder_wait`` for it first (datagrams overtake each other): if the
gap fills, both are delivered in order (bridge/reorder.py). A sender with batches in flight
and no ACK for ``resend_after`` says how far it sent (SENT) instead of
sending them again, and the receiver counts what did not come as missed.

Any bytes at all from a peer either work or raise ``BridgeProtocolError``
(the session is then dead: build a new one); what a session holds is
bounded by the credit it granted and one frame being decoded.
"""

from __future__ import annotations

import hmac
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BridgeProtocolError, InvalidValue
from . import frames as F
from .events import (
    Accepted,
    Acked,
    Connected,
    Ended,
    Event,
    LinkLost,
    Messages,
    Refused,
)
from .reorder import ReorderWindow

MAX_EVENTS = 1 << 16  # events not yet taken: bounded by credit; this guards the rest


@dataclass(frozen=True)
class Timing:
    """Seconds between hellos, idle pings, silence that means a lost link,
    an unanswered batch before it is sent again, and how long a datagram
    batch ahead of a gap waits for it (0: the gap is given up at once)."""

    hello_every: float = 0.25
    heartbeat: float = 1.0
    dead_after: float = 5.0
    resend_after: float = 1.0
    reorder_wait: float = 0.005


DEFAULT_TIMING = Timing()


def _fail(why: str) -> BridgeProtocolError:
    return BridgeProtocolError(f"bridge peer broke the protocol: {why}")


class _Session:
    """What both sides share: the decoder, heartbeats, events, failure."""

    EXPECTS: frozenset[F.Kind] = frozenset()

    def __init__(self, tunnel: str, max_payload: int, token: bytes, now: float,
                 timing: Timing) -> None:
        if len(tunnel.encode()) > F.MAX_NAME or len(token) > F.MAX_TOKEN:
            raise InvalidValue(f"a bridge needs a tunnel name of at most {F.MAX_NAME} bytes "
                               f"and a token of at most {F.MAX_TOKEN}: shorten them")
        self.tunnel, self.name = tunnel, tunnel.encode()
        self.max_payload, self.token, self.timing = max_payload, token, timing
        self._decoder = F.FrameDecoder(F.MAX_FRAME)
        self._events: deque[Event] = deque()
        self._control: dict[F.Kind, bytes] = {}  # one pending frame per kind: coalesced
        self.last_heard = self.last_sent = now
        self._silent_reported = False
        self.failed = False
        self.rtt: float | None = None  # seconds, from the last PONG to our PING
        self.bytes_in = self.bytes_out = 0

    def receive_data(self, data: F.Wire | memoryview, now: float) -> None:
        """Take bytes from the peer (any chunking); raises BridgeProtocolError."""
        self._receive(data, now, self._decoder.feed)

    def receive_datagram(self, data: F.Wire, now: float) -> None:
        """Take one QUIC datagram from the peer: exactly one DGRAM frame, read
        apart from the stream's bytes; raises BridgeProtocolError."""
        self._receive(data, now, lambda d: [F.decode_datagram(bytes(d))])

    def _receive(self, data: F.Wire | memoryview, now: float,
                 decode: Callable[[F.Wire | memoryview], list[F.Frame]]) -> None:
        if self.failed:
            raise _fail("the session already failed; start a new one")
        self.bytes_in += len(data)
        try:
            for frame in decode(data):
                self.last_heard, self._silent_reported = now, False
                if frame.kind not in self.EXPECTS:
                    raise _fail(f"a {frame.kind.name} frame, which this side never receives")
                self._handle(frame, now)
        except BridgeProtocolError:
            self.failed = True
            raise

    def _handle(self, frame: F.Frame, now: float) -> None:
        if frame.kind is F.Kind.PING:
            self._control[F.Kind.PONG] = F.pong(frame.fields[0])
        elif frame.kind is F.Kind.PONG:
            sent = frame.fields[0] / 1e6  # our PING's clock, in µs, echoed
            if 0 <= now - sent <= 60:  # a stale or forged echo is no measure
                self.rtt = now - sent

    def _push(self, event: Event) -> None:
        if len(self._events) >= MAX_EVENTS:
            self.failed = True
            raise _fail(f"{MAX_EVENTS} events pending: the peer sends more than it was granted")
        self._events.append(event)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self, now: float) -> list[F.Wire]:
        """Frames to put on the wire, in order (control frames first)."""
        out: list[F.Wire] = [*self._control.values()]
        self._control.clear()
        out += self._take_data()
        if out:
            self.last_sent = now
            self.bytes_out += sum(map(len, out))
        return out

    def _take_data(self) -> list[F.Wire]:
        return []

    def _deadlines(self) -> list[float]:
        out = []
        if self._live():
            out.append(self.last_sent + self.timing.heartbeat)
        if not self._silent_reported:
            out.append(self.last_heard + self.timing.dead_after)
        return out

    def get_timer(self) -> float | None:
        """When ``handle_timer`` is next due (None: only when bytes arrive)."""
        return min(self._deadlines(), default=None)

    def handle_timer(self, now: float) -> None:
        if now >= self.last_sent + self.timing.heartbeat and self._live():
            self._control.setdefault(F.Kind.PING, F.ping(int(now * 1e6) & F.U64))
            self.last_sent = now  # sent with the next flush
        if now >= self.last_heard + self.timing.dead_after and not self._silent_reported:
            self._silent_reported = True
            self._push(LinkLost(now - self.last_heard))
            self._lost()

    def _live(self) -> bool:
        return True

    def _lost(self) -> None:
        pass


class SenderSession(_Session):
    """The writer's side: hello, then batches within the credit, resent from
    the last acknowledged sequence after any loss."""

    EXPECTS = frozenset({F.Kind.WELCOME, F.Kind.ACK, F.Kind.REFUSE, F.Kind.PING, F.Kind.PONG})

    def __init__(self, tunnel: str, max_payload: int, token: bytes, next_seq: int,
                 now: float, timing: Timing = DEFAULT_TIMING, nonce: int = 1,
                 datagrams: bool = False) -> None:
        super().__init__(tunnel, max_payload, token, now, timing)
        self.datagrams = datagrams  # batches as DGRAM frames, given up (not resent) if lost
        self.batch_kind = F.Kind.DGRAM if datagrams else F.Kind.DATA
        self.state = "hello"  # hello -> open -> (hello again after a loss); refused
        self.acked = self.next_send = self.window_end = self.sent_hi = next_seq
        self.nonce = nonce
        self.end_seq: int | None = None
        self.broken: tuple[int, str, str] | None = None  # why the local writer is gone
        self.peer_ended = False  # the receiver saw the end (ACK_ENDED)
        self._data: list[F.Wire] = []
        self._progress_at = now
        self._hello_at = now
        self.retransmits = 0  # messages sent again after a loss or a REWIND
        self.restarts = 0  # hellos again after a lost link or a RESUME
        self._sent_at: deque[tuple[int, float]] = deque(maxlen=64)  # (end, when): RTT

    def sendable(self) -> int:
        """Messages that may be sent now (the credit left)."""
        return max(0, self.window_end - self.next_send) if self.state == "open" else 0

    @property
    def done(self) -> bool:
        """The stream was finished, every message acknowledged, the end seen."""
        return self.end_seq is not None and self.acked == self.end_seq and self.peer_ended

    def send_data(self, first_seq: int, lengths: array[int],
                  payload: bytes | memoryview) -> None:
        """Queue one batch starting at ``next_send`` within the credit."""
        self.send_frame(first_seq, len(lengths),
                        F.data(first_seq, lengths, payload, self.batch_kind))

    def send_frame(self, first_seq: int, n: int, frame: bytes | bytearray) -> None:
        """``send_data`` of a DATA frame already built (``frames.data_into``)
        for ``n`` messages from ``first_seq``."""
        if first_seq != self.next_send or not 0 < n <= min(F.MAX_BATCH, self.sendable()):
            raise InvalidValue(f"a batch of {n} from {first_seq}: the session sends from "
                               f"{self.next_send}, {self.sendable()} at most")
        self._data.append(frame)
        self.next_send += n
        self.sent_hi = max(self.sent_hi, self.next_send)
        self._close_if_all_sent()

    def _close_if_all_sent(self) -> None:
        """CLOSE (or BROKEN) once the last batch is sent; with datagrams, once
        it is acknowledged too, so the end never overtakes a datagram."""
        if self.datagrams and self.acked != self.end_seq:
            return
        if self.state == "open" and self.next_send == self.end_seq:
            if self.broken is None:
                self._control[F.Kind.CLOSE] = F.close(self.end_seq)
            else:
                self._control[F.Kind.BROKEN] = F.broken(self.end_seq, *self.broken)

    def finish(self, end_seq: int, broken: tuple[int, str, str] | None = None) -> None:
        """The local ring is closed: the stream ends at ``end_seq``; ``broken``
        (a ``layout.Broken`` code, the writer's service, why): its writer is
        gone, and the far reader is to see TunnelBroken, not a clean close."""
        if end_seq < self.acked:
            raise InvalidValue(f"the stream cannot end at {end_seq}: {self.acked} was acknowledged")
        self.end_seq, self.broken = end_seq, broken
        self._close_if_all_sent()

    def data_to_send(self, now: float) -> list[F.Wire]:
        """As ``_Session``'s; the time a batch left is kept until its ACK (the RTT)."""
        batches = bool(self._data) and not self._hello_due()
        out = super().data_to_send(now)
        if batches:
            self._sent_at.append((self.next_send, now))
        return out

    def _measure(self, next_seq: int, now: float) -> None:
        """An ACK up to ``next_seq``: the round trip of the last batch it covers."""
        sent = None
        while self._sent_at and self._sent_at[0][0] <= next_seq:
            sent = self._sent_at.popleft()[1]
        if sent is not None:
            self.rtt = now - sent

    def _take_data(self) -> list[F.Wire]:
        if self._hello_due():
            return []
        out, self._data = self._data, []
        return out

    def _hello_due(self) -> bool:
        return self.state == "hello"

    def _say_hello(self, now: float) -> None:
        self._control[F.Kind.HELLO] = F.hello(F.VERSION, F.VERSION, self.max_payload,
                                              self.nonce, self.name, self.token, self.datagrams)
        self._hello_at = now + self.timing.hello_every

    def _restart(self) -> None:
        """Back to the handshake: a fresh nonce, nothing queued."""
        self.restarts += 1
        self.state, self.nonce = "hello", (self.nonce + 1) & F.U64
        self._data.clear()
        self._control.pop(F.Kind.PING, None)
        self._hello_at = self.last_heard  # due at once

    def _rewind(self, now: float) -> None:
        self.retransmits += self.next_send - self.acked
        self._sent_at.clear()  # a resent batch's ACK would not say which send it answers
        self.next_send, self._progress_at = self.acked, now
        self._data.clear()

    def _handle(self, frame: F.Frame, now: float) -> None:
        kind = frame.kind
        if kind is F.Kind.WELCOME:
            self._welcome(frame, now)
        elif kind is F.Kind.ACK:
            self._ack(frame, now)
        elif kind is F.Kind.REFUSE:
            self._refused(frame)
        else:
            super()._handle(frame, now)

    def _welcome(self, frame: F.Frame, now: float) -> None:
        version, _, credit, nonce, next_seq = frame.fields
        if self.state != "hello" or nonce != self.nonce:
            return  # an answer to an older hello
        if version != F.VERSION:
            raise _fail(f"welcome with version {version}, not one this hello offered")
        if next_seq < self.acked:
            raise _fail(f"the receiver expects {next_seq}, but {self.acked} was acknowledged")
        self.state = "open"
        self.acked = self.next_send = next_seq
        self.sent_hi = max(self.sent_hi, next_seq)
        self.window_end = next_seq + credit
        self._progress_at = now
        self._control.pop(F.Kind.HELLO, None)
        self._push(Accepted(version, next_seq, credit))
        self._close_if_all_sent()

    def _ack(self, frame: F.Frame, now: float) -> None:
        next_seq, credit, flags = frame.fields
        if self.state != "open" or next_seq < self.acked:
            return  # stale
        if next_seq > self.sent_hi:
            raise _fail(f"an acknowledgement of {next_seq}, beyond {self.sent_hi} sent")
        moved = next_seq > self.acked
        if moved:
            self.acked, self._progress_at = next_seq, now
            self._measure(next_seq, now)
        self.window_end = max(self.window_end, next_seq + credit)
        self.next_send = max(self.next_send, next_seq)
        if flags & F.ACK_REWIND:
            self._rewind(now)
        if flags & F.ACK_ENDED and next_seq == self.end_seq:
            self.peer_ended = True
        if moved and self.datagrams:
            self._close_if_all_sent()
        self._push(Acked(next_seq, credit))

    def _refused(self, frame: F.Frame) -> None:
        code, reason = F.parse_refuse(frame)
        if code == F.Refusal.RESUME:
            self._restart()
            return
        self.state = "refused"
        self._data.clear()
        self._push(Refused(code, reason, by_peer=True))

    def _deadlines(self) -> list[float]:
        out = super()._deadlines()
        if self.state == "hello":
            out.append(self._hello_at)
        if self._waiting_for_ack() or self._window_shut():
            out.append(self._progress_at + self.timing.resend_after)
        return out

    def _window_shut(self) -> bool:
        """No credit, nothing in flight: a lost window update would stall us."""
        return self.state == "open" and self.next_send == self.acked == self.window_end \
            and self.end_seq != self.acked

    def _waiting_for_ack(self) -> bool:
        unacked = self.next_send > self.acked or (
            self.end_seq is not None and not self.peer_ended
            and self.next_send == self.end_seq)
        return self.state == "open" and unacked

    def handle_timer(self, now: float) -> None:
        super().handle_timer(now)
        if self.state == "hello" and now >= self._hello_at:
            self._say_hello(now)
        due = now >= self._progress_at + self.timing.resend_after
        if due and self._waiting_for_ack() and self.datagrams:
            self._give_up(now)
        elif due and self._waiting_for_ack():
            self._rewind(now)
            self._close_if_all_sent()
        elif due and self._window_shut():  # a probe: the receiver answers with its ACK
            self._control.setdefault(F.Kind.PING, F.ping(int(now * 1e6) & F.U64))
            self._progress_at = now

    def _give_up(self, now: float) -> None:
        """No ACK for ``resend_after`` with datagrams in flight: they were lost,
        or their ACK was. Say how far we sent (SENT, on the reliable stream),
        not the batches again: the receiver counts what did not come as missed
        and acknowledges; an end already reached is said again."""
        if self.next_send > self.acked:
            self._control[F.Kind.SENT] = F.sent(self.next_send)
        self._progress_at = now
        self._close_if_all_sent()

    def _live(self) -> bool:
        return self.state == "open"

    def _lost(self) -> None:
        if self.state == "open":
            self._restart()


class ReceiverSession(_Session):
    """The reader's side: checks hellos (token in constant time), drops
    duplicates by sequence, asks again for what went missing."""

    EXPECTS = frozenset({F.Kind.HELLO, F.Kind.DATA, F.Kind.CLOSE, F.Kind.BROKEN, F.Kind.PING,
                         F.Kind.PONG, F.Kind.DGRAM, F.Kind.SENT})

    def __init__(self, tunnel: str, max_payload: int, token: bytes, next_seq: int,
                 credit: int, now: float, timing: Timing = DEFAULT_TIMING,
                 datagrams: bool = False) -> None:
        super().__init__(tunnel, max_payload, token, now, timing)
        self.datagrams = datagrams  # DGRAM frames come, and a gap is missed, not asked again
        self.missed = 0  # messages given up: a gap before a DGRAM batch, or before a SENT
        self.state = "waiting"  # waiting -> open (a hello passed)
        self.expected = self.written = next_seq
        self.credit = credit
        self.granted_end = next_seq + credit
        self.end_seq: int | None = None
        self.broken: tuple[int, str, str] | None = None  # the far writer is gone: why
        self._ended = False
        self._rewound_at = -1  # the expected sequence a rewind was last asked for
        self.duplicates = 0  # messages that arrived again after a resend, dropped here
        self._window = ReorderWindow(timing.reorder_wait)  # datagram batches ahead of a gap

    def acknowledge(self, next_seq: int, credit: int) -> None:
        """Messages before ``next_seq`` are in the ring, ``credit`` more fit."""
        if not self.written <= next_seq <= self.expected:
            raise InvalidValue(f"acknowledge {next_seq}: it must lie between "
                               f"{self.written} and {self.expected}")
        self.written, self.credit = next_seq, credit
        self.granted_end = max(self.granted_end, next_seq + credit)
        if self.state == "open":
            self._queue_ack()

    def _queue_ack(self, flags: int = 0) -> None:
        ended = F.ACK_ENDED if self._ended and self.written == self.end_seq else 0
        self._control[F.Kind.ACK] = F.ack(self.written, self.credit, flags | ended)

    def _handle(self, frame: F.Frame, now: float) -> None:
        kind = frame.kind
        if kind is F.Kind.HELLO:
            self._hello(F.parse_hello(frame), bool(frame.flags & F.HELLO_DATAGRAM))
        elif kind in F.BATCHES:
            self._data(frame, now)
        elif kind is F.Kind.SENT:
            self._sent(frame.fields[0])
        elif kind is F.Kind.CLOSE:
            self._close(frame.fields[0])
        elif kind is F.Kind.BROKEN:
            end_seq, reason, service, cause = F.parse_broken(frame)
            self.broken = (reason, service, cause)
            self._close(end_seq)
        else:
            super()._handle(frame, now)
            if kind is F.Kind.PING:
                self._probed()

    def _probed(self) -> None:
        """A ping may be the probe of a sender whose window is shut: answer
        with the ACK. With no session here (this receiver restarted after it
        granted its last credit), ask for a hello: the sender sends no DATA
        that would ask, and its pings keep the link alive, so nothing else
        would ever reopen its window."""
        if self.state == "open":
            self._queue_ack()
        else:
            self._resume()

    def _why_not(self, h: F.Hello, datagrams: bool) -> tuple[F.Refusal, str] | None:
        if not hmac.compare_digest(h.token, self.token):
            return F.Refusal.AUTH, "wrong token"
        if not h.min_version <= F.VERSION <= h.max_version:
            return F.Refusal.VERSION, (f"versions {h.min_version}..{h.max_version} offered, "
                                       f"{F.VERSION} spoken here")
        if h.name != self.name or h.max_payload != self.max_payload:
            return F.Refusal.TUNNEL, (f"tunnel {h.name!r} of max_payload {h.max_payload}; "
                                      f"here {self.name!r} of {self.max_payload}")
        if datagrams != self.datagrams:
            return F.Refusal.TUNNEL, (f"tunnel {h.name!r} sent as {_delivery(datagrams)}; "
                                      f"here received as {_delivery(self.datagrams)}")
        return None

    def _hello(self, h: F.Hello, datagrams: bool) -> None:
        refusal = self._why_not(h, datagrams)
        if refusal is not None:
            code, reason = refusal
            if F.Kind.REFUSE not in self._control:  # one refusal (and event) per flush
                self._control[F.Kind.REFUSE] = F.refuse(code, reason)
                self._push(Refused(code, reason, by_peer=False))
            return
        self.state = "open"
        self._control[F.Kind.WELCOME] = F.welcome(F.VERSION, self.granted_end - self.written,
                                                  h.nonce, self.written)
        self._control.pop(F.Kind.ACK, None)  # the welcome says it
        self._push(Connected(F.VERSION, self.written))

    def _resume(self) -> None:
        if F.Kind.REFUSE not in self._control:
            self._control[F.Kind.REFUSE] = F.refuse(F.Refusal.RESUME, "no session: say hello")

    def _data(self, frame: F.Frame, now: float) -> None:
        if self.state != "open":
            self._resume()
            return
        lossy = frame.kind is F.Kind.DGRAM
        if lossy and not self.datagrams:
            raise _fail("a DGRAM frame on a tunnel that does not opt into loss")
        batch = F.parse_data(frame, self.max_payload)
        first, end = batch.first_seq, batch.end_seq
        if end > self.granted_end:
            raise _fail(f"messages up to {end}, past the {self.granted_end} granted")
        if first > self.expected and lossy:
            self._hold(batch, now)
        elif first > self.expected:
            self._ask_again()
        else:
            self._deliver(batch)
            if self._window:
                self._release(self.expected)

    def _hold(self, batch: F.Batch, now: float) -> None:
        """A datagram batch ahead of a gap waits for it (``reorder_wait``);
        a second copy of one already waiting is a duplicate."""
        if self.timing.reorder_wait <= 0:
            self._skip_to(batch.first_seq)
            self._deliver(batch)
        elif not self._window.hold(batch, now):
            self.duplicates += len(batch.lengths)

    def _deliver(self, batch: F.Batch) -> None:
        """A batch that starts at or before ``expected``: what is new in it
        becomes an event, the rest counts as duplicates."""
        first, end = batch.first_seq, batch.end_seq
        if end <= self.expected:
            self.duplicates += end - first
            self._queue_ack()
            return
        skip, self.expected = self.expected - first, end
        self.duplicates += skip
        self._push(Messages(batch, skip))
        self._maybe_ended()

    def _release(self, give_up_to: int) -> None:
        """Deliver the held batches that now follow without a gap, and those
        that start at or before ``give_up_to`` (the gap counts as missed)."""
        for batch in self._window.take(self.expected, give_up_to):
            self._skip_to(batch.first_seq)
            self._deliver(batch)

    def _skip_to(self, seq: int) -> None:
        """Give up every message before ``seq`` not yet here: they count as missed."""
        if seq > self.expected:
            self.missed += seq - self.expected
            self.expected = seq

    def _sent(self, next_seq: int) -> None:
        """The sender sent every message before ``next_seq`` as datagrams: what
        did not come is missed. Answered with an ACK (the sender waits for it)."""
        if not self.datagrams:
            raise _fail("a SENT frame on a tunnel that does not opt into loss")
        if self.state != "open":
            self._resume()
            return
        if next_seq > self.granted_end:
            raise _fail(f"sent up to {next_seq}, past the {self.granted_end} granted")
        if self.end_seq is not None and next_seq > self.end_seq:
            raise _fail(f"sent up to {next_seq}, past the stream's end at {self.end_seq}")
        self._release(next_seq)
        self._skip_to(next_seq)
        self._maybe_ended()
        self._queue_ack()

    def _ask_again(self) -> None:
        """A batch went missing: ask for everything from ``expected`` once."""
        if self._rewound_at != self.expected:
            self._rewound_at = self.expected
            self._queue_ack(F.ACK_REWIND)

    def _close(self, end_seq: int) -> None:
        if self.state != "open":
            self._resume()
            return
        if end_seq < self.expected or (self.end_seq is not None and end_seq != self.end_seq):
            raise _fail(f"the stream ends at {end_seq}, but {self.expected} arrived")
        self.end_seq = end_seq
        if self.expected < end_seq:
            self._ask_again()
        self._maybe_ended()
        if self._ended:
            self._queue_ack()

    def _maybe_ended(self) -> None:
        if self.end_seq is not None and self.expected == self.end_seq and not self._ended:
            self._ended = True
            self._push(Ended(self.end_seq, self.broken))

    def _deadlines(self) -> list[float]:
        out = super()._deadlines()
        due = self._window.due()
        if due is not None:
            out.append(due)
        return out

    def handle_timer(self, now: float) -> None:
        super().handle_timer(now)
        give_up_to = self._window.waited_past(now)
        if give_up_to is not None:
            self._release(give_up_to)

    def _live(self) -> bool:
        return self.state == "open"


def _delivery(datagrams: bool) -> str:
    return "datagrams (delivery = \"datagram\")" if datagrams else "a stream"
