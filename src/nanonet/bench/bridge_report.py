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


def _cell(f: dict[str, Any], stat: str, fmt: Any) -> str:
    if "error" in f:
        return "[red]error[/red]"
    value = f.get(stat)
    return "-" if value is None else fmt(value)


def versus(by: dict[str, Any], peer: str) -> str:
    """The peer's figure over nats-py's in the same row (its msgs/s, or its p50)."""
    stat = "p50_ns" if "p50_ns" in by.get(peer, {}) else "msgs_per_s"
    ours, theirs = by.get(peer, {}).get(stat), by.get("nats", {}).get(stat)
    return "-" if peer == "nats" or not ours or not theirs else f"{ours / theirs:.2f}x"


def table(result: Result) -> Table:
    out = Table(title=TITLE, title_justify="left")
    out.add_column("row")
    out.add_column("peer")
    for col in ("msgs/s", "p50", "p99", "lost", "out of order", "vs nats-py"):
        out.add_column(col, justify="right")
    out.add_column("placement")
    for row in (r for r in ROWS if r in result):
        for peer, f in result[row].items():
            out.add_row(row, peer, _cell(f, "msgs_per_s", _rate), _cell(f, "p50_ns", _ns),
                        _cell(f, "p99_ns", _ns), _cell(f, "lost", str),
                        _cell(f, "out_of_order", str), versus(result[row], peer),
                        str(f.get("placement", "-")))
    return out
