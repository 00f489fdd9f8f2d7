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
Aligned 8-byte loads and stores through ctypes are single instructions on
x86-64; the host publishes counters through the control module
(``control.py``), which uses Wasm's sequentially consistent atomics, never
with a plain store here.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from collections.abc import Sequence

import wasmtime

from ..errors import InvalidValue
from . import layout as L
from .layout import Geometry
from .protocol import U32_FIELDS, Field

_FENCE = threading.Lock()  # taken only for the full fence it implies
_SLOT_HEAD = struct.Struct("<II")  # [length u32][flags u32]
_LENGTH = struct.Struct("<I")
# the ctypes type of the field at each header offset: a tuple indexed by a
# Field (an int), where a set lookup would call Enum.__hash__ in Python
_KIND = tuple(ctypes.c_uint32 if off in U32_FIELDS else ctypes.c_uint64
              for off in range(L.HEADER_SIZE))
_SLOTS = L.HEADER_SIZE  # where slot 0 starts
_SH = L.SLOT_HEADER  # [length][flags] before each payload
_PAYLOAD = L.HEADER_SIZE + _SH  # where slot 0's payload starts


class RingMemory:
    """One tunnel's shared linear memory, initialised as an empty ring."""

    def __init__(self, engine: wasmtime.Engine, geometry: Geometry, name: str = "") -> None:
        raw = name.encode()
        if len(raw) > L.MAX_NAME:
            raise InvalidValue(f"tunnel name {name!r} is {len(raw)} bytes; the limit is "
                               f"{L.MAX_NAME}: use a shorter name")
        self.geometry = geometry
        self.name = name
        self._mask, self._slot = geometry.mask, geometry.slot_size  # for the batch loops
        pages = geometry.pages
        ty = wasmtime.MemoryType(wasmtime.Limits(pages, pages), shared=True)
        self.shared = wasmtime.SharedMemory(engine, ty)
        self.size = self.shared.data_len()
        self.base = ctypes.cast(self.shared.data_ptr(), ctypes.c_void_p).value or 0
        buf = (ctypes.c_ubyte * self.size).from_address(self.base)
        self._view = memoryview(buf).cast("B")
        self._init_header()

    def _init_header(self) -> None:
        g = self.geometry
        raw = self.name.encode()
        struct.pack_into("<IIIIIIII", self._view, 0, L.MAGIC, L.VERSION, g.slot_count,
                         g.slot_size, 0, 0, L.HEADER_SIZE, len(raw))
        self._view[L.OFF_NAME: L.OFF_NAME + len(raw)] = raw

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
        """The length fields of ``count`` slots from counter ``first``, unchecked."""
        view, unpack, mask, size = self._view, _LENGTH.unpack_from, self._mask, self._slot
        out = []
        for counter in range(first, first + count):
            out.append(unpack(view, _SLOTS + (counter & mask) * size)[0])
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
        self._closed_header = (ctypes.c_ubyte * L.HEADER_SIZE)()
        self._closed_header[L.OFF_CLOSED] = 1
        self.base = ctypes.addressof(self._closed_header)
        self._view.release()
        self.shared.close()
