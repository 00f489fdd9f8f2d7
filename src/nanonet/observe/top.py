"""``nanonet top``: an htop-style live view of a mesh, from its snapshots.

It renders plain snapshot dicts (``MeshSnapshot.to_json``), so the same view
shows a mesh in this process (``live_top(observer.snapshot)``) or one behind a
control endpoint (``--connect``). Rates come with the snapshot; sizes and
byte rates are shown in binary units (``units.py``), as on the dashboard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .tophttp import http_tables
from .topmodel import (
    PORT_COLUMNS,
    ns,
    pattern_lines,
    port_row,
    rate,
    seconds,
    tunnel_end,
    tunnel_pattern_lines,
    uptime,
)
from .topweb import web_lines
from .units import byte_rate, size

Snap = dict[str, Any]
STATE_STYLE = {"running": "green", "parked": "cyan", "trapped": "red", "failed": "bold red",
               "restarting": "yellow", "stopped": "dim", "created": "dim"}


def _bar(fill: int, slots: int, width: int = 10) -> Text:
    n = round(width * min(1.0, fill / slots)) if slots else 0
    return Text("█" * n + "·" * (width - n), style="yellow" if n > width // 2 else "green")


def services_table(snap: Snap) -> Table:
    table = Table(title="services", title_justify="left", expand=True)
    left = ("service", "kind", "state", "traps", "cause")
    for col in ("service", "kind", "state", "cpu", "restarts", "traps", "memory", "cause"):
        table.add_column(col, justify="left" if col in left else "right")
    for s in snap["services"]:
        traps = ", ".join(f"{c}×{n}" for c, n in s["traps"].items()) or "0"
        mem = size(s["memory_bytes"])
        table.add_row(s["name"], s.get("kind", "module"),
                      Text(s["state"], style=STATE_STYLE.get(s["state"], "")),
                      seconds(s.get("cpu_seconds")), str(s["restarts"]), traps, mem,
                      s.get("cause") or "")
    return table


def tunnels_table(snap: Snap) -> Table:
    table = Table(title="tunnels", title_justify="left", expand=True)
    cols = ("tunnel", "writer → reader", "msgs/s", "bytes/s", "received", "fill", "full",
            "parks w/r", "lag p50", "lag p99", "dead", "state")
    for col in cols:
        left = col in cols[:2] or col in ("fill", "state")
        table.add_column(col, justify="left" if left else "right")
    for t in snap["tunnels"]:
        ends = (f"{tunnel_end(snap, t, 'writer')} → {tunnel_end(snap, t, 'reader')}"
                + (" [tap]" if t["tap"] else ""))
        table.add_row(t["name"], ends, rate(t["msgs_per_s"]), byte_rate(t["bytes_per_s"]),
                      f"{t['received']:,}", _bar(t["fill"], t["slots"]), f"{t['times_full']:,}",
                      f"{t['writer_parks']:,}/{t['reader_parks']:,}", ns(t["p50_ns"]),
                      ns(t["p99_ns"]), f"{t.get('dead_letters', 0):,}", _tunnel_state(t))
    return table


def _tunnel_state(t: Snap) -> Text:
    """Open, closed, broken (its other end's service is gone) or quarantined."""
    if t.get("quarantine"):
        return Text("quarantined", style="bold red")
    if t.get("broken"):
        return Text("broken", style="bold red")
    return Text("closed", style="dim") if t.get("closed") else Text("open", style="green")


def render(snap: Snap, source: str = "") -> Group:
    head = Text(f"nanonet top  {source}  ", style="bold")
    head.append(f"up {uptime(snap.get('uptime_s'))}  {len(snap['services'])} services, "
                f"{len(snap['tunnels'])} tunnels", style="dim")
    parts: list[Table | Text] = [head, services_table(snap), tunnels_table(snap)]
    if snap.get("ports"):
        parts.append(ports_table(snap))
    lines = [*tunnel_pattern_lines(snap), *pattern_lines(snap), *web_lines(snap)]
    parts += [Text(line, style="dim") for line in lines]
    parts += http_tables(snap)
    return Group(*parts)


def ports_table(snap: Snap) -> Table:
    """Request/reply ports: calls/s, in flight, host call p50, timeouts, late, requeued."""
    table = Table(title="ports", title_justify="left", expand=True)
    for col in PORT_COLUMNS:
        table.add_column(col, justify="left" if col in PORT_COLUMNS[:2] else "right")
    for p in snap["ports"]:
        table.add_row(*port_row(p))
    return table


def snapshot_json(snap: Snap) -> str:
    """The snapshot ``top`` draws, as JSON (``nanonet top --json``): the same
    dict the endpoint serves, keys sorted so that two snapshots diff well."""
    return json.dumps(snap, indent=2, sort_keys=True)


def live_top(fetch: Callable[[], Snap], source: str = "", period: float = 0.25,
             frames: int | None = None, until: Callable[[], bool] | None = None,
             lines: Callable[[], list[str]] | None = None) -> None:
    """Redraw every ``period`` seconds until Ctrl-C, ``frames`` redraws, or ``until()``.

    With ``lines`` (what another thread wants printed, taken at each redraw)
    the view stays in the terminal's normal screen and the lines scroll above
    it, printed by this thread: a second thread writing through rich's
    stdout proxy races it (and has died in the proxy with a RecursionError),
    so with ``lines`` nothing is redirected."""
    screen = frames is None and lines is None
    with Live(render(fetch(), source), refresh_per_second=8, screen=screen,
              redirect_stdout=lines is None, redirect_stderr=lines is None) as live:
        shown = 1
        while (frames is None or shown < frames) and not (until and until()):
            time.sleep(period)
            if lines is not None:
                _print_above(live, lines())
            live.update(render(fetch(), source))
            shown += 1
        if lines is not None:
            _print_above(live, lines())


def _print_above(live: Live, lines: list[str]) -> None:
    if lines:
        live.console.print(Text("\n".join(lines)), soft_wrap=True, highlight=False)
