"""The ``browser`` workload: the tab rows of ``browser_bench`` and ``tabhttp_bench``.

Part ``tab`` calls ``browser_bench.rows`` (tab -> host 64 B over
WebTransport and WebSocket beside the host, the tab round trip and the tab
pipes); its row and figure names become keys through ``rowsets.slug``, e.g.
``tab_to_host_64_b`` with ``tab_webtransport_msgs_per_s``,
``tab_websocket_msgs_per_s``, ``host_msgs_per_s``; ``tab_round_trip_64_b``
with ``tab_us_p50``, ``tab_us_p99``, ``host_us_p50``, ``host_us_p99``;
``tab_pipe_64_b`` and ``tab_pipe_4096_b`` with ``tab_msgs_per_s``,
``host_msgs_per_s``. Part ``tab_http``: the echo guest serving
``http_bench``'s clients from a tab (row ``tab_http_tab``) and on the host
(row ``tab_http_host``), each ``requests_per_s``, ``p50_ms``, ``requests``.
Needs /usr/bin/chromium, playwright and aioquic: without them the workload
is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os

from .chromium import CHROMIUM
from .rowsets import PartFn, Rows, slugged

CLIENTS = 8
# full, quick: tab -> host messages, ring slots, round trips, HTTP requests
COUNT = {False: 200_000, True: 10_000}
SLOTS = 1024
ROUNDS = {False: 2_000, True: 200}
REQUESTS = {False: 4_000, True: 200}
_HTTP = ("requests_per_s", "p50_ms", "requests")
# the rows and statistics browser_bench.rows gave when this was written (slugged); it
# may add rows, which land beside these
KEYS: dict[str, tuple[str, ...]] = {
    "tab_to_host_64_b": ("tab_webtransport_msgs_per_s", "tab_websocket_msgs_per_s",
                         "host_msgs_per_s"),
    "tab_round_trip_64_b": ("tab_us_p50", "tab_us_p99", "host_us_p50", "host_us_p99"),
    "tab_pipe_64_b": ("tab_msgs_per_s", "host_msgs_per_s"),
    "tab_pipe_4096_b": ("tab_msgs_per_s", "host_msgs_per_s"),
    "tab_http_tab": _HTTP, "tab_http_host": _HTTP,
}


def missing() -> str | None:
    """Why no tab can be opened here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    for module, dist in (("playwright", "playwright"), ("aioquic", "aioquic")):
        if importlib.util.find_spec(module) is None:
            return f"Python package {dist} is not installed (pip install 'nanonet[net]')"
    return None


def tab(quick: bool) -> Rows:
    from .browser_bench import rows
    return slugged(rows(COUNT[quick], SLOTS, ROUNDS[quick]))


def tab_http(quick: bool) -> Rows:
    from .http_bench import nanonet_row
    from .tabhttp_bench import ECHO, tab_row
    per = REQUESTS[quick] // CLIENTS
    return {"tab_http_tab": tab_row(CLIENTS, per),
            "tab_http_host": nanonet_row(CLIENTS, per, ECHO, "echo")}


PARTS: dict[str, PartFn] = {"tab": tab, "tab_http": tab_http}
