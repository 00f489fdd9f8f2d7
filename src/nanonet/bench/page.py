"""``nanonet bench --report PATH.md``: the performance page, written from one result.

Everything on the page is derived from the result it is given: the tables,
the claims and their verdicts (``claims``), the list of places where
nanonet is not ahead (``behind``), and the plots saved beside the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import bridge_report, claims, plots, rowset_report
from .report import PATTERN_ROWS, PATTERN_STATS, ns, rate

Result = dict[str, Any]
W2 = (("w2_64", "64 B"), ("w2_1024", "1 KiB"), ("w2_4096", "4 KiB"))
OURS = ("nanonet", "nanonet-host", "nanonet-host-async", "nanonet-py", "nanonet-wasm")


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _cell(f: dict[str, Any] | None, stat: str, fmt: Any) -> str:
    if not f:
        return "–"
    if "error" in f:
        return "error"
    v = f.get(stat)
    return "–" if v is None else str(fmt(v))


def _latency_rows(by: dict[str, Any], extra: tuple[str, ...] = ()) -> list[list[str]]:
    stats = ("p50_ns", "p99_ns", "p999_ns", "max_ns")
    return [[t, *(_cell(f, s, ns) for s in stats),
             *(_cell(f, s, lambda v: f"{v:,.0f}") for s in extra)] for t, f in by.items()]


def _w2_rows(result: Result) -> list[list[str]]:
    ts = dict.fromkeys(t for k, _ in W2 for t in result.get(k, {}))
    return [[t, *(_cell(result.get(k, {}).get(t), "msgs_per_s", rate) for k, _ in W2)]
            for t in ts]


def behind(result: Result) -> list[str]:
    """Each place where a peer beat a nanonet row, from the numbers."""
    out = []
    checks = [("w1", "p50_ns", "W1 p50 latency", True), ("rate", "p99_ns",
              "fixed-rate p99", True), ("w3", "syscalls_per_msg", "W3 syscalls/msg", True)]
    checks += [(k, "msgs_per_s", f"W2 {name} throughput", False) for k, name in W2]
    checks += [("pubsub_64", "msgs_per_s", "pub-sub 1 -> 4 delivered msgs/s", False),
               ("fanin_64", "msgs_per_s", "fan-in 4 -> 1 msgs/s", False),
               ("reqrep", "p50_ns", "request/reply p50", True)]
    for key, stat, what, lower_wins in checks:
        by = {t: f[stat] for t, f in result.get(key, {}).items() if stat in f}
        for ours in (o for o in OURS if o in by):
            better = [t for t, v in by.items() if t not in OURS
                      and (v < by[ours] if lower_wins else v > by[ours])]
            if better:
                out.append(f"{what}: {', '.join(better)} ahead of {ours}")
    return out


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body}\n"


def _plots(result: Result, md: Path) -> list[Path]:
    stem = md.with_suffix("")
    drawn = [plots.latency_cdf(result, "w1", "W1 one-way latency (RTT/2), closed loop",
                               Path(f"{stem}-w1-cdf.png")),
             plots.latency_cdf(result, "rate", "W1 at a fixed rate: round trip from the "
                               "intended send time", Path(f"{stem}-rate-cdf.png")),
             plots.throughput(result, Path(f"{stem}-w2-throughput.png"))]
    return [p for p in drawn if p is not None]


def render(result: Result, images: list[Path]) -> str:
    m, meta = result.get("machine", {}), result.get("meta", {})
    parts = ["# Performance\n", "Written by `nanonet bench --report` from one run "
             f"({meta.get('mode')} mode); every figure below comes from that run.\n"]
    parts.append(_section("Machine and versions", (
        f"{m.get('cores')} cores, {m.get('cpu_model')}, kernel {m.get('kernel')}; "
        f"{m.get('busy_cpus_at_start', 0):.2f} CPUs busy with other work at start.\n\n"
        + ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items()))))
    parts.append(_section("Method and caveats", "\n".join(
        ["- A 2-vCPU VM shared with other work: the floor moves by 10x within minutes as "
         "vCPUs move. Compare figures only within one run, never across runs.",
         *(f"- {k}: {v}" for k, v in meta.get("notes", {}).items()),
         *(f"- skipped {t}: {why}" for t, why in result.get("skipped", {}).items())])))
    parts.append(_section("The zero-syscall claims, tested", md_table(
        ["claim", "claimed", "measured here", "verdict"],
        [[r["claim"], r["claimed"], r["measured"], r["verdict"]] for r in claims.rows(result)])))
    parts += _tables(result)
    parts += _rowset_sections(result)
    lines = behind(result) + rowset_report.behind(result)
    parts.append(_section("Where nanonet is not ahead", "\n".join(
        f"- {line}" for line in lines) or "Nowhere in this run."))
    parts.append(_section("Plots", "\n\n".join(f"![{p.stem}]({p.name})" for p in images)))
    return "\n".join(parts)


def _tables(result: Result) -> list[str]:
    out = [_section("W1 ping-pong 64 B, closed loop: one-way latency (RTT/2)", md_table(
        ["transport", "p50", "p99", "p99.9", "max", "rounds"],
        _latency_rows(result.get("w1", {}), ("rounds",))))]
    out.append(_section("W1 at a fixed offered rate: round trip from the intended send time",
                        md_table(["transport", "p50", "p99", "p99.9", "max", "offered/s",
                                  "achieved/s"], _latency_rows(
                            result.get("rate", {}), ("offered_per_s", "achieved_per_s")))))
    out.append(_section("W2 stream, every sequence number checked: messages/s",
                        md_table(["transport", *(n for _, n in W2)], _w2_rows(result))))
    out.append(_section("W3 syscalls per 64 B message", md_table(
        ["transport", "syscalls/msg"], [[t, _cell(f, "syscalls_per_msg", lambda v: f"{v:.4f}")]
                                        for t, f in result.get("w3", {}).items()])))
    scale = dict(result.get("w4", {}).items())
    scale.update(result.get("scale", {}))
    out.append(_section("W4 cold start and scale (nanonet in one process)", md_table(
        ["row", "figures"], [[k, ", ".join(f"{s} {v:,.4g}" for s, v in f.items())]
                             for k, f in scale.items()])))
    out.append(_section("Patterns, 64 B (1 -> 4 pub-sub, 4 -> 1 fan-in, request/reply, "
                        "wait-any)", md_table(
        ["row", "transport", *(name for name, _, _ in PATTERN_STATS)],
        [[row, t, *(_cell(f, stat, fmt) for _, stat, fmt in PATTERN_STATS)]
         for row in PATTERN_ROWS for t, f in result.get(row, {}).items()])))
    if any(row in result for row in bridge_report.ROWS):
        out.append(_section(bridge_report.TITLE, md_table(list(bridge_report.COLUMNS),
                                                          bridge_report.cells(result, False))))
    return out


def _rowset_sections(result: Result) -> list[str]:
    """A section per row-set workload: its rows, then the same run's ratios."""
    out = []
    for workload in rowset_report.present(result):
        body = md_table(["row", "figures"], rowset_report.rows(result, workload))
        ratios = rowset_report.versus(workload, result[workload])
        how = f"How to run: {rowset_report.HOW[workload]}.\n\n"
        out.append(_section(rowset_report.TITLES[workload], how + body + "".join(
            f"\n\n{r}." for r in ratios)))
    return out


def write(result: Result, md: Path) -> list[Path]:
    """Write the page and its plots; the paths written, page first."""
    md.parent.mkdir(parents=True, exist_ok=True)
    images = _plots(result, md)
    md.write_text(render(result, images))
    return [md, *images]
