"""Screenshots for docs/observability.md: the dashboard and `nanonet top`.

Runs the telemetry example (ingress -> filter -> aggregate, with latency
sampling) long enough to be seen, serves it, and saves
docs/observe-dashboard.png (Debian's Chromium, through Playwright) and
docs/observe-top.png (`nanonet top`'s rich view exported to SVG, rendered by
the same browser).

    .venv/bin/python scripts/observe_shots.py
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from rich.console import Console

from nanonet.demo import DemoConfig, build_guests, demo_mesh
from nanonet.observe import Observer
from nanonet.observe.top import render

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    # the telemetry example, with enough readings to run for the whole shoot
    cfg = DemoConfig(count=2_000_000_000, slots=4096, latency=True)
    with demo_mesh(cfg, build_guests(lambda _line: None)) as mesh:
        summary = mesh.reader("summary")  # held, so the graph shows the host's end
        mesh.start()
        with Observer(mesh) as obs:
            server = obs.serve(port=0)
            time.sleep(2.0)
            console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
            console.print(render(obs.snapshot().to_json(), server.url))
            svg = ROOT / "docs" / "observe-top.svg"
            console.save_svg(str(svg), title="nanonet top")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                page = browser.new_page(viewport={"width": 1300, "height": 560})
                page.goto(server.dashboard_url)
                page.wait_for_selector("#edge-filtered")
                time.sleep(1.5)
                page.screenshot(path=str(ROOT / "docs" / "observe-dashboard.png"))
                page.goto(svg.as_uri())
                page.locator("svg").first.screenshot(path=str(ROOT / "docs" / "observe-top.png"))
                browser.close()
            svg.unlink()
        mesh.stop(grace=0.2)
        del summary


if __name__ == "__main__":
    main()
