"""Screenshots for docs/observability.md: the dashboard and `nanonet top`.

Runs a small mesh (a host feeder -> Wasm checker, and a Wasm relay chain),
serves it, and saves docs/observe-dashboard.png (Debian's Chromium, through
Playwright) and docs/observe-top.png (`nanonet top`'s rich view exported to
SVG, rendered by the same browser).

    .venv/bin/python scripts/observe_shots.py
"""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from rich.console import Console

from nanonet import Mesh
from nanonet.errors import NanonetError
from nanonet.observe import Observer
from nanonet.observe.top import render

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "src" / "nanonet" / "guests"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def feed(mesh: Mesh, stop: threading.Event) -> None:
    out = mesh.writer("readings")
    seq = 0
    try:
        while not stop.wait(0.002):
            out.send_many([struct.pack("<q", s) + bytes(56) for s in range(seq, seq + 256)],
                          timeout=10)
            seq += 256
    except (TimeoutError, NanonetError):  # the mesh is stopping under us
        return
    out.close()


def main() -> None:
    stop = threading.Event()
    with Mesh() as mesh:
        mesh.tunnel("readings", slots=1024, max_payload=64)
        mesh.tunnel("summary", slots=16, max_payload=64)
        mesh.tunnel("stream", slots=4096, max_payload=64)
        check = mesh.service("checker", GUESTS / "checker.wat", reads=["readings"])
        check.linked.guest.exports(check.store)["configure"](check.store, 64)
        prod = mesh.service("producer", GUESTS / "producer.wat", writes=["stream"])
        prod.linked.guest.exports(prod.store)["configure"](prod.store, 10**12, 64)
        sink = mesh.service("sink", GUESTS / "checker.wat", reads=["stream"])
        sink.linked.guest.exports(sink.store)["configure"](sink.store, 64)
        mesh.start()
        feeder = threading.Thread(target=feed, args=(mesh, stop), daemon=True)
        feeder.start()
        with Observer(mesh) as obs:
            server = obs.serve(port=0)
            time.sleep(1.5)
            console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
            console.print(render(obs.snapshot().to_json(), server.url))
            svg = ROOT / "docs" / "observe-top.svg"
            console.save_svg(str(svg), title="nanonet top")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                page = browser.new_page(viewport={"width": 1100, "height": 620})
                page.goto(server.url + "/")
                page.wait_for_selector("#edge-stream")
                time.sleep(1.0)
                page.screenshot(path=str(ROOT / "docs" / "observe-dashboard.png"))
                page.goto(svg.as_uri())
                page.locator("svg").first.screenshot(path=str(ROOT / "docs" / "observe-top.png"))
                browser.close()
            svg.unlink()
        stop.set()
        feeder.join(10)
        mesh.stop(grace=0.2)


if __name__ == "__main__":
    main()
