"""The terminal table of the bridge rows: every peer side by side, with what was checked.

One line per row and peer: delivered msgs/s (streams) or round trip p50 and
p99, the far end's count of messages lost and out of sequence, the figure
over raw nats-py's in the same row, and where the two ends ran
(``placement``: two network namespaces, or loopback and why).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

ROWS = ("bridge_64", "bridge_4096", "bridge_rtt", "bridge_rtt_4096")
TITLE = ("Bridges (NATS, QUIC, WebSocket) against raw nats-py and ZeroMQ over TCP, "
         "cross-node: 64 B and 4 KiB delivered msgs/s; round trip p50/p99")
Result = dict[str, Any]


def _rate(value: float) -> str:
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value / 1e3:.1f} k"


def _ns(value: float) -> str:
    return f"{value / 1e3:.1f} µs" if value < 1e6 else f"{value / 1e6:.2f} ms"


def _cell(f: dict[str, Any], stat: str, fmt: Any, markup: bool) -> str:
    if "error" in f:
        return "[red]error[/red]" if markup else "error"
    value = f.get(stat)
    return "-" if value is None else fmt(value)


def versus(by: dict[str, Any], peer: str) -> str:
    """The peer's figure over nats-py's in the same row (its msgs/s, or its p50)."""
    stat = "p50_ns" if "p50_ns" in by.get(peer, {}) else "msgs_per_s"
    ours, theirs = by.get(peer, {}).get(stat), by.get("nats", {}).get(stat)
    return "-" if peer == "nats" or not ours or not theirs else f"{ours / theirs:.2f}x"


COLUMNS = ("row", "peer", "msgs/s", "p50", "p99", "lost", "out of order", "vs nats-py",
           "placement")


def cells(result: Result, markup: bool = True) -> list[list[str]]:
    """One line per row and peer, in ``COLUMNS`` (rich markup for an error, or none)."""
    out = []
    for row in (r for r in ROWS if r in result):
        for peer, f in result[row].items():
            out.append([row, peer, _cell(f, "msgs_per_s", _rate, markup),
                        _cell(f, "p50_ns", _ns, markup), _cell(f, "p99_ns", _ns, markup),
                        _cell(f, "lost", str, markup), _cell(f, "out_of_order", str, markup),
                        versus(result[row], peer), str(f.get("placement", "-"))])
    return out


def table(result: Result) -> Table:
    out = Table(title=TITLE, title_justify="left")
    for i, col in enumerate(COLUMNS):
        out.add_column(col, justify="left" if i in (0, 1, 8) else "right")
    for line in cells(result):
        out.add_row(*line)
    return out
