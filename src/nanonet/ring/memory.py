"""Host-side access to a ring's shared memory: the only raw access in Python.

A ``RingMemory`` owns one ``wasmtime.SharedMemory`` sized for a geometry,
writes its header once (rings carry no data segment: a data segment in shared
memory is re-applied at every instantiation and would reset the counters), and
exposes the bytes as a ``memoryview`` plus aligned counter reads. Aligned
8-byte loads and stores through ctypes are single instructions on x86-64; the
host publishes counters through the control module (``control.py``), which
uses Wasm's sequentially consistent atomics, never with a plain store here.
"""

from __future__ import annotations

import ctypes
import struct
import threading

import wasmtime

from ..errors import InvalidValue
from . import layout as L
from .layout import Geometry

_FENCE = threading.Lock()  # taken only for the full fence it implies


class RingMemory:
    """One tunnel's shared linear memory, initialised as an empty ring."""

    def __init__(self, engine: wasmtime.Engine, geometry: Geometry, name: str = "") -> None:
        raw = name.encode()
        if len(raw) > L.MAX_NAME:
            raise InvalidValue(f"tunnel name {name!r} is {len(raw)} bytes; the limit is "
                               f"{L.MAX_NAME}: use a shorter name")
        self.geometry = geometry
        self.name = name
        pages = geometry.pages
        ty = wasmtime.MemoryType(wasmtime.Limits(pages, pages), shared=True)
        self.shared = wasmtime.SharedMemory(engine, ty)
        self.size = self.shared.data_len()
        self.base = ctypes.cast(self.shared.data_ptr(), ctypes.c_void_p).value or 0
        buf = (ctypes.c_ubyte * self.size).from_address(self.base)
        self.view = memoryview(buf).cast("B")
        self._init_header()

    def _init_header(self) -> None:
        g = self.geometry
        raw = self.name.encode()
        struct.pack_into("<IIIIIIII", self.view, 0, L.MAGIC, L.VERSION, g.slot_count,
                         g.slot_size, 0, 0, L.HEADER_SIZE, len(raw))
        self.view[L.OFF_NAME: L.OFF_NAME + len(raw)] = raw

    def u32(self, offset: int) -> int:
        return ctypes.c_uint32.from_address(self.base + offset).value

    def u64(self, offset: int) -> int:
        return ctypes.c_uint64.from_address(self.base + offset).value

    def put_u32(self, offset: int, value: int) -> None:
        """A plain store: for fields no one races on (tests, initialisation)."""
        ctypes.c_uint32.from_address(self.base + offset).value = value

    def put_u64(self, offset: int, value: int) -> None:
        ctypes.c_uint64.from_address(self.base + offset).value = value

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
        self.view.release()
        self.shared.close()
