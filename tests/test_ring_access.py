"""Every byte Python touches in a ring goes through ``ring/memory.py``.

The ring's bytes are shared with guests that may be hostile, and the host's
endpoints and tap must read them the way the protocol says (lengths checked
before a copy, counters through ``RingMemory``). So no other module may reach
the raw bytes: no ring ``memoryview`` (``.view``), no address (``.base``,
``data_ptr``) and no ``ctypes`` ``from_address``. With those out of reach, a
``struct.pack_into`` or ``unpack_from`` elsewhere cannot touch a ring either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nanonet

SRC = Path(nanonet.__file__).parent
ACCESS = SRC / "ring" / "memory.py"
RAW = {"view", "_view", "base", "data_ptr", "from_address"}


def raw_accesses(source: str, where: str) -> list[str]:
    """``where:line .name`` of every raw-memory attribute used in ``source``."""
    return [f"{where}:{node.lineno} .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in RAW]


def test_only_the_memory_module_touches_ring_bytes() -> None:
    hits = [hit for path in sorted(SRC.rglob("*.py")) if path != ACCESS
            for hit in raw_accesses(path.read_text(), str(path.relative_to(SRC)))]
    assert hits == [], "raw ring access outside ring/memory.py: add a method there instead"


def test_the_check_sees_each_kind_of_raw_access() -> None:
    forged = ("def f(ring, ctypes):\n"
              "    a = bytes(ring.view[0:8])\n"
              "    b = ctypes.c_uint64.from_address(ring.base + 64).value\n"
              "    return a, b, ring.shared.data_ptr()\n")
    assert sorted(raw_accesses(forged, "forged.py")) == [
        "forged.py:2 .view", "forged.py:3 .base", "forged.py:3 .from_address",
        "forged.py:4 .data_ptr"]
