"""Small records of one size between a ring's slots and a buffer end to end,
a word column at a time.

A slot is ``[length u32][flags u32][payload]``, ``step`` 8-byte words long;
``words`` words of each hold a record (``ring/memory.py``'s
``_read_records`` and ``_write_records`` call these on u64 views of a run
of slots and of the records). A memoryview copies a strided column item by
item, some 6 ns a word here: 4096 records of 64 B cost about 200 µs each
way, the largest cost of a bridged batch (profiled with cProfile on the
pump loop). numpy copies the same block as one 2-D array in about 35 µs,
so a batch of at least ``NUMPY_FROM`` records goes through numpy when it is
importable (the ``net`` extra installs it); smaller batches, and an install
without it, take the memoryview columns. Both write exactly the same bytes
(``tests/test_ring_columns.py``). numpy is imported at the first large
batch, not with the ring: a mesh that never moves one never loads it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .layout import SLOT_HEADER

NUMPY_FROM = 256  # records in a batch from which numpy's block copy is used
HEAD = SLOT_HEADER // 8  # words of [length][flags] before each payload
_numpy: list[ModuleType | None] = []  # [] until looked for, then [numpy] or [None]


def numpy_module() -> ModuleType | None:
    """numpy, imported once; None if it is not installed."""
    if not _numpy:
        try:
            import numpy
        except ImportError:
            _numpy.append(None)
        else:
            _numpy.append(numpy)
    return _numpy[0]


def _block(np: Any, view: memoryview, rows: int, cols: int) -> Any:
    return np.frombuffer(view, dtype=np.uint64).reshape(rows, cols)


def gather(slots: memoryview, step: int, records: memoryview, words: int) -> None:
    """Copy the payload words of a run of slots (``slots``: u64, ``step``
    words a slot) to ``records`` (u64, ``words`` words a record, end to end)."""
    run = len(records) // words
    np = numpy_module() if run >= NUMPY_FROM else None
    if np is not None:
        _block(np, records, run, words)[:] = _block(np, slots, run, step)[:, HEAD:HEAD + words]
        return
    for w in range(words):
        records[w::words] = slots[w + HEAD::step]


def scatter(records: memoryview, words: int, slots: memoryview, step: int,
            heads: memoryview) -> None:
    """Fill a run of slots (``slots``: u64, ``step`` words a slot) with the
    records end to end in ``records`` (u64, ``words`` words a record), each
    slot's first word from ``heads`` (its length, flags 0)."""
    run = len(records) // words
    np = numpy_module() if run >= NUMPY_FROM else None
    if np is not None:
        block = _block(np, slots, run, step)
        block[:, 0] = np.frombuffer(heads, dtype=np.uint64)
        block[:, HEAD:HEAD + words] = _block(np, records, run, words)
        return
    slots[::step] = heads
    for w in range(words):
        slots[w + HEAD::step] = records[w::words]
