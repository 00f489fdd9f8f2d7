"""Host-side access to a ring's shared memory: the only raw access in Python.

A ``RingMemory`` owns one ``wasmtime.SharedMemory`` sized for a geometry and
writes its header once (rings carry no data segment: a data segment in shared
memory is re-applied at every instantiation and would reset the counters).
Every byte Python reads or writes in a ring goes through this class: header
fields (aligned loads and stores, by offset or by ``protocol.Field``), slot
lengths, and whole batches of slots (``write_slots``, ``slot_lengths``,
``read_payloads``, ``copy_slots``, ``copy_every``), whose loops run here so
that the endpoints and the tap pay one call per batch.
``tests/test_ring_access.py`` keeps every other module off the raw bytes.

The host publishes its counters here, with no Wasm call: an aligned 4- or
8-byte load or store through a memoryview item is one ``mov`` on x86-64,
so it is atomic, and x86-64's ordering (TSO) keeps stores in program order
and loads in program order, which is the release/acquire pair the ring
needs. The one reordering TSO allows, a load passing an earlier store, is
what the park handshake (Dekker) must forbid, so every publish puts a full
fence between its store and its load of the waiting flag (``fence``).
docs/ring.md ("Memory ordering") says why that is enough.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from array import array
from collections.abc import Sequence

import wasmtime

from ..errors import InvalidValue
from . import columns
from . import layout as L
from . import portlayout as P
from .layout import Geometry
from .portlayout import PortGeometry
from .protocol import U32_FIELDS, Field

_FENCE = threading.Lock()  # taken only for the full fence it implies
_TAKE, _GIVE = _FENCE.acquire, _FENCE.release
_SLOT_HEAD = struct.Struct("<II")  # [length u32][flags u32]
_LENGTH = struct.Struct("<I")
# the ctypes type of the field at each header offset: a tuple indexed by a
# Field (an int), where a set lookup would call Enum.__hash__ in Python
_KIND = tuple(ctypes.c_uint32 if off in U32_FIELDS else ctypes.c_uint64
              for off in range(L.HEADER_SIZE))
_SLOTS = L.HEADER_SIZE  # where slot 0 starts
_SH = L.SLOT_HEADER  # [length][flags] before each payload
_PAYLOAD = L.HEADER_SIZE + _SH  # where slot 0's payload starts
# indexes of the header fields in the u64 (Q) and u32 (W) views of the ring
_Q_HEAD, _Q_TAIL = L.OFF_HEAD // 8, L.OFF_TAIL // 8
_Q_BYTES_IN, _Q_BYTES_OUT = L.OFF_BYTES_IN // 8, L.OFF_BYTES_OUT // 8
_W_CLOSED, _W_QUARANTINE = L.OFF_CLOSED // 4, L.OFF_QUARANTINE // 4
_W_READER_WAITING, _W_WRITER_WAITING = L.OFF_READER_WAITING // 4, L.OFF_WRITER_WAITING // 4


STRIDED_WORDS = 16  # records of up to 128 bytes are copied a word column at a time


def _strided(bounds: range) -> bool:
    """Records of one size that ``_write_records`` copies faster than one by one."""
    return bounds.step % 8 == 0 and 0 < bounds.step <= 8 * STRIDED_WORDS \
        and bounds.start % 8 == 0


def _columns_fit(size: int) -> bool:
    """Records of ``size`` bytes that ``_read_records`` copies faster than
    one by one (small, a multiple of 8)."""
    return size % 8 == 0 and 0 < size <= 8 * STRIDED_WORDS


def _record_size(lengths: Sequence[int]) -> int:
    """The one length of ``lengths`` if ``_read_records`` copies them faster
    than one by one (small, a multiple of 8, all alike), else 0."""
    size = lengths[0] if len(lengths) > 1 else 0
    if not _columns_fit(size) or lengths.count(size) != len(lengths):
        return 0
    return size


def _lengths(length: int, count: int) -> array[int]:
    """``count`` slot heads of one length (flags 0), as u64 words."""
    return array("Q", (length,)) * count


def fence() -> None:
    """A full memory fence: an uncontended ``threading.Lock`` is taken and
    given back with locked instructions (``lock cmpxchg``, ``lock xadd`` in
    glibc's semaphores), and a locked instruction on x86-64 orders every
    earlier store before every later load, as ``mfence`` does. Two C calls:
    the smallest way to a fence from Python without a native helper."""
    _TAKE()
    _GIVE()


def _name_bytes(kind: str, name: str, limit: int) -> bytes:
    """A tunnel's or a port's name as its header holds it; an error if longer than ``limit``."""
    raw = name.encode()
    if len(raw) > limit:
        raise InvalidValue(f"{kind} name {name!r} is {len(raw)} bytes; the limit is {limit}: "
                           "use a shorter name")
    return raw


_SHARED_TYPES: dict[int, wasmtime.MemoryType] = {}  # by pages: a type belongs to no engine


def _shared_type(pages: int) -> wasmtime.MemoryType:
    """The type of a shared memory of exactly ``pages`` pages, made once per
    size: making and freeing one per tunnel cost a mesh of many tunnels more
    than the memory it describes (a type is only read once made)."""
    ty = _SHARED_TYPES.get(pages)
    if ty is None:
        ty = _SHARED_TYPES.setdefault(
            pages, wasmtime.MemoryType(wasmtime.Limits(pages, pages), shared=True))
    return ty


def _base(shared: wasmtime.SharedMemory) -> int:
    """Where a shared memory starts. ``ctypes.cast`` would leave two objects
    in a reference cycle per memory (the cast pointer keeps its source alive
    through its own ``_objects``), which only the cyclic collector frees."""
    return ctypes.addressof(shared.data_ptr().contents)


def _shared_memory(engine: wasmtime.Engine, pages: int) -> wasmtime.SharedMemory:
    """A shared memory of exactly ``pages`` pages: a ring or a port never grows."""
    return wasmtime.SharedMemory(engine, _shared_type(pages))



def private_address(store: wasmtime.Store, mem: wasmtime.Memory) -> int:
    """Where a module's own (not shared, never grown) memory starts: for the
    tap's pcapng builder, which hands its output back there. No ring is
    reached this way; rings are read through ``RingMemory`` only."""
    return ctypes.addressof(mem.data_ptr(store).contents)


def private_view(store: wasmtime.Store, mem: wasmtime.Memory) -> memoryview:
    """A view of all of a module's own (not shared, never grown) memory: the
    tap's builder hands a batch's blocks to a file from there, uncopied."""
    size = mem.data_len(store)
    return memoryview((ctypes.c_ubyte * size).from_address(private_address(store, mem))).cast("B")

class RingMemory:
    """One tunnel's shared linear memory, initialised as an empty ring."""

    def __init__(self, engine: wasmtime.Engine, geometry: Geometry, name: str = "") -> None:
        _name_bytes("tunnel", name, L.MAX_NAME)  # written by _init_header
        self.geometry = geometry
        self.name = name
        self._mask, self._slot = geometry.mask, geometry.slot_size  # for the batch loops
        self.shared = _shared_memory(engine, geometry.pages)
        self.size = self.shared.data_len()
        self.base = _base(self.shared)
        buf = (ctypes.c_ubyte * self.size).from_address(self.base)
        self._view = memoryview(buf).cast("B")
        self._bind_words(self._view)
        self._init_header()

    def _bind_words(self, view: memoryview) -> None:
        """The u64 and u32 views every fast-path load and store goes through:
        an aligned item of either is one ``mov`` on x86-64 (atomic)."""
        self._q = view.cast("Q")
        self._w = view.cast("I")

    def _init_header(self) -> None:
        g = self.geometry
        raw = self.name.encode()
        struct.pack_into("<IIIIIIII", self._view, 0, L.MAGIC, g.version, g.slot_count,
                         g.slot_size, 0, 0, L.HEADER_SIZE, len(raw))
        self._view[L.OFF_NAME: L.OFF_NAME + len(raw)] = raw
        if g.subscribers:  # a pub-sub ring: where its subscriber lines are
            struct.pack_into("<II", self._view, L.OFF_SUBSCRIBERS, g.subscribers, g.sub_lines)

    def u32(self, offset: int) -> int:
        return ctypes.c_uint32.from_address(self.base + offset).value

    def u64(self, offset: int) -> int:
        return ctypes.c_uint64.from_address(self.base + offset).value

    def put_u32(self, offset: int, value: int) -> None:
        """A plain store: for fields no one races on (tests, initialisation)."""
        ctypes.c_uint32.from_address(self.base + offset).value = value

    def put_u64(self, offset: int, value: int) -> None:
        ctypes.c_uint64.from_address(self.base + offset).value = value

    # -- the ``protocol.Ring`` interface: fields by name, slot lengths ---------

    def load(self, name: Field) -> int:
        return _KIND[name].from_address(self.base + name).value

    def store(self, name: Field, value: int) -> None:
        """A plain store (no ordering): for the side's own statistics and the quarantine."""
        kind = _KIND[name]
        kind.from_address(self.base + name).value = value & (
            0xFFFF_FFFF if kind is ctypes.c_uint32 else 0xFFFF_FFFF_FFFF_FFFF)

    def slot_length(self, counter: int) -> int:
        return self.u32(self.geometry.slot_offset(counter))

    def put_slot_length(self, counter: int, length: int) -> None:
        self.put_u32(self.geometry.slot_offset(counter), length)

    # -- batches of slots: one call per batch, the loop here -----------------

    def write_slots(self, first: int, messages: Sequence[bytes]) -> int:
        """Fill the slots of counters ``first, first + 1, ...`` with ``messages``
        ([length][flags = 0][payload]); returns the payload bytes written.
        The caller has checked that each fits and that the slots are free."""
        view, pack, mask, size = self._view, _SLOT_HEAD.pack_into, self._mask, self._slot
        nbytes = 0
        for data in messages:
            off = _SLOTS + (first & mask) * size
            n = len(data)
            pack(view, off, n, 0)
            view[off + _SH: off + _SH + n] = data
            nbytes += n
            first += 1
        return nbytes

    def slot_lengths(self, first: int, count: int) -> list[int]:
        """The length fields of ``count`` slots from counter ``first``, unchecked:
        one strided read per run of slots up to the ring's end."""
        out: list[int] = []
        step, mask = self._slot >> 2, self._mask
        while count > 0:
            slot = first & mask
            run = min(count, mask + 1 - slot)
            at = (_SLOTS >> 2) + slot * step
            out += self._w[at: at + run * step: step].tolist()
            first, count = first + run, count - run
        return out

    def read_payloads(self, first: int, lengths: list[int]) -> list[bytes]:
        """Copies of the payloads of the slots from counter ``first``, of the
        given (already checked) lengths."""
        view, mask, size = self._view, self._mask, self._slot
        out = []
        for n in lengths:
            off = _PAYLOAD + (first & mask) * size
            out.append(bytes(view[off: off + n]))
            first += 1
        return out

    # -- the host's fast path: one call per step, no Wasm ------------------

    def head(self) -> int:
        """Load head (acquire under TSO: the slot loads after it see what the
        writer stored before it)."""
        return self._q[_Q_HEAD]

    def tail(self) -> int:
        return self._q[_Q_TAIL]

    def stopped(self) -> int:
        """Nonzero if the ring is closed or quarantined (the slow path looks which)."""
        w = self._w
        return w[_W_CLOSED] | w[_W_QUARANTINE]

    def write_slot(self, counter: int, data: bytes) -> None:
        """Fill one slot ([length][flags = 0][payload]); the caller checked room and size."""
        off = _SLOTS + (counter & self._mask) * self._slot
        n = len(data)
        self._q[off >> 3] = n  # length, and flags 0, in one aligned store
        self._view[off + _SH: off + _SH + n] = data

    def length_at(self, counter: int) -> int:
        """The length field of one slot, unchecked (the caller checks it once)."""
        return self._w[(_SLOTS + (counter & self._mask) * self._slot) >> 2]

    def payload(self, counter: int, length: int) -> bytes:
        """A copy of one slot's payload of an already checked ``length``."""
        off = _PAYLOAD + (counter & self._mask) * self._slot
        return self._view[off: off + length].tobytes()

    def publish_head(self, head: int, nbytes: int) -> int:
        """Add ``nbytes`` to bytes_in, store head, fence, then load
        reader_waiting: nonzero if the reader announced a park (wake it).

        The slots were filled with plain stores before this call; TSO keeps
        them before the store of head (release)."""
        q = self._q
        q[_Q_BYTES_IN] = (q[_Q_BYTES_IN] + nbytes) & 0xFFFF_FFFF_FFFF_FFFF
        # SYNC POINT with $wait in the reader adapter and park_reader in ring/control.py:
        # head is stored, then (behind the fence) reader_waiting is loaded
        q[_Q_HEAD] = head
        _TAKE()
        _GIVE()
        return self._w[_W_READER_WAITING]

    def publish_tail(self, tail: int, nbytes: int) -> int:
        """Add ``nbytes`` to bytes_out, store tail, fence, then load
        writer_waiting: nonzero if the writer announced a park (wake it).

        The payloads were copied out before this call; TSO never lets a store
        (tail) pass an earlier load (the copies)."""
        q = self._q
        q[_Q_BYTES_OUT] = (q[_Q_BYTES_OUT] + nbytes) & 0xFFFF_FFFF_FFFF_FFFF
        # SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
        # tail is stored, then (behind the fence) writer_waiting is loaded
        q[_Q_TAIL] = tail
        _TAKE()
        _GIVE()
        return self._w[_W_WRITER_WAITING]

    # -- packed batches: many messages as one buffer ----------------------

    def write_packed(self, first: int, data: memoryview, bounds: Sequence[int]) -> int:
        """Fill the slots from counter ``first`` with the messages
        ``data[bounds[i]:bounds[i + 1]]``; returns the payload bytes written.
        The caller has checked that each fits and that the slots are free."""
        if isinstance(bounds, range) and _strided(bounds):
            return self._write_records(first, data, bounds)
        view, q, mask, size = self._view, self._q, self._mask, self._slot
        start = bounds[0]
        for end in bounds[1:]:
            off = _SLOTS + (first & mask) * size
            q[off >> 3] = end - start
            view[off + _SH: off + _SH + end - start] = data[start:end]
            start = end
            first += 1
        return bounds[-1] - bounds[0]

    def _write_records(self, first: int, data: memoryview, bounds: range) -> int:
        """``write_packed`` for small records of one size (a multiple of 8):
        each 8-byte word of every record goes to its slots in one strided
        copy (or, for a large batch, one numpy block: ``columns.py``), not one
        copy per record, a run of slots up to the ring's end at a time."""
        words, step = bounds.step >> 3, self._slot >> 3
        src = data[bounds.start: bounds.stop].cast("Q")
        count, done = len(bounds) - 1, 0
        while done < count:
            slot = (first + done) & self._mask
            run = min(count - done, self._mask + 1 - slot)
            at = (_SLOTS >> 3) + slot * step
            heads = memoryview(_lengths(bounds.step, run))  # length, flags 0
            columns.scatter(src[done * words: (done + run) * words], words,
                            self._q[at: at + run * step], step, heads)
            done += run
        return bounds.stop - bounds.start

    def read_packed(self, first: int, lengths: list[int]) -> bytes:
        """The payloads of the slots from counter ``first`` (of checked
        lengths), end to end in one new buffer."""
        if size := _record_size(lengths):
            out = bytearray(len(lengths) * size)
            self._read_records(first, len(lengths), size, memoryview(out))
            return bytes(out)
        view, mask, size = self._view, self._mask, self._slot
        parts = []
        for n in lengths:
            off = _PAYLOAD + (first & mask) * size
            parts.append(view[off: off + n])
            first += 1
        return b"".join(parts)

    def length_table(self, first: int, count: int, out: memoryview) -> None:
        """The length fields of ``count`` slots from counter ``first`` into
        ``out`` (``count`` u32 items, as the ring holds them: little-endian),
        unchecked: one strided copy per run of slots up to the ring's end."""
        step, mask, done = self._slot >> 2, self._mask, 0
        while done < count:
            slot = (first + done) & mask
            run = min(count - done, mask + 1 - slot)
            at = (_SLOTS >> 2) + slot * step
            out[done: done + run] = self._w[at: at + run * step: step]
            done += run

    def read_alike_into(self, first: int, count: int, size: int, out: memoryview) -> None:
        """The payloads of ``count`` slots from counter ``first``, every one
        ``size`` bytes (checked), end to end into ``out`` (``count * size``
        bytes): a caller's buffer, so that a frame is built with no other copy."""
        if count > 1 and _columns_fit(size):
            self._read_records(first, count, size, out)
            return
        view, mask, slot = self._view, self._mask, self._slot
        for i in range(count):
            off = _PAYLOAD + ((first + i) & mask) * slot
            out[i * size: (i + 1) * size] = view[off: off + size]

    def read_packed_into(self, first: int, lengths: Sequence[int], out: memoryview) -> None:
        """The payloads of the slots from counter ``first``, of checked
        ``lengths``, end to end into ``out`` (exactly their sum of bytes)."""
        view, mask, slot, at = self._view, self._mask, self._slot, 0
        for n in lengths:
            off = _PAYLOAD + (first & mask) * slot
            out[at: at + n] = view[off: off + n]
            at += n
            first += 1

    def _read_records(self, first: int, count: int, size: int, out: memoryview) -> None:
        """The payloads of small records of one size (a multiple of 8) into
        ``out``, ``_write_records`` backwards: each 8-byte word column of a
        run of slots is one strided copy (``columns.py``), not one copy per record."""
        words, step = size >> 3, self._slot >> 3
        dst = out.cast("Q")
        done = 0
        while done < count:
            slot = (first + done) & self._mask
            run = min(count - done, self._mask + 1 - slot)
            at = (_SLOTS >> 3) + slot * step
            columns.gather(self._q[at: at + run * step], step,
                           dst[done * words: (done + run) * words], words)
            done += run

    def copy_slots(self, first: int, count: int) -> list[tuple[int, bytes]]:
        """Whole slots of counters ``first .. first+count-1``, copied out in
        one ``bytes`` per contiguous run (two when the range wraps round the
        ring): ``(first counter of the run, its slots)``. Nothing is checked
        here; a reader of the copy checks each length it finds there, and a
        copy cannot change under it as the ring can."""
        view, mask, size, runs = self._view, self._mask, self._slot, []
        while count > 0:
            index = first & mask
            run = min(count, mask + 1 - index)
            off = _SLOTS + index * size
            runs.append((first, bytes(view[off: off + run * size])))
            first, count = first + run, count - run
        return runs

    def copy_every(self, first: int, count: int, step: int) -> bytes:
        """Whole slots of counters ``first, first + step, ...`` (``count`` of
        them), copied out one after the other in one ``bytes``: what a
        sampled tap keeps. Unchecked, like ``copy_slots``."""
        view, mask, size = self._view, self._mask, self._slot
        offsets = [_SLOTS + (c & mask) * size for c in range(first, first + count * step, step)]
        return b"".join([view[off: off + size] for off in offsets])

    # -- raw bytes, for tools and tests that forge or inspect a ring ---------

    def read_bytes(self, offset: int, size: int) -> bytes:
        return bytes(self._view[offset: offset + size])

    def write_bytes(self, offset: int, data: bytes) -> None:
        self._view[offset: offset + len(data)] = data

    def set_closed_and_fence(self) -> bool:
        """Set the closed flag, then read the waiting flags behind a full
        fence; True if either side has announced a park (it must be woken).

        The store is a plain aligned store (atomic on x86-64); the fence is
        the locked instruction with which an uncontended ``threading.Lock``
        is taken, which on x86-64 orders the store before the loads that
        follow, as the waiter handshake needs (docs/ring.md).
        """
        self.put_u32(L.OFF_CLOSED, 1)
        with _FENCE:
            pass
        return bool(self.u32(L.OFF_READER_WAITING) or self.u32(L.OFF_WRITER_WAITING))

    def set_broken_and_fence(self, reason: int) -> bool:
        """Store the broken reason, then close (so an end that sees closed
        reads broken after it: x86-64 keeps stores in order); True if a side
        is parked and must be woken (see ``set_closed_and_fence``)."""
        self.put_u32(L.OFF_BROKEN, reason)
        return self.set_closed_and_fence()

    @property
    def broken(self) -> int:
        return self.u32(L.OFF_BROKEN)

    @property
    def closed(self) -> bool:
        return self.u32(L.OFF_CLOSED) != 0

    @property
    def quarantine(self) -> int:
        return self.u32(L.OFF_QUARANTINE)

    def close(self) -> None:
        """Release the memory; only once no store uses it any more. Header
        reads from then on see a closed, empty ring, never freed memory."""
        # a pub-sub ring's subscriber lines are read by offset too: cover them
        covered = self.geometry.ring_bytes if self.geometry.subscribers else L.HEADER_SIZE
        self._closed_header = (ctypes.c_ubyte * covered)()
        self._closed_header[L.OFF_CLOSED] = 1
        self.base = ctypes.addressof(self._closed_header)
        self._view.release()
        self._q.release()
        self._w.release()
        self._bind_words(memoryview(self._closed_header).cast("B"))
        self.shared.close()


class PortMemory:
    """One request/reply port's shared memory (``ring/portlayout.py``), with
    its header written once; every byte Python touches in a port goes
    through here, as for rings. Words are read and written through u64/u32
    views of the memory (an aligned item is one ``mov`` on x86-64: atomic);
    every transition a peer races with (post, abandon, requeue) is made in
    Wasm instead (``ring/portctl.py``)."""

    def __init__(self, engine: wasmtime.Engine, geometry: PortGeometry, name: str) -> None:
        raw = _name_bytes("port", name, P.MAX_NAME)
        self.geometry = geometry
        self.name = name
        self.shared = _shared_memory(engine, geometry.pages)
        size = self.shared.data_len()
        buf = (ctypes.c_ubyte * size).from_address(_base(self.shared))
        self._view = memoryview(buf).cast("B")
        self._q = self._view.cast("Q")
        self._w = self._view.cast("I")
        struct.pack_into("<IIIIIIIII", self._view, 0, P.MAGIC, P.VERSION, geometry.mailboxes,
                         geometry.max_payload, geometry.box_size, P.HEADER_SIZE, 0, 0, len(raw))
        self._view[P.OFF_NAME: P.OFF_NAME + len(raw)] = raw

    def u32(self, offset: int) -> int:
        return int(self._w[offset >> 2])

    def u64(self, offset: int) -> int:
        return int(self._q[offset >> 3])

    def put_u32(self, offset: int, value: int) -> None:
        self._w[offset >> 2] = value

    def put_u64(self, offset: int, value: int) -> None:
        self._q[offset >> 3] = value

    def read_bytes(self, offset: int, size: int) -> bytes:
        return bytes(self._view[offset: offset + size])

    def write_bytes(self, offset: int, data: bytes) -> None:
        self._view[offset: offset + len(data)] = data

    def close(self) -> None:
        """Release the memory once no store uses it; reads then see zeros."""
        spare = bytearray(P.HEADER_SIZE + self.geometry.box_size * self.geometry.mailboxes)
        spare[P.OFF_CLOSED] = 1
        for view in (self._q, self._w, self._view):
            view.release()
        self._view = memoryview(spare)
        self._q = self._view.cast("Q")
        self._w = self._view.cast("I")
        self.shared.close()
