"""One unit convention for every view of a mesh: bytes, shown in binary units.

Snapshots and metrics carry base units (bytes, seconds or nanoseconds, bytes
per second); ``nanonet top`` formats them here and the dashboard with the
same rules in JavaScript (``dashboard.html``: ``size``): below 1 KiB in
bytes, then KiB, MiB and GiB (powers of 1024), never pages nor decimal MB.
"""

from __future__ import annotations

_STEPS = ((1 << 30, "GiB", 2), (1 << 20, "MiB", 2), (1 << 10, "KiB", 1))


def size(n: float | None) -> str:
    """``n`` bytes as ``512 B``, ``64.0 KiB``, ``1.25 MiB`` or ``2.00 GiB``; ``-`` for None."""
    if n is None:
        return "-"
    for scale, unit, digits in _STEPS:
        if n >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{n:.0f} B"


def byte_rate(per_s: float) -> str:
    """Bytes per second in the same units: ``1.50 MiB/s``."""
    return size(per_s) + "/s"
