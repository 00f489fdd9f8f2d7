"""Host endpoints: Python writes into, and reads from, a tunnel.

A host endpoint copies slots through ``RingMemory`` (the one module that
touches ring bytes) and publishes its counter from Python there, once per
batch: a store, a full fence, a load of the peer's waiting flag. Wasm is
called only to wake a peer that announced a park, and to park. One message
takes a short path of its own (``send``, ``recv``); ``Packed`` hands many
over as one buffer. Blocking forms poll briefly, then park in Wasm
(``memory.atomic.wait32``, GIL released); asyncio forms poll on the event
loop, then park in a worker thread, and give the loop a turn every
``ASYNC_TURN`` messages while data flows. Like a trio memory channel:
``send``/``try_send``, ``recv``/``try_recv``, batch forms, ``close``,
iteration and ``statistics()``.
"""

from __future__ import annotations

from .end import (
    ASYNC_POLLS,
    ASYNC_TURN,
    ASYNC_TURN_BYTES,
    PARK_NS,
    READER_SPIN_NS,
    WRITER_SPIN_NS,
)
from .reader import TunnelReader
from .writer import TunnelWriter

__all__ = ["ASYNC_POLLS", "ASYNC_TURN", "ASYNC_TURN_BYTES", "PARK_NS", "READER_SPIN_NS",
           "WRITER_SPIN_NS", "TunnelReader", "TunnelWriter"]
