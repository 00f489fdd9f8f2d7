"""Tables of the row-set workloads (``http``, ``components``, ``browser``) for both views.

The terminal (``report.show``) and the page (``page.render``) print the same
rows: one table per workload, one line per row with its figures, and for
the rows that pair a nanonet path with another one the ratio of the same
run (host -> component over component -> component, the ingress over the
Python servers). ``behind`` lists where a Python HTTP server beat the
ingress, for the page's "Where nanonet is not ahead".
"""

from __future__ import annotations

import itertools
from typing import Any

from .plan import ROW_SETS

Result = dict[str, Any]
TITLES = {
    "http": "HTTP ingress: requests/s and p50 against Python servers, same clients",
    "components": "Components: calls, the host boundary, tunnels and cold start",
    "browser": "Browser tabs against the same guests on the host",
}
HOW = {  # how to run each on its own, said on the page
    "http": "`nanonet bench --only http` (also in the default run)",
    "components": "`nanonet bench --only components` (on request: from an empty cache it "
                  "first builds the C, Python and JavaScript relay guests, ~30 s each for "
                  "Python and JavaScript; --quick leaves those two cold-start rows out)",
    "browser": "`nanonet bench --only browser` (on request: headless Chromium tabs, "
               "/usr/bin/chromium, playwright and aioquic)",
}
HTTP_PEERS = {"uvicorn_starlette": "uvicorn + Starlette", "python_stdlib": "http.server"}


def figure(value: float) -> str:
    """A figure with as many digits as it needs, whatever its unit."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _line(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return "error: " + str(figures["error"]).replace("|", "/")
    return ", ".join(f"{k} {figure(v)}" for k, v in figures.items())


def _ratio(by: dict[str, Any], a: tuple[str, str], b: tuple[str, str]) -> float | None:
    x, y = by.get(a[0], {}).get(a[1]), by.get(b[0], {}).get(b[1])
    ok = isinstance(x, int | float) and isinstance(y, int | float) and y
    return x / y if ok else None


def versus(workload: str, by: dict[str, Any]) -> list[str]:
    """The same run's ratios between the rows of ``workload``."""
    out = []
    if workload == "components":
        r = _ratio(by, ("pair", "h2c_p50_ns"), ("pair", "c2c_p50_ns"))
        if r is not None:
            out.append(f"host -> component call p50 is {r:.0f}x the component -> component "
                       "call p50")
    if workload == "http":
        for (peer, name), (stat, what) in itertools.product(
                HTTP_PEERS.items(), (("requests_per_s", "requests/s"), ("p50_ms", "p50"))):
            r = _ratio(by, ("nanonet_wat", stat), (peer, stat))
            if r is not None:
                out.append(f"ingress {what} is {r:.2f}x {name}'s")
    return out


def rows(result: Result, workload: str) -> list[list[str]]:
    """[row, figures] for one workload."""
    return [[row, _line(f)] for row, f in result.get(workload, {}).items()
            if isinstance(f, dict)]


def present(result: Result) -> list[str]:
    return [w for w in ROW_SETS if w in result]


def behind(result: Result) -> list[str]:
    """Where a Python HTTP server beat the ingress in this run."""
    by = result.get("http", {})
    out = []
    for stat, what, lower_wins in (("requests_per_s", "requests/s", False),
                                   ("p50_ms", "p50", True)):
        for peer, name in HTTP_PEERS.items():
            r = _ratio(by, ("nanonet_wat", stat), (peer, stat))
            if r is not None and (r > 1 if lower_wins else r < 1):
                out.append(f"HTTP {what}: {name} ahead of the nanonet ingress (the "
                           f"ingress's {what} {r:.2f}x its)")
    return out
