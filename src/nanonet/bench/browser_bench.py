"""Browser tabs against the same guests on the host: rates and round trips.

``python -m nanonet.bench.browser_bench [COUNT [SLOTS]] [--rounds N] [--json]``
prints rows (``--json``: a dict of rows, each a dict of figures). ``tab to
host 64 B`` runs the producer guest (64-byte messages, ``send_batch``) three
times in one run: in a headless Chromium tab (``nanonet run --web``: Worker,
shared ring, the JavaScript bridge into the host's ring, a host end that
counts) over WebTransport (``[web] transport = "webtransport"``) and over
WebSocket (``"websocket"``), and on the host in a Mesh with a host reader
(no bridge). Each rate is counted from the first message to the stream's
end; the tab's own state says which transport carried it. ``tab round trip
64 B`` (p50, p99) and ``tab pipe 64 B`` / ``tab pipe 4096 B`` (msgs/s) go
host -> tab -> host through the echo guest (``tabpipe.py``), over WebSocket;
the ``tab webtransport ...`` rows do the same over WebTransport.
Needs /usr/bin/chromium, playwright and aioquic (the ``net`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..mesh import Mesh
from .chromium import open_tab
from .tabpipe import pipe_rows

PRODUCER = Path(__file__).resolve().parents[1] / "guests" / "producer.wat"  # writes "stream"
SIZE = 64


def _manifest(count: int, slots: int, transport: str) -> str:
    return f"""
[web]
browsers = ["tab"]
transport = "{transport}"
configure = {{ producer = [{count}, {SIZE}] }}

[tunnels.stream]
writer = "producer"
reader = "host"
slots = {slots}
max_payload = {SIZE}

[services.producer]
source = "{PRODUCER}"
node = "tab"
"""


def tab_rate(count: int, slots: int, transport: str = "websocket") -> float:
    """Messages/s the tab's producer delivered into the host's ring over ``transport``."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "nanonet.toml").write_text(_manifest(count, slots, transport))
        proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                                 "--web", "127.0.0.1:0", "--quiet", "--timeout", "120"],
                                cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ))
        assert proc.stderr is not None
        url = ""
        while not url:
            m = re.search(r"open (http://\S+)", proc.stderr.readline())
            url = m.group(1) if m else ""
        with open_tab(url) as page:
            page.wait_for_function("window.nanonet.tunnels.stream && "
                                   "window.nanonet.tunnels.stream.bridge === 'ended'",
                                   timeout=120_000)
            page.wait_for_timeout(300)  # the table's refresh copies the transport in
            span, used = page.evaluate("(() => { const t = window.nanonet.tunnels.stream; "
                                       "return [(t.ended_at - t.open_at) / 1000, t.transport]; "
                                       "})()")
        proc.wait(30)
        proc.stderr.close()
    if used != transport:
        raise RuntimeError(f"the tab bridged over {used!r}, not {transport!r}")
    return count / float(span)


def host_rate(count: int, slots: int) -> float:
    """Messages/s of the same guest into a host reader on the host (no bridge)."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=slots, max_payload=SIZE)
        svc = mesh.service("producer", PRODUCER, writes=["stream"])
        svc.call("configure", count, SIZE)
        reader = mesh.reader("stream")
        mesh.start()
        got, t0 = 0, 0.0
        while got < count:
            got += len(reader.recv_many(4096, timeout=10))
            t0 = t0 or time.perf_counter()
        return count / (time.perf_counter() - t0)


def rows(count: int, slots: int, rounds: int) -> dict[str, dict[str, float]]:
    """Every row, tab beside host, in one run (``--json`` prints these keys)."""
    wt, ws = tab_rate(count, slots, "webtransport"), tab_rate(count, slots, "websocket")
    host = host_rate(count, slots)
    out = {"tab to host 64 B": {"tab webtransport msgs/s": wt, "tab websocket msgs/s": ws,
                                "host msgs/s": host, "ratio host/websocket": host / ws}}
    return {**out, **pipe_rows(rounds, count // 2)}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nanonet.bench.browser_bench",
                                description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("count", nargs="?", type=int, default=200_000,
                   help="messages tab -> host (half as many host -> tab -> host at 64 B, "
                   "a tenth at 4 KiB)")
    p.add_argument("slots", nargs="?", type=int, default=1024, help="ring slots tab -> host")
    p.add_argument("--rounds", type=int, default=2000, help="host <-> tab round trips")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    return p.parse_args()


def main() -> None:
    a = _args()
    table = rows(a.count, a.slots, a.rounds)
    if a.json:
        print(json.dumps(table, indent=1))
        return
    for name, row in table.items():
        print(f"{name}: " + ", ".join(f"{k} {v:,.1f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
