"""``nanonet debug adapter``: print the WAT of one adapter, as nanonet generates it.

The adapter's code depends only on the shape of a service's tunnel ends
(direction and geometry of each, in handle order: reads first, then writes,
as ``Mesh.service`` orders them) and on whether latency sampling is on, so
that is all this command asks for. The names only label the handles.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import NanonetError
from ..mesh import DEFAULT_MAX_PAYLOAD, DEFAULT_SLOTS
from ..ring.adapter import Direction, EndSpec, adapter_wat
from ..ring.layout import Geometry


def _names(values: list[str] | None) -> list[str]:
    """``--reads a,b --reads c`` -> [a, b, c]."""
    return [n for v in values or [] for n in v.split(",") if n]


def _ends(args: argparse.Namespace) -> list[EndSpec]:
    geometry = Geometry.for_payload(args.slots, args.max_payload)
    return ([EndSpec(n, Direction.READ, geometry) for n in _names(args.reads)]
            + [EndSpec(n, Direction.WRITE, geometry) for n in _names(args.writes)])


def _banner(ends: list[EndSpec], sampling: bool) -> str:
    lines = [f";; nanonet adapter{' with latency sampling' if sampling else ''}: "
             f"{len(ends)} tunnel end(s)"]
    for i, end in enumerate(ends):
        g = end.geometry
        lines.append(f";;   handle {i}: {end.direction.value} {end.name!r}, memory {i + 1}, "
                     f"{g.slot_count} slots of {g.slot_size} bytes ({g.max_payload} payload)")
    return "\n".join(lines) + "\n"


def _adapter(args: argparse.Namespace) -> int:
    try:
        ends = _ends(args)
        wat = adapter_wat(ends, args.sampling)
    except NanonetError as err:
        print(f"debug adapter: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(_banner(ends, args.sampling) + wat)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("debug", help="look inside nanonet's generated code")
    inner = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    a = inner.add_parser("adapter", help="print the WAT of the adapter for a shape of ends",
                         description="Prints the adapter nanonet generates for a service "
                         "holding these tunnel ends (reads first, then writes, as handles "
                         "0, 1, ...), every header offset named in a comment.")
    a.add_argument("--reads", action="append", metavar="NAMES",
                   help="tunnels the service reads (comma-separated, repeatable)")
    a.add_argument("--writes", action="append", metavar="NAMES",
                   help="tunnels the service writes (comma-separated, repeatable)")
    a.add_argument("--slots", type=int, default=DEFAULT_SLOTS,
                   help=f"slots per ring (default {DEFAULT_SLOTS})")
    a.add_argument("--max-payload", type=int, default=DEFAULT_MAX_PAYLOAD, metavar="BYTES",
                   help=f"largest message (default {DEFAULT_MAX_PAYLOAD})")
    a.add_argument("--sampling", action="store_true", help="with latency sampling (the clock)")
    a.set_defaults(func=_adapter)
