"""The tunnel ring protocol as one executable model: no memory, no clock, no I/O.

The ring's rules are carried out in five places: the WAT adapter
(``adapter.py``), the host writer and reader (``endpoint.py``), the tap
(``observe/tap.py``) and the two control modules. This module says, once and
in plain Python over integers, what each side decides: how much room or how
many messages there are, when a counter or a length read from the ring is
refused and with which ``Quarantine`` reason, where a slot starts, when a
received message is committed, how a lossless tap holds the writer back, and
what ``close`` means. ``tests/test_protocol_model.py`` drives the real
adapter and this model with the same operations and compares them after
every step, so the model is the adapter's behaviour, not a wish.

A cursor reads and writes the shared ring only through the ``Ring``
protocol (a field by name, a slot's length). ``RingState`` is the in-memory
ring the tests hold; the host's writer, reader and tap (``ring/endpoint.py``,
``observe/tap.py``) each hold a cursor over their ``RingMemory``, which
implements the same protocol.

Each cursor keeps, as the adapter does, a private copy of its own counter
and a cached copy of the other side's, re-read only when the cached value
says full (writer) or empty (reader). Besides the one-message steps a guest
makes, each cursor has batch steps for the host, which pays Python per call,
not per message: ``room_count`` / ``available_count`` say how many, ``claim``
checks a batch's lengths and moves the writer past it, ``check_lengths`` and
``take(n)`` do the same for a reader (and the tap), and ``fitting`` is the
length check over a whole batch. ``tests/test_host_model.py`` holds them to
the one-message steps.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from itertools import pairwise
from typing import Protocol

from . import layout as L
from .layout import Geometry, Quarantine, Status

U64 = (1 << 64) - 1
PROCEED = 1  # the internal "go on" of room/available/refresh (never returned to a guest)
NOT_YET = 0  # the ring is full (writer) or empty (reader): try again, or park
LAG_POLLS = 64  # a batch reader's polls of head while it lets the writer get ahead


class Field(IntEnum):
    """Every header field, by its name in docs/ring.md, at its offset."""

    MAGIC = L.OFF_MAGIC
    VERSION = L.OFF_VERSION
    SLOT_COUNT = L.OFF_SLOT_COUNT
    SLOT_SIZE = L.OFF_SLOT_SIZE
    CLOSED = L.OFF_CLOSED
    QUARANTINE = L.OFF_QUARANTINE
    HEADER_SIZE = L.OFF_HEADER_SIZE
    NAME_LEN = L.OFF_NAME_LEN
    NAME = L.OFF_NAME
    HEAD = L.OFF_HEAD
    BYTES_IN = L.OFF_BYTES_IN
    FULL_COUNT = L.OFF_FULL
    WRITER_PARKS = L.OFF_WRITER_PARKS
    WRITER_WAKES = L.OFF_WRITER_WAKES
    WRITER_YIELD = L.OFF_WRITER_YIELD
    TAIL = L.OFF_TAIL
    BYTES_OUT = L.OFF_BYTES_OUT
    EMPTY_COUNT = L.OFF_EMPTY
    READER_PARKS = L.OFF_READER_PARKS
    READER_WAKES = L.OFF_READER_WAKES
    DEAD_LETTERS = L.OFF_DEAD_LETTERS
    READER_YIELD = L.OFF_READER_YIELD
    READER_WAITING = L.OFF_READER_WAITING
    WRITER_WAITING = L.OFF_WRITER_WAITING
    TAP_MODE = L.OFF_TAP_MODE
    TAP_TAIL = L.OFF_TAP_TAIL
    STAMPS = L.OFF_STAMPS
    LATENCIES = L.OFF_LATENCIES
    BROKEN = L.OFF_BROKEN
    SUBSCRIBERS = L.OFF_SUBSCRIBERS
    SUB_LINES = L.OFF_SUB_LINES


FIELD_NAMES = {int(f): f.name.lower() for f in Field}
U32_FIELDS = frozenset({Field.MAGIC, Field.VERSION, Field.SLOT_COUNT, Field.SLOT_SIZE,
                        Field.CLOSED, Field.QUARANTINE, Field.HEADER_SIZE, Field.NAME_LEN,
                        Field.READER_WAITING, Field.WRITER_WAITING, Field.TAP_MODE,
                        Field.WRITER_YIELD, Field.READER_YIELD, Field.SUBSCRIBERS,
                        Field.SUB_LINES})
GEOMETRY_FIELDS = (Field.MAGIC, Field.VERSION, Field.SLOT_COUNT, Field.SLOT_SIZE,
                   Field.HEADER_SIZE)


class WouldPark(Exception):
    """A blocking call would park here: the model cannot say what it returns,
    that depends on what the other side does while it sleeps."""


# -- the rules, as functions of integers -------------------------------------

def used(head: int, tail: int) -> int:
    """Slots between two counters (u64 wrap-around arithmetic)."""
    return (head - tail) & U64


def counters_ok(head: int, tail: int, geometry: Geometry) -> bool:
    """The range check on every counter read from the ring: 0 <= head - tail <= N."""
    return used(head, tail) <= geometry.slot_count


def length_ok(length: int, geometry: Geometry) -> bool:
    """The check on every slot length read from the ring (and on every
    message a writer is given: a longer one is TOO_BIG)."""
    return length <= geometry.max_payload


def fitting(lengths: Sequence[int], geometry: Geometry) -> int:
    """How many of ``lengths``, from the first, pass ``length_ok``: the batch
    form of the length check (one ``max`` when every length is fine)."""
    limit = geometry.max_payload
    if not lengths or max(lengths) <= limit:
        return len(lengths)
    return next(i for i, n in enumerate(lengths) if n > limit)


def free_slots(head: int, tail: int, geometry: Geometry) -> int:
    """Slots a writer at ``head`` may fill before it reaches ``tail``
    (negative if the counters are out of range: see ``counters_ok``)."""
    return geometry.slot_count - used(head, tail)


def slot_offset(geometry: Geometry, counter: int) -> int:
    """Where the slot of ``counter`` starts: header_size + (n & mask) * slot_size."""
    return geometry.slot_offset(counter)


def payload_offset(geometry: Geometry, counter: int) -> int:
    """Where the payload of ``counter``'s slot starts, past [length][flags]."""
    return geometry.slot_offset(counter) + L.SLOT_HEADER


def record_size(length: int) -> int:
    """Bytes of one batch record: [len u32][payload padded to 4]."""
    return (length + 7) & ~3


def expected_header(geometry: Geometry) -> dict[Field, int]:
    """The geometry fields an end attaches to, as this geometry writes them."""
    return {Field.MAGIC: L.MAGIC, Field.VERSION: geometry.version,
            Field.SLOT_COUNT: geometry.slot_count, Field.SLOT_SIZE: geometry.slot_size,
            Field.HEADER_SIZE: L.HEADER_SIZE}


def tap_peer(pos: int, tail: int, tap_mode: int, tap_tail: int) -> tuple[int, Field]:
    """The counter a writer at ``pos`` must stay behind, and where it parks.

    With a lossless tap attached, whichever of the reader's tail and the tap's
    cursor is further behind."""
    if tap_mode and used(pos, tap_tail) > used(pos, tail):
        return tap_tail, Field.TAP_TAIL
    return tail, Field.TAIL


# -- the shared ring ---------------------------------------------------------

class Ring(Protocol):
    """What a cursor reads and writes of the shared ring."""

    def load(self, name: Field) -> int: ...

    def store(self, name: Field, value: int) -> None: ...

    def slot_length(self, counter: int) -> int: ...

    def put_slot_length(self, counter: int, length: int) -> None: ...


@dataclass
class RingState:
    """A ring in plain Python: header fields and slot lengths, nothing else."""

    geometry: Geometry
    fields: dict[Field, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fields = {**dict.fromkeys(Field, 0), **expected_header(self.geometry),
                       **self.fields}
        self.lengths = self.lengths or [0] * self.geometry.slot_count

    def load(self, name: Field) -> int:
        return self.fields[name]

    def store(self, name: Field, value: int) -> None:
        self.fields[name] = value & U64

    def slot_length(self, counter: int) -> int:
        return self.lengths[counter & self.geometry.mask]

    def put_slot_length(self, counter: int, length: int) -> None:
        self.lengths[counter & self.geometry.mask] = length


def bump(ring: Ring, name: Field, by: int = 1) -> None:
    """Add to a statistics counter (only its own side writes it)."""
    ring.store(name, ring.load(name) + by)


def ended(ring: Ring) -> int:
    """What a closed ring says to an end: BROKEN if the host broke it, else CLOSED."""
    return Status.BROKEN if ring.load(Field.BROKEN) else Status.CLOSED


def break_ring(ring: Ring, reason: int) -> int:
    """The host breaks a ring whose other end's service is gone for good.

    Broken is stored before closed, so an end that sees closed (where it
    already looks on its slow path) reads broken after it: a reader drains
    what was published, then gets BROKEN; a writer gets BROKEN at once. The
    host then wakes every waiter, as a close does."""
    ring.store(Field.BROKEN, ring.load(Field.BROKEN) or reason)  # the first reason stays
    ring.store(Field.CLOSED, 1)
    return Status.OK


def dead_letter(ring: Ring, geometry: Geometry) -> int | None:
    """Move the message at the committed tail aside, on the reader's side.

    The reader's service is not running (its supervisor does this between a
    trap and the reload): the tail is advanced by one, as a commit would,
    and ``dead_letters`` counted. Returns the message's counter (its
    sequence number), or None if nothing waits at the tail."""
    tail, head = ring.load(Field.TAIL), ring.load(Field.HEAD)
    if used(head, tail) == 0 or not counters_ok(head, tail, geometry):
        return None  # nothing there, or counters the restarted reader will refuse
    length = ring.slot_length(tail)
    if not length_ok(length, geometry):
        return None  # a length the restarted reader will refuse (quarantine)
    bump(ring, Field.BYTES_OUT, length)
    bump(ring, Field.DEAD_LETTERS)
    ring.store(Field.TAIL, tail + 1)
    return tail


# -- the two ends ------------------------------------------------------------

class Attach(Enum):
    """An end's own view of its ring (the adapter's ``$ok`` global)."""

    UNATTACHED = 0
    ATTACHED = 1
    QUARANTINED = 2


class _Cursor:
    """What both ends share: attach, the counter check, refresh, close."""

    OWN: Field
    OTHER: Field

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        self.pos = 0  # my counter, private copy
        self.peer = 0  # cached copy of the other side's counter
        self.done = 0  # the reader's last committed tail
        self.seen = 0  # the last counter that failed the range check (for a message)
        self.state = Attach.UNATTACHED

    def _head_tail(self) -> tuple[int, int]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def _peer_from(self, ring: Ring, value: int) -> int:
        return value  # the writer also looks at the tap

    def quarantine(self, ring: Ring, why: int) -> int:
        """Store the reason (the adapter also wakes both sides); CORRUPT from now on."""
        ring.store(Field.QUARANTINE, why)
        self.state = Attach.QUARANTINED
        return Status.CORRUPT

    def _check_counters(self, ring: Ring) -> int:
        head, tail = self._head_tail()
        if not counters_ok(head, tail, self.geometry):
            return self.quarantine(ring, Quarantine.BAD_COUNTERS)
        return Status.OK

    def attach(self, ring: Ring) -> int:
        """Check the header against my geometry, then load both counters."""
        if self.state is Attach.QUARANTINED:
            return Status.CORRUPT
        want = expected_header(self.geometry)
        if any(ring.load(f) != want[f] for f in GEOMETRY_FIELDS):
            return self.quarantine(ring, Quarantine.BAD_HEADER)
        if ring.load(Field.QUARANTINE):
            self.state = Attach.QUARANTINED
            return Status.CORRUPT
        self.pos = self.done = ring.load(self.OWN)
        self.peer = self._peer_from(ring, ring.load(self.OTHER))
        if self._check_counters(ring):
            return Status.CORRUPT
        self.state = Attach.ATTACHED
        return Status.OK

    def start(self, ring: Ring) -> None:
        """A host end's attach: my counter from the ring, the peer's not yet
        trusted (the cached copy says full, or empty), so the first batch
        re-reads and checks it. The host wrote the header itself."""
        self.pos = self.done = ring.load(self.OWN)
        self.peer = self._unknown_peer()
        self.state = Attach.ATTACHED

    def _unknown_peer(self) -> int:
        raise NotImplementedError

    def reload(self, ring: Ring) -> int:
        """Re-read the other side's counter and check it: OK, or CORRUPT
        (quarantined BAD_COUNTERS). A counter that fails is not kept: the
        cached copy stays as it was, so nothing past it is ever touched."""
        kept = self.peer
        self.peer = self._peer_from(ring, ring.load(self.OTHER))
        r = self._check_counters(ring)
        if r:
            self.seen, self.peer = self.peer, kept
        return r

    def refresh(self, ring: Ring) -> int:
        """The slow path: PROCEED, NOT_YET, or CORRUPT / CLOSED."""
        if ring.load(Field.QUARANTINE):
            self.state = Attach.QUARANTINED
            return Status.CORRUPT
        if self.reload(ring):
            return Status.CORRUPT
        if self.ready():
            return PROCEED
        if ring.load(Field.CLOSED):
            return self._closed(ring)
        return self._idle(ring)

    def _idle(self, ring: Ring) -> int:
        """What the slow path says when nothing can be done yet: NOT_YET."""
        return NOT_YET

    def _closed(self, ring: Ring) -> int:
        """Closed is stored after the last publish: re-read the counter once more."""
        # SYNC POINT with close: closed was read (in refresh) before this re-read
        self.peer = ring.load(self.OTHER)
        if self._check_counters(ring):
            return Status.CORRUPT
        return PROCEED if self.ready() else ended(ring)

    def _ensure_attached(self, ring: Ring) -> int:
        return Status.OK if self.state is Attach.ATTACHED else self.attach(ring)

    @staticmethod
    def close(ring: Ring) -> int:
        """Set the closed flag (the adapter then wakes every waiter)."""
        # SYNC POINT with _closed: closed is stored after this side's last publish
        ring.store(Field.CLOSED, 1)
        return Status.OK


class WriterCursor(_Cursor):
    """The write end: head is mine, tail (or the tap's cursor) is the peer."""

    OWN, OTHER = Field.HEAD, Field.TAIL

    def __init__(self, geometry: Geometry) -> None:
        super().__init__(geometry)
        self.parks_on = Field.TAIL  # where a park would wait: tail, or the tap's cursor

    def _head_tail(self) -> tuple[int, int]:
        return self.pos, self.peer

    def _unknown_peer(self) -> int:
        return (self.pos - self.geometry.slot_count) & U64

    def free(self) -> int:
        """Free slots by the cached peer (never re-read here)."""
        return free_slots(self.pos, self.peer, self.geometry)

    def ready(self) -> bool:
        return self.free() > 0

    def room_count(self, ring: Ring) -> int:
        """The batch form of ``room``: free slots, re-reading the peer only
        when the cached copy says none; CORRUPT if the counters are bad.
        Counts nothing and ignores ``closed`` (the caller checks it)."""
        free = self.geometry.slot_count - ((self.pos - self.peer) & U64)  # free(), inlined:
        # this runs on every host batch, where each Python call shows
        if free > 0:
            return free
        return self.reload(ring) or self.free()

    def claim(self, messages: Sequence[Sized]) -> int:
        """The batch form of ``send``'s length check, for a batch that has room:
        how many of ``messages``, from the first, fit (``fitting`` of their
        lengths), moving past them. The caller fills the slots from the old
        ``pos``, then publishes."""
        limit, n = self.geometry.max_payload, len(messages)
        if n == 1:  # send and try_send: no map and max for one message
            ok = 1 if len(messages[0]) <= limit else 0
        elif n == 0 or max(map(len, messages)) <= limit:
            ok = n
        else:
            ok = fitting([len(m) for m in messages], self.geometry)
        self.pos = (self.pos + ok) & U64
        return ok

    def claim_one(self, length: int) -> bool:
        """``room_count`` and ``claim`` for one message, by the cached peer
        only (the host's one-message send): True, moving past the slot, if
        one is free and the message fits; False changes nothing (the batch
        path then re-reads the peer, counts and refuses as it must)."""
        if (self.pos - self.peer) & U64 >= self.geometry.slot_count \
                or length > self.geometry.max_payload:
            return False
        self.pos = (self.pos + 1) & U64
        return True

    def claim_packed(self, bounds: Sequence[int], most: int) -> int:
        """``claim`` for messages packed end to end (message i spans
        ``bounds[i]`` to ``bounds[i + 1]``), none longer than ``most``: one
        comparison when the longest fits, the lengths only when it does not."""
        n = len(bounds) - 1
        if most <= self.geometry.max_payload:
            ok = n
        else:
            ok = fitting([b - a for a, b in pairwise(bounds)], self.geometry)
        self.pos = (self.pos + ok) & U64
        return ok

    def put(self, count: int) -> None:
        """``count`` slots from ``pos`` were filled: move past them (publish later)."""
        self.pos = (self.pos + count) & U64

    def _peer_from(self, ring: Ring, value: int) -> int:
        peer, self.parks_on = tap_peer(self.pos, value, ring.load(Field.TAP_MODE),
                                       ring.load(Field.TAP_TAIL))
        return peer

    def room(self, ring: Ring, block: bool) -> int:
        """PROCEED if a slot is free and the ring open; else a status."""
        r = self._ensure_attached(ring)
        if r:
            return r
        if self.ready():
            return ended(ring) if ring.load(Field.CLOSED) else PROCEED
        r = self.refresh(ring)
        if r == NOT_YET:
            bump(ring, Field.FULL_COUNT)
            if not block:
                return Status.AGAIN
            raise WouldPark("the writer would park on a full ring")
        if r == PROCEED and ring.load(Field.CLOSED):
            return ended(ring)
        return r

    def _put(self, ring: Ring, length: int) -> int:
        ring.put_slot_length(self.pos, length)
        self.pos, counter = (self.pos + 1) & U64, self.pos
        return counter

    def publish(self, ring: Ring, nbytes: int) -> None:
        """Head after the slots; a parked reader is woken (counted)."""
        # SYNC POINT with ReaderCursor.refresh (head re-read after reader_waiting is stored)
        ring.store(Field.HEAD, self.pos)
        bump(ring, Field.BYTES_IN, nbytes)
        if ring.load(Field.READER_WAITING):
            bump(ring, Field.WRITER_WAKES)

    def send(self, ring: Ring, length: int, block: bool = False) -> int:
        """One message of ``length`` bytes: OK or a status."""
        if not length_ok(length, self.geometry):
            return Status.TOO_BIG
        r = self.room(ring, block)
        if r != PROCEED:
            return r
        self._put(ring, length)
        self.publish(ring, length)
        # a writer-only service asked to yield learns it once its message is out
        return Status.YIELD if ring.load(Field.WRITER_YIELD) else Status.OK

    def send_batch(self, ring: Ring, lengths: list[int], block: bool = False) -> int:
        """Records sent (one publish per run of free slots), or a status if none."""
        r = self.room(ring, block) if lengths else Status.OK
        if lengths and r != PROCEED:
            return r
        sent = pending = nbytes = 0
        for length in lengths:
            if not length_ok(length, self.geometry):
                r = Status.TOO_BIG
                break
            if not self.ready():
                if pending:
                    self.publish(ring, nbytes)
                    nbytes = pending = 0
                r = self.room(ring, block)
                if r != PROCEED:
                    break
            self._put(ring, length)
            nbytes, sent, pending = nbytes + length, sent + 1, pending + 1
        if pending:
            self.publish(ring, nbytes)
        return r if sent == 0 and r < 0 else sent


@dataclass(frozen=True)
class Received:
    """What one receive returned: the ABI result and the counters it took."""

    result: int
    counters: tuple[int, ...] = ()


class ReaderCursor(_Cursor):
    """The read end: tail is mine, head is the peer; reading is two-phase.

    A message received stays uncommitted (its slot is not given back) until
    the next receive, ``commit``, a park or the service's return, so a reader
    that traps gets it again from a fresh cursor attached at the tail."""

    OWN, OTHER = Field.TAIL, Field.HEAD

    def __init__(self, geometry: Geometry) -> None:
        super().__init__(geometry)
        self.unbytes = 0  # bytes received, not committed

    def _head_tail(self) -> tuple[int, int]:
        return self.peer, self.pos

    def _unknown_peer(self) -> int:
        return self.pos

    def ready(self) -> bool:
        return self.pos != self.peer

    def _idle(self, ring: Ring) -> int:
        """An empty ring: YIELD if the host asks this reader to stop (so a
        reader parked on it wakes and returns), else NOT_YET."""
        return Status.YIELD if ring.load(Field.READER_YIELD) else NOT_YET

    def waiting(self) -> int:
        """Messages by the cached head (never re-read here): ``used``, inlined,
        as it runs on every host batch."""
        return (self.peer - self.pos) & U64

    def reload(self, ring: Ring) -> int:
        """``_Cursor.reload`` for a reader, with the range check inlined: a
        host reader re-reads head on every receive that finds the ring empty."""
        head = ring.load(Field.HEAD)
        if (head - self.pos) & U64 > self.geometry.slot_count:
            self.seen = head
            return self.quarantine(ring, Quarantine.BAD_COUNTERS)
        self.peer = head
        return Status.OK

    def available_count(self, ring: Ring) -> int:
        """The batch form of ``available``: messages waiting, re-reading head
        only when the cached copy says none; CORRUPT if the counters are bad.
        Counts nothing and commits nothing (a host reader commits at once)."""
        waiting = (self.peer - self.pos) & U64  # waiting(), inlined
        return waiting or self.reload(ring) or (self.peer - self.pos) & U64

    def check_lengths(self, ring: Ring, lengths: list[int]) -> int:
        """The batch form of ``peek``'s check: OK if every length of the next
        ``len(lengths)`` slots fits, else CORRUPT (quarantined BAD_LENGTH)."""
        if not lengths or max(lengths) <= self.geometry.max_payload:  # fitting, inlined
            return Status.OK
        return self.quarantine(ring, Quarantine.BAD_LENGTH)

    def check_length(self, ring: Ring, length: int) -> int:
        """``check_lengths`` for one message (the host's one-message receive)."""
        if length <= self.geometry.max_payload:
            return Status.OK
        return self.quarantine(ring, Quarantine.BAD_LENGTH)

    def take(self, count: int) -> None:
        """``count`` messages from ``pos`` were copied out: move past them."""
        self.pos = (self.pos + count) & U64

    def commit(self, ring: Ring) -> None:
        """Phase two: publish tail; wake a parked writer once half the ring is free."""
        if self.pos == self.done:
            return
        self.done = self.pos
        # SYNC POINT with WriterCursor.refresh (tail re-read after writer_waiting is stored)
        ring.store(Field.TAIL, self.pos)
        bump(ring, Field.BYTES_OUT, self.unbytes)
        self.unbytes = 0
        if (ring.load(Field.WRITER_WAITING)
                and used(self.peer, self.pos) <= self.geometry.slot_count // 2):
            bump(ring, Field.READER_WAKES)

    def commit_op(self, ring: Ring) -> int:
        """The guest's ``commit``: only an attached, healthy end commits."""
        if self.state is Attach.ATTACHED:
            self.commit(ring)
        return Status.OK

    def close_end(self, ring: Ring) -> int:
        """A reader's close commits what it received first."""
        self.commit_op(ring)
        return self.close(ring)

    def available(self, ring: Ring, block: bool) -> int:
        """PROCEED if a message waits; commits the previous receive first."""
        r = self._ensure_attached(ring)
        if r:
            return r
        self.commit(ring)
        # the commit point of a hot upgrade: committed, and nothing new taken
        if ring.load(Field.READER_YIELD):
            return Status.YIELD
        if self.ready():
            return PROCEED
        r = self.refresh(ring)
        if r == NOT_YET:
            bump(ring, Field.EMPTY_COUNT)
            if not block:
                return Status.AGAIN
            raise WouldPark("the reader would park on an empty ring")
        return r

    def peek(self, ring: Ring) -> int:
        """The next message's length, checked against the slot; or CORRUPT."""
        length = ring.slot_length(self.pos)
        if not length_ok(length, self.geometry):
            return self.quarantine(ring, Quarantine.BAD_LENGTH)
        return length

    def _next_length(self, ring: Ring, block: bool) -> int:
        """The length of the message a receive would take, or a status."""
        r = self.available(ring, block)
        return self.peek(ring) if r == PROCEED else r

    def _take(self) -> int:
        self.pos, counter = (self.pos + 1) & U64, self.pos
        return counter

    def fresh(self, ring: Ring, counter: int) -> bool:
        """Is message ``counter`` still the one copied? Always, for a reader the
        writer waits for; a lossy subscriber overrides this."""
        return True

    def recv(self, ring: Ring, cap: int, block: bool = False) -> Received:
        """One message into ``cap`` bytes: its length, or a status (TRUNCATED keeps it)."""
        r = self._next_length(ring, block)
        if r < 0:
            return Received(r)
        if r > cap:
            return Received(Status.TRUNCATED)
        self.unbytes += r
        return Received(r, (self._take(),))

    def recv_raw(self, ring: Ring, block: bool = False) -> Received:
        """Zero-copy: the message stays in its slot (at ``payload_offset``)."""
        r = self._next_length(ring, block)
        if r < 0:
            return Received(r)
        self.unbytes += r
        return Received(r, (self._take(),))

    def recv_batch(self, ring: Ring, cap: int, most: int, block: bool = False) -> Received:
        """Up to ``most`` records into ``cap`` bytes: how many, or a status."""
        r = self.available(ring, block)
        if r != PROCEED:
            return Received(0 if r == Status.AGAIN else r)
        r = self._let_writer_ahead(ring)
        if r < 0:
            return Received(r)
        counters: list[int] = []
        nbytes = 0
        while len(counters) < most:
            if not self.ready() and self.refresh(ring) != PROCEED:
                break
            length = self.peek(ring)
            if length < 0:
                r = length
                break
            if record_size(length) > cap:
                r = Status.TRUNCATED
                break
            counter = self._take()
            if not self.fresh(ring, counter):
                continue  # a lossy reader's record was overwritten by the next one
            cap -= record_size(length)
            nbytes += length
            counters.append(counter)
        if counters:
            self.unbytes += nbytes
            return Received(len(counters), tuple(counters))
        return Received(r)

    def _let_writer_ahead(self, ring: Ring) -> int:
        """A batch reader right behind the writer polls head a little first."""
        lag = min(32, self.geometry.slot_count // 4)
        r = PROCEED
        for _ in range(LAG_POLLS):
            if used(self.peer, self.pos) >= lag:
                break
            r = self.refresh(ring)
            if r != PROCEED:
                break
        return r


class TapCursor:
    """The host's tap: a second read cursor that, attached, holds the writer."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        self.pos = 0

    def attach(self, ring: Ring) -> int:
        """Start at head; the writer honours the tap from its next refresh."""
        # SYNC POINT with WriterCursor._peer_from (tap_mode read before tap_tail)
        ring.store(Field.TAP_TAIL, ring.load(Field.HEAD))
        ring.store(Field.TAP_MODE, 1)
        return self.start_at(ring.load(Field.HEAD))

    def start_at(self, counter: int) -> int:
        """The host's attach (done in Wasm, for its ordering) returned ``counter``."""
        self.pos = counter & U64
        return self.pos

    def available(self, ring: Ring) -> int:
        """Messages past the cursor; CORRUPT if the writer ran over the tap."""
        head = ring.load(Field.HEAD)
        return used(head, self.pos) if counters_ok(head, self.pos, self.geometry) \
            else Status.CORRUPT

    def check_lengths(self, lengths: list[int]) -> bool:
        """Every length of the next ``len(lengths)`` slots fits (a tap only
        reports a bad one: it is no end of the tunnel, it quarantines nothing)."""
        return fitting(lengths, self.geometry) == len(lengths)

    def take(self, count: int) -> None:
        """``count`` more messages were copied out (the host publishes in Wasm)."""
        self.pos = (self.pos + count) & U64

    def advance(self, ring: Ring, count: int) -> None:
        """Publish that ``count`` more messages were copied out."""
        self.take(count)
        ring.store(Field.TAP_TAIL, self.pos)

    @staticmethod
    def detach(ring: Ring) -> None:
        ring.store(Field.TAP_MODE, 0)

    def ended(self, ring: Ring) -> bool:
        """Closed, and nothing published past the cursor (closed is stored last)."""
        return bool(ring.load(Field.CLOSED)) and ring.load(Field.HEAD) == self.pos
