"""Many messages end to end in one buffer: the host ends' bulk form.

A Python program that streams small records pays per object it makes: a
list of 64 ``bytes`` costs more to build than the tunnel costs to carry it.
``Packed`` is one buffer plus the message boundaries (``bounds``: message
``i`` is ``data[bounds[i]:bounds[i + 1]]``), so a writer hands a whole batch
over as one object (``TunnelWriter.send_many(Packed(...))``) and a reader
gets one back (``TunnelReader.recv_packed``): one buffer, and its offsets.
Records of one size (a numpy array, an ``array``, a ctypes array) need no
list of offsets at all: ``Packed.fixed(buffer, size)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import sub

from ..errors import InvalidValue


@dataclass(frozen=True, eq=False)
class Packed:
    """Messages ``data[bounds[i]:bounds[i + 1]]``, for ``i < len(bounds) - 1``."""

    data: memoryview  # bytes, cast to unsigned bytes
    bounds: Sequence[int]  # n + 1 offsets, never decreasing, within data
    most: int  # the longest message's length (0 for none)

    @classmethod
    def of(cls, data: object, bounds: Sequence[int]) -> Packed:
        """Messages of any sizes: ``bounds`` are the n + 1 offsets in ``data``."""
        view = _bytes_view(data)
        if len(bounds) < 1:
            raise InvalidValue("packed messages need at least one bound (0 for none): "
                               "pass [0, end of message 1, end of message 2, ...]")
        lengths = list(map(sub, bounds[1:], bounds))
        if bounds[0] < 0 or bounds[-1] > len(view) or (lengths and min(lengths) < 0):
            raise InvalidValue(f"packed bounds must grow from 0 up to the buffer's "
                               f"{len(view)} bytes: fix the offsets")
        return cls(view, bounds, max(lengths, default=0))

    @classmethod
    def fixed(cls, data: object, size: int) -> Packed:
        """Messages of ``size`` bytes each, end to end, filling ``data``."""
        view = _bytes_view(data)
        if size <= 0 or len(view) % size:
            raise InvalidValue(f"a buffer of {len(view)} bytes does not hold whole messages "
                               f"of {size} bytes: pass a size that divides it")
        return cls(view, range(0, len(view) + 1, size), size if len(view) else 0)

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, i: int) -> bytes:
        """Message ``i``, copied out."""
        return self.data[self.bounds[i]: self.bounds[i + 1]].tobytes()

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self[i]

    @property
    def offsets(self) -> Sequence[int]:
        """Where each message starts (``bounds`` without the last end)."""
        return self.bounds[:-1]

    def part(self, start: int, stop: int) -> Packed:
        """Messages ``start`` to ``stop - 1``: the same buffer, fewer bounds."""
        return Packed(self.data, self.bounds[start: stop + 1], self.most)


def _bytes_view(data: object) -> memoryview:
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        why = (f"packed messages need a bytes-like buffer, not {type(data).__name__}: "
               f"pass bytes, a bytearray or an array")
        raise InvalidValue(why) from None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view
