"""Making a tunnel's ring leaves nothing for the cyclic collector.

A process of a thousand idle services makes a thousand rings; objects caught
in a reference cycle per ring are freed only by a collection, and a full
collection walks every object of the process while it holds the GIL. So
rings and ports are made and dropped, and what a collection then finds
unreachable must not grow with how many were made (ctypes leaves a few
objects of its own per collection, whatever the count).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from nanonet.host.engine import runtime
from nanonet.ring.layout import Geometry
from nanonet.ring.memory import PortMemory, RingMemory
from nanonet.ring.portlayout import PortGeometry


def _cyclic_garbage(make: Callable[[], object], count: int) -> int:
    """How many objects a collection finds unreachable after ``count``
    results of ``make()`` were made and dropped."""
    make()
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(count):
            make()
        gc.collect()
        return len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def test_dropped_rings_leave_no_cycle_each() -> None:
    engine = runtime().engine
    geometry = Geometry.for_payload(16, 64)
    def make() -> object:
        return RingMemory(engine, geometry, "stream")
    assert _cyclic_garbage(make, 32) <= _cyclic_garbage(make, 2)


def test_dropped_ports_leave_no_cycle_each() -> None:
    engine = runtime().engine
    def make() -> object:
        return PortMemory(engine, PortGeometry(2, 64), "calls")
    assert _cyclic_garbage(make, 32) <= _cyclic_garbage(make, 2)
