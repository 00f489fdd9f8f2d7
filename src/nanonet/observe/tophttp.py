"""``nanonet top``'s table of HTTP routes (docs/http.md), from the snapshot's ``http``.

One row per route that has a port or has seen a request: its requests, the
status codes they got and the median latency (the bound of the bucket that
holds it, as the histogram has no finer grain).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .topmodel import ns


def http_tables(snap: dict[str, Any]) -> list[Table]:
    """[] for a mesh with no ingress, else one table of its routes."""
    routes = [r for r in snap.get("http", []) if r["port"] or r["requests"]]
    if not routes:
        return []
    table = Table(title="http", title_justify="left", expand=True)
    for col in ("route", "port", "requests", "codes", "p50 ≤"):
        table.add_column(col, justify="right" if col in ("requests", "p50 ≤") else "left")
    for r in routes:
        codes = ", ".join(f"{c}×{n:,}" for c, n in r["codes"].items()) or "-"
        p50 = r["p50_s"]
        past = p50 is None and r["requests"] > 0  # null with requests: past the last bucket
        shown = "> 10 s" if past else "-" if p50 is None else ns(round(p50 * 1e9))
        port = f"component {r['port']}" if r.get("component") else r["port"] or "-"
        table.add_row(r["route"], port, f"{r['requests']:,}", codes, shown)
    return [table]
