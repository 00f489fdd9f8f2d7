"""Host -> tab -> host: the echo guest in a Chromium tab, beside the same guest on the host.

Three pipelines, each a host end writing ``NAME_in``, the shipped echo guest
(``guests/echo.wat``, one message at a time) reading it and writing
``NAME_back``, and a host end reading that: ``rt`` (64 B, one message in
flight: the round trip), ``small`` (64 B streamed) and ``big`` (4 KiB
streamed). In the tab both tunnels are bridged, once over WebSocket and
once over WebTransport (the host sends into the tab with ``webfeed.py``,
the tab sends back with ``sender.js``; the host checks that every bridge
went by the transport asked); on the host they are plain rings. All three
are measured in one run, the same way: a round trip is one ``send`` to the
matching ``recv``; a stream's rate is counted from its first message back
to its last. Needs /usr/bin/chromium, playwright and aioquic (the ``net``
extra).
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ..bridge.node import part
from ..bridge.webhost import WebHost
from ..bridge.webplan import tab_service
from ..bridge.webtoken import Grant, mint
from ..errors import TunnelClosed
from ..manifest.manifest import load_manifest
from ..mesh import Mesh
from .chromium import open_tab

ECHO = Path(__file__).resolve().parents[1] / "guests" / "echo.wat"  # "ping" -> "pong"
PIPES = (("rt", 64, 64), ("small", 64, 1024), ("big", 4096, 256))  # name, bytes, slots
# each transport a tab bridges over, and the start of its rows' names
TRANSPORTS = (("websocket", "tab"), ("webtransport", "tab webtransport"))
Row = dict[str, float]


def manifest(node: str) -> str:
    """The three pipelines; ``node`` places the echo services (``""``: the host)."""
    where = f'node = "{node}"' if node else ""
    out = ['[web]\nbrowsers = ["tab"]\n']
    for name, size, slots in PIPES:
        out += [f'[tunnels.{name}_{end}]\nwriter = "{w}"\nreader = "{r}"\nslots = {slots}\n'
                f"max_payload = {size}\n"
                for end, w, r in (("in", "host", f"echo_{name}"),
                                  ("back", f"echo_{name}", "host"))]
        out.append(f'[services.echo_{name}]\nsource = "{ECHO}"\n'
                   f'names = {{ ping = "{name}_in", pong = "{name}_back" }}\n{where}\n')
    return "\n".join(out)


def _message(seq: int, size: int) -> bytes:
    return seq.to_bytes(8, "little") + bytes(size - 8)


def round_trips(mesh: Mesh, n: int) -> list[float]:
    """Microseconds from each 64-byte ``send`` to its echo's ``recv``."""
    w, r = mesh.writer("rt_in"), mesh.reader("rt_back")
    w.send(_message(0, 64))
    r.recv(timeout=60)  # the first answer: the tab is up
    times = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        w.send(_message(i, 64))
        r.recv(timeout=30)
        times.append((time.perf_counter_ns() - t0) / 1000)
    return times


def _write(mesh: Mesh, name: str, size: int, count: int) -> None:
    w, step = mesh.writer(f"{name}_in"), 1024
    for at in range(0, count, step):
        w.send_many([_message(s, size) for s in range(at, min(count, at + step))], timeout=60)
    w.close()


def stream_rate(mesh: Mesh, name: str, size: int, count: int) -> float:
    """Messages/s back from pipeline ``name``, from the first to the last."""
    writer = threading.Thread(target=_write, args=(mesh, name, size, count), daemon=True)
    writer.start()
    r, got, t0 = mesh.reader(f"{name}_back"), 0, 0.0
    try:
        while True:
            got += len(r.recv_many(4096, timeout=60))
            t0 = t0 or time.perf_counter()
    except TunnelClosed:
        pass
    writer.join(60)
    if got != count:
        raise RuntimeError(f"pipeline {name}: {got} of {count} messages came back")
    return count / (time.perf_counter() - t0)


def measure(mesh: Mesh, rounds: int, count: int) -> dict[str, float]:
    times = round_trips(mesh, rounds)
    q = statistics.quantiles(times, n=100)
    return {"rt p50": statistics.median(times), "rt p99": q[98],
            "64": stream_rate(mesh, "small", 64, count),
            "4096": stream_rate(mesh, "big", 4096, count // 5)}


def on_host(rounds: int, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "nanonet.toml").write_text(manifest(""))
        with load_manifest(Path(tmp, "nanonet.toml")).build_mesh() as mesh:
            mesh.start()
            return measure(mesh, rounds, count)


def _check_carried(web: WebHost, transport: str) -> None:
    """Every bridge of the run went over ``transport`` (no fallback)."""
    used = {**web.via, **(web.feeds.via if web.feeds is not None else {})}
    wrong = {t: v for t, v in used.items() if v != transport}
    if len(used) != 2 * len(PIPES) or wrong:
        raise RuntimeError(f"the tab's bridges went by {used}, not all by {transport!r}")


def in_tab(rounds: int, count: int, transport: str = "websocket") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "nanonet.toml").write_text(manifest("tab"))
        m = load_manifest(Path(tmp, "nanonet.toml"))
        mesh, secret = part(m, None).manifest.build_mesh(), secrets.token_bytes(32)
        services = tuple(f"echo_{n}" for n, _, _ in PIPES)
        web = WebHost(mesh, secret, {s: tab_service(m, s, []) for s in services},
                      {f"{n}_back": f"echo_{n}" for n, _, _ in PIPES},
                      readers_of={f"{n}_in": f"echo_{n}" for n, _, _ in PIPES},
                      transport=transport).start()
        token = mint(secret, Grant("tab", services, time.time() + 600))
        try:
            mesh.start()
            with open_tab(f"http://127.0.0.1:{web.port}/#token={token}"):
                figures = measure(mesh, rounds, count)
            _check_carried(web, transport)
            return figures
        finally:
            web.stop()
            mesh.stop()
            mesh.close()


def _rows(prefix: str, tab: dict[str, float], host: dict[str, float]) -> dict[str, Row]:
    """One transport's rows (named from ``prefix``), its tab beside the host."""
    rows: dict[str, Row] = {f"{prefix} round trip 64 B": {
        "tab us p50": tab["rt p50"], "tab us p99": tab["rt p99"],
        "host us p50": host["rt p50"], "host us p99": host["rt p99"],
        "ratio": tab["rt p50"] / host["rt p50"]}}
    for size in ("64", "4096"):
        rows[f"{prefix} pipe {size} B"] = {"tab msgs/s": tab[size], "host msgs/s": host[size],
                                           "ratio": host[size] / tab[size]}
    return rows


def pipe_rows(rounds: int = 2000, count: int = 100_000) -> dict[str, Row]:
    """The rows: round trip p50/p99 and the two stream rates, tab beside host,
    for a tab over WebSocket (``tab ...``) and over WebTransport (``tab
    webtransport ...``)."""
    tabs = {prefix: in_tab(rounds, count, transport) for transport, prefix in TRANSPORTS}
    host = on_host(rounds, count)
    return {name: row for prefix, tab in tabs.items()
            for name, row in _rows(prefix, tab, host).items()}
