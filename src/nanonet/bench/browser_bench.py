"""Messages per second from a browser tab to the host, beside the same guest on the host.

``python -m nanonet.bench.browser_bench [--json] [COUNT [SLOTS]]`` runs the
producer guest (64-byte messages, ``send_batch``) three times in one run: in
a headless Chromium tab (``nanonet run --web``: Worker, shared ring, the
JavaScript bridge into the host's ring, a host end that counts) over
WebTransport (``[web] transport = "webtransport"``) and over WebSocket
(``"websocket"``), and on the host in a Mesh with a host reader (no bridge).
Each rate is counted from the first message to the stream's end; the tab's
own state says which transport carried it. ``--json`` prints the rates as
``tab_webtransport``, ``tab_websocket`` and ``host`` (messages/s). Needs
/usr/bin/chromium, playwright and aioquic (the ``net`` extra).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..mesh import Mesh

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
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
    from playwright.sync_api import sync_playwright

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
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.nanonet.tunnels.stream && "
                                   "window.nanonet.tunnels.stream.bridge === 'ended'",
                                   timeout=120_000)
            page.wait_for_timeout(300)  # the table's refresh copies the transport in
            span, used = page.evaluate("(() => { const t = window.nanonet.tunnels.stream; "
                                       "return [(t.ended_at - t.open_at) / 1000, t.transport]; "
                                       "})()")
            browser.close()
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


def main() -> None:
    as_json = "--json" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--json"]
    count = int(args[0]) if args else 200_000
    slots = int(args[1]) if len(args) > 1 else 1024
    wt, ws = tab_rate(count, slots, "webtransport"), tab_rate(count, slots, "websocket")
    host = host_rate(count, slots)
    if as_json:
        print(json.dumps({"tab_webtransport": wt, "tab_websocket": ws, "host": host}))
        return
    print(f"{count:,} messages of {SIZE} B, {slots} slots: tab -> host over WebTransport "
          f"{wt:,.0f} msg/s, over WebSocket {ws:,.0f} msg/s (WebSocket/WebTransport "
          f"{ws / wt:.2f}x); same guest on the host {host:,.0f} msg/s ({host / ws:.1f}x "
          "WebSocket)")


if __name__ == "__main__":
    main()
