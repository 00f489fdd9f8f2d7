"""One real adapter instance, its exports called directly: what the model tests
(``test_protocol_model.py``, ``test_pubsub_model.py``) drive next to their model."""

from __future__ import annotations

from typing import Any

import wasmtime

from nanonet.host.engine import runtime
from nanonet.ring.adapter import EndSpec, adapter_wat
from nanonet.ring.memory import RingMemory

HANG_TICKS = 50  # epoch ticks (10 ms each) before a call that parked for ever traps


class Guest:
    """One adapter instance holding one end, and the guest memory it copies from and into."""

    def __init__(self, store: wasmtime.Store, ring: RingMemory, end: EndSpec) -> None:
        module = runtime().module(adapter_wat([end]))
        self.memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(1, 1)))
        self.store = store
        self.exports = wasmtime.Instance(store, module, [self.memory, ring.shared]).exports(store)

    def call(self, op: str, *args: int) -> int:
        """Call an export; a call that would hang (the model said it would not
        park, the adapter did) traps at the epoch deadline instead."""
        self.store.set_epoch_deadline(HANG_TICKS)
        func: Any = self.exports[op]
        return int(func(self.store, 0, *args))

    def write(self, at: int, data: bytes) -> None:
        self.memory.write(self.store, data, at)

    def read(self, at: int, size: int) -> bytes:
        return bytes(self.memory.read(self.store, at, at + size))
