"""``nanonet top`` with keys: a textual app over a running mesh's snapshots.

It polls the control endpoint on a worker thread and redraws two tables:
services (state, CPU as a share of one core and in seconds, fuel, memory,
restarts, traps: how many, and the commonest cause) and tunnels (rate,
fill, lag, state), with the mesh's uptime above; below them, request/reply
ports (calls/s, calls, in flight, call p50, timeouts, late replies,
requeued) and the services that wait on many ends or were upgraded. Keys sort (``n`` name,
``r`` rate, ``f`` fill, ``l`` lag, ``c`` CPU), the arrows move among
tunnels, enter shows or hides the selected tunnel's details (its writer
and reader and the services behind them, a pub-sub tunnel's
subscribers with their lag and misses, a fan-in tunnel's writers), ``t`` starts or stops a tap of
it into a pcapng file, ``q`` quits. Every column fits 80 terminal
columns; what does not is in the details. The rules are in
``topmodel.py``; this module only lays them out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from . import topmodel as m
from .meshdir import file_name
from .tapfile import TapToFile
from .topweb import web_lines
from .units import byte_rate, size

STATE_STYLE = {"running": "green", "parked": "cyan", "trapped": "red", "failed": "bold red",
               "restarting": "yellow", "stopped": "dim", "created": "dim", "open": "green",
               "closed": "dim", "broken": "bold red", "quarantined": "bold red"}
SERVICE_COLUMNS = ("service", "state", "cpu", "cpu time", "fuel", "memory", "rst", "traps")
TUNNEL_COLUMNS = ("tunnel", "msgs/s", "bytes/s", "fill", "lag p99", "dead", "state")


def _styled(word: str) -> Text:
    return Text(word, style=STATE_STYLE.get(word, ""))


def _bar(share: float, width: int = 8) -> Text:
    n = round(width * min(1.0, share))
    return Text("█" * n + "·" * (width - n), style="yellow" if n > width // 2 else "green")


class TopApp(App[None]):
    """The keyed view; ``fetch`` returns a snapshot dict (``Endpoint.snapshot``)."""

    TITLE = "nanonet top"
    ENABLE_COMMAND_PALETTE = False  # every action has its key, shown in the footer
    CSS = """
    #head { height: 1; background: $boost; }
    #services { height: auto; max-height: 45%; }
    #tunnels { height: auto; max-height: 45%; }
    #ports { height: auto; max-height: 25%; }
    #patterns { height: auto; color: $text-muted; }
    #details { height: auto; border-top: solid $accent; }
    #status { height: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("n", "sort('name')", "name"), Binding("r", "sort('rate')", "rate"),
        Binding("f", "sort('fill')", "fill"), Binding("l", "sort('lag')", "lag"),
        Binding("c", "sort('cpu')", "cpu"), Binding("t", "tap", "tap"),
    ]

    def __init__(self, fetch: Callable[[], m.Snap], source: str = "", *,
                 period: float = 0.5, tap_dir: Path | None = None,
                 url: str = "", token: str | None = None) -> None:
        super().__init__()
        self.fetch, self.source, self.period = fetch, source, period
        self.tap_dir, self.url, self.token = tap_dir or Path.cwd(), url, token
        self.sort = "name"
        self.snap: m.Snap | None = None
        self.prev: m.Snap | None = None
        self.tunnel_order: list[str] = []
        self.service_order: list[str] = []
        self.taps: dict[str, TapToFile] = {}
        self.show_details = True
        self.problem = ""  # why the last fetch failed

    def compose(self) -> ComposeResult:
        yield Static("nanonet top: connecting…", id="head")
        yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="tunnels", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="ports", cursor_type="none", zebra_stripes=True)
        yield Static("", id="patterns")
        yield Static("", id="details")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#services", DataTable).add_columns(*SERVICE_COLUMNS)
        self.query_one("#tunnels", DataTable).add_columns(*TUNNEL_COLUMNS)
        self.query_one("#ports", DataTable).add_columns(*m.PORT_COLUMNS)
        self.query_one("#tunnels", DataTable).focus()
        self.poll()
        self.set_interval(self.period, self.poll)

    # -- snapshots ---------------------------------------------------------
    def poll(self) -> None:
        self.run_worker(self._fetch, thread=True, exclusive=True, group="fetch")

    def _fetch(self) -> None:
        try:
            snap = self.fetch()
        except Exception as err:  # the mesh went away: say so, keep the last counters
            self.call_from_thread(self._failed, f"the mesh does not answer: {err}")
            return
        self.call_from_thread(self.show, snap)

    def _failed(self, why: str) -> None:
        self.problem = why
        self._draw_status()

    def show(self, snap: m.Snap) -> None:
        """A new snapshot: every table, the details and the status line again."""
        self.prev, self.snap, self.problem = self.snap, snap, ""
        self.redraw()

    def redraw(self) -> None:
        if self.snap is None:
            return
        self._draw_head(self.snap)
        self._draw_services(self.snap)
        self._draw_tunnels(self.snap)
        self._draw_patterns(self.snap)
        self._draw_details()
        self._draw_status()

    # -- drawing -------------------------------------------------------------
    def _draw_head(self, snap: m.Snap) -> None:
        ended = "  [ended]" if snap.get("ended") else ""
        self.query_one("#head", Static).update(Text.assemble(
            ("nanonet top ", "bold"), (snap.get("name", ""), "bold cyan"),
            f"  up {m.uptime(snap.get('uptime_s'))}  {len(snap['services'])} services, "
            f"{len(snap['tunnels'])} tunnels  sort: {self.sort}{ended}  ", (self.source, "dim")))

    def _draw_services(self, snap: m.Snap) -> None:
        table = self.query_one("#services", DataTable)
        shares = m.cpu_shares(snap, self.prev)
        rows = m.sorted_services(snap, self.sort, shares)
        self.service_order = [s["name"] for s in rows]
        keep = table.cursor_row
        table.clear()
        for s in rows:
            table.add_row(s["name"], _styled(s["state"]), m.percent(shares.get(s["name"])),
                          m.seconds(s.get("cpu_seconds")), m.fuel(s.get("fuel_used")),
                          size(s["memory_bytes"]), str(s["restarts"]), m.traps_short(s),
                          key=s["name"])
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1), scroll=False)

    def _draw_tunnels(self, snap: m.Snap) -> None:
        table = self.query_one("#tunnels", DataTable)
        chosen = self.selected
        rows = m.sorted_tunnels(snap, self.sort)
        self.tunnel_order = [t["name"] for t in rows]
        table.clear()
        for t in rows:
            name = t["name"] + (" ●" if t["name"] in self.running_taps() else "")
            table.add_row(name, m.rate(t["msgs_per_s"]), byte_rate(t["bytes_per_s"]),
                          _bar(m.fill_share(t)), m.ns(t["p99_ns"]), str(t.get("dead_letters", 0)),
                          _styled(m.tunnel_state(t)), key=t["name"])
        if chosen in self.tunnel_order:
            table.move_cursor(row=self.tunnel_order.index(chosen), scroll=False)

    def _draw_patterns(self, snap: m.Snap) -> None:
        """The ports table (hidden with no port), then bell parks, upgrades and the
        browser tabs' lease."""
        table = self.query_one("#ports", DataTable)
        table.clear()
        for p in snap.get("ports", []):
            table.add_row(*m.port_row(p), key=p["name"])
        table.display = bool(snap.get("ports"))
        lines = [*m.pattern_lines(snap), *web_lines(snap)]
        patterns = self.query_one("#patterns", Static)
        patterns.display = bool(lines)
        patterns.update("\n".join(lines))

    def _draw_details(self) -> None:
        details = self.query_one("#details", Static)
        details.display = self.show_details and self.selected is not None
        if self.snap is not None and self.selected is not None:
            details.update("\n".join(m.tunnel_details(self.snap, self.selected)))

    def _draw_status(self) -> None:
        parts = [self.problem] if self.problem else []
        for name, tap in self.taps.items():
            state = "tapping" if tap.running else "tapped"
            parts.append(f"{state} {name} → {tap.path.name} ({size(tap.written)})"
                         + (f": {tap.error}" if tap.error else ""))
        hint = "↑↓ tunnel  ⏎ details  t tap  tab services"
        self.query_one("#status", Static).update("  ".join(parts) or hint)

    # -- selection and keys ----------------------------------------------------
    @property
    def selected(self) -> str | None:
        """The tunnel under the cursor of the tunnels table."""
        row = self.query_one("#tunnels", DataTable).cursor_row
        return self.tunnel_order[row] if 0 <= row < len(self.tunnel_order) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "tunnels":
            self._draw_details()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tunnels":
            self.show_details = not self.show_details
            self._draw_details()

    def action_sort(self, key: str) -> None:
        self.sort = key
        self.redraw()

    def running_taps(self) -> set[str]:
        return {name for name, tap in self.taps.items() if tap.running}

    def action_tap(self) -> None:
        """Start a tap of the selected tunnel into a new file, or stop the one running."""
        name = self.selected
        if name is None:
            return
        tap = self.taps.get(name)
        if tap is not None and tap.running:
            tap.stop()
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.tap_dir / f"{file_name(name)}-{stamp}.pcapng"
            self.taps[name] = TapToFile(self.url, self.token, name, path)
        self.redraw()

    def on_unmount(self) -> None:
        for tap in self.taps.values():
            tap.stop()


def run_app(fetch: Callable[[], m.Snap], **kwargs: Any) -> None:
    TopApp(fetch, **kwargs).run()
