"""The terminal view of a result: one rich table per workload, the targets, notes, skips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from . import bridge_report, rowset_report, waitrows

Result = dict[str, Any]


def ns(value: float) -> str:
    """A duration in ns, in the unit that reads best."""
    if value < 1e3:
        return f"{value:.0f} ns"
    if value < 1e6:
        return f"{value / 1e3:.1f} µs"
    return f"{value / 1e6:.2f} ms"


def whole(value: float) -> str:
    return f"{value:,.0f}"


def us(value: float) -> str:
    return f"{value:.1f} µs"


def kb(value: float) -> str:
    return f"{value:.1f} KB"


def rate(value: float) -> str:
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value / 1e3:.1f} k"


def _cell(figures: dict[str, Any] | None, stat: str, fmt: Callable[[float], str]) -> str:
    if not figures:
        return "-"
    if "error" in figures:
        return "[red]error[/red]"
    value = figures.get(stat)
    return "-" if value is None else fmt(value)


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(columns[0])
    for col in columns[1:]:
        table.add_column(col, justify="right")
    return table


def w1_table(result: Result) -> Table:
    table = _table("W1 ping-pong 64 B: one-way latency (RTT/2)",
                   ["transport", "p50", "p99", "p99.9", "max", "rounds"])
    for t, f in result.get("w1", {}).items():
        table.add_row(t, *(_cell(f, s, ns) for s in ("p50_ns", "p99_ns", "p999_ns", "max_ns")),
                      _cell(f, "rounds", whole))
    return table


def rate_table(result: Result) -> Table:
    table = _table("W1 at a fixed offered rate: round trip from the intended send time",
                   ["transport", "offered/s", "achieved/s", "p50", "p99", "p99.9", "max"])
    for t, f in result.get("rate", {}).items():
        table.add_row(t, _cell(f, "offered_per_s", whole), _cell(f, "achieved_per_s", whole),
                      *(_cell(f, s, ns) for s in ("p50_ns", "p99_ns", "p999_ns", "max_ns")))
    return table


def w2_table(result: Result) -> Table:
    sizes = [k for k in ("w2_64", "w2_1024", "w2_4096") if k in result]
    names = {"w2_64": "64 B", "w2_1024": "1 KiB", "w2_4096": "4 KiB"}
    table = _table("W2 stream, every sequence number checked: messages/s (MB/s)",
                   ["transport", *(names[k] for k in sizes)])
    for t in dict.fromkeys(t for k in sizes for t in result[k]):
        cells = []
        for k in sizes:
            f = result[k].get(t)
            mb = _cell(f, "mb_per_s", whole)
            cells.append(_cell(f, "msgs_per_s", rate) + ("" if mb in ("-", "[red]error[/red]")
                                                          else f" ({mb})"))
        table.add_row(t, *cells)
    return table


def scale_table(result: Result) -> Table:
    table = _table("Scale (nanonet, one process)", ["row", "figure"])
    rows = result.get("scale", {})
    for name, f in rows.items():
        if "error" in f:
            table.add_row(name, "[red]error[/red]")
        elif name.startswith("idle-"):
            table.add_row(name, f"{f['start_total_ms']:.1f} ms to start all, "
                                f"{f['rss_per_service_kb']:.1f} KB RSS per service, "
                                f"{f.get('idle_cpu_per_s', 0.0):.1%} of a core while idle")
        elif name.startswith("pipelines-"):
            table.add_row(name, f"{rate(f['msgs_per_s'])} msgs/s in total")
        else:
            table.add_row(name, f"starts in {f['start_ms']:.1f} ms, "
                                f"{f['rss_kb'] / 1024:.1f} MB RSS")
    return table


def w3_table(result: Result) -> Table:
    counter = result.get("meta", {}).get("syscall_counter", "?")
    table = _table(f"W3 syscalls per 64 B message under load ({counter}, minus an empty run)",
                   ["transport", "syscalls/msg", "loaded run", "empty run", "messages"])
    for t, f in result.get("w3", {}).items():
        table.add_row(t, _cell(f, "syscalls_per_msg", lambda v: f"{v:.5f}"),
                      _cell(f, "syscalls_loaded", whole), _cell(f, "syscalls_empty", whole),
                      _cell(f, "messages", whole))
    return table


def w4_table(result: Result) -> Table:
    table = _table("W4 cold start (modules cached) and idle memory", ["figure", "nanonet"])
    f = result.get("w4", {}).get("nanonet", {})
    for label, stat, fmt in (("cold start p50", "cold_start_p50_us", us),
                             ("cold start p99", "cold_start_p99_us", us),
                             ("engine floor p50 (Store + InstancePre)", "engine_floor_p50_us",
                              us),
                             ("cold start / engine floor", "cold_start_vs_floor",
                              lambda v: f"{v:.1f}x"),
                             ("first service (disk cache)", "first_service_us", us),
                             ("RSS per idle service", "rss_per_service_kb", kb),
                             ("services", "services", whole)):
        table.add_row(label, _cell(f, stat, fmt))
    return table


def observe_table(result: Result) -> Table:
    table = _table("Observing a Wasm stream (64 B) and ping-pong: cost of each mode (medians)",
                   ["mode", "msgs/s", "overhead", "p50 one-way", "p99 one-way"])
    for mode, f in result.get("observe", {}).items():
        table.add_row(mode, _cell(f, "msgs_per_s", rate),
                      _cell(f, "overhead_pct", lambda v: f"{v:+.1f} %"),
                      _cell(f, "p50_ns", ns), _cell(f, "p99_ns", ns))
    return table


PATTERN_ROWS = ("pubsub_64", "fanin_64", "reqrep", "waitany")
PATTERN_STATS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("msgs/s (all)", "msgs_per_s", rate), ("p50", "p50_ns", ns), ("p99", "p99_ns", ns),
    ("calls/s", "calls_per_s", whole), ("lost", "lost", whole),
    ("W2 single", "w2_single_msgs_per_s", rate), ("W1 p50", "w1_p50_ns", ns))


def patterns_table(result: Result) -> Table:
    table = _table("Patterns, 64 B: 1 -> 4 pub-sub and 4 -> 1 fan-in (delivered msgs/s, all "
                   "together), request/reply round trip, wait-any",
                   ["row", "transport", *(name for name, _, _ in PATTERN_STATS)])
    for row in (r for r in PATTERN_ROWS if r in result):
        for t, f in result[row].items():
            table.add_row(row, t, *(_cell(f, stat, fmt) for _, stat, fmt in PATTERN_STATS))
    return table


def rowset_tables(result: Result) -> list[Table]:
    """One table per row-set workload in the result, its ratios as a caption."""
    out = []
    for workload in rowset_report.present(result):
        table = _table(rowset_report.TITLES[workload], ["row", "figures"])
        table.columns[1].justify = "left"
        for row, line in rowset_report.rows(result, workload):
            table.add_row(row, line)
        table.caption = "; ".join(rowset_report.versus(workload, result[workload])) or None
        out.append(table)
    return out


def targets_table(result: Result) -> Table:
    table = _table("Targets", ["target", "measured", "met"])
    for t in result.get("targets", []):
        value = "not measured" if t["value"] is None else f"{t['value']:.4g} {t['unit']}"
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[t["met"]]
        table.add_row(t["target"], value, met)
    return table


def show(console: Console, result: Result) -> None:
    m = result.get("machine", {})
    console.print(f"machine: {m.get('cores')} cores, {m.get('cpu_model')}, "
                  f"kernel {m.get('kernel')}; {m.get('busy_cpus_at_start', 0):.2f} CPUs busy "
                  f"with other work at start; {result.get('meta', {}).get('mode')} run")
    if m.get("busy_cpus_at_start", 0) > 0.25:
        console.print("[yellow]other work was running: latency and throughput figures "
                      "suffer (spinning peers most)[/yellow]")
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in
                                           result.get("versions", {}).items()), highlight=False)
    tables = ((("w1",), w1_table), (("rate",), rate_table), (("rate_wait",), waitrows.table),
              (("w2_64", "w2_1024", "w2_4096"), w2_table), (("w3",), w3_table),
              (("w4",), w4_table), (("scale",), scale_table),
              (("observe",), observe_table), (PATTERN_ROWS, patterns_table),
              (bridge_report.ROWS, bridge_report.table))
    for keys, build in tables:
        if any(k in result for k in keys):
            console.print(build(result))
    for table in rowset_tables(result):
        console.print(table)
    console.print(targets_table(result))
    for key, note in result.get("meta", {}).get("notes", {}).items():
        console.print(f"[dim]{key}: {note}[/dim]", highlight=False)
    for transport, why in result.get("skipped", {}).items():
        console.print(f"[yellow]skipped {transport}:[/yellow] {why}", highlight=False)
