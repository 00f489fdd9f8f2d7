"""Screenshots for docs/observability.md: the dashboard and `nanonet top`.

Runs the telemetry example (ingress -> filter -> aggregate, with latency
sampling) beside a service that traps and is restarted,
long enough to be seen, serves it, and saves:

- docs/observe-dashboard.png: the dashboard in Debian's Chromium (Playwright),
  the trapping service's last traps opened by a click;
- docs/observe-top.txt: `nanonet top` run in a 100x30 tmux window, as text
  (`tmux capture-pane -p`), when tmux is installed;
- docs/observe-top.png: the same keyed view (textual, 100x30) saved as SVG by
  textual itself, rendered by the same browser.

    .venv/bin/python scripts/observe_shots.py
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from nanonet import Restart, RestartPolicy
from nanonet.demo import DemoConfig, build_guests, demo_mesh
from nanonet.observe import Observer
from nanonet.observe.client import Endpoint
from nanonet.observe.server import ControlServer
from nanonet.observe.toptui import TopApp

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
FLAKY = """(module (memory (export "memory") 1) (func $check unreachable)
  (func (export "run") (result i32) (call $check) (i32.const 0)))"""
SIZE = (100, 30)


def top_text(server: ControlServer) -> None:
    """`nanonet top` in a detached tmux window, its screen captured as text."""
    if shutil.which("tmux") is None:
        print("tmux is not installed: docs/observe-top.txt is left as it was", file=sys.stderr)
        return
    cmd = shlex.join([sys.executable, "-m", "nanonet.cli", "top", "--connect", server.url,
                      "--token", server.token])
    env = f"PYTHONPATH={shlex.quote(str(ROOT / 'src'))} TERM=xterm-256color"
    session = f"nanonet-shot-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(SIZE[0]),
                    "-y", str(SIZE[1]), f"env {env} {cmd}"], check=True)
    try:
        time.sleep(4.0)  # textual starts, two polls give rates and CPU shares
        subprocess.run(["tmux", "send-keys", "-t", session, "r"], check=True)
        time.sleep(1.5)
        shot = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], check=True,
                              capture_output=True, text=True).stdout
        (DOCS / "observe-top.txt").write_text(shot.rstrip() + "\n")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def top_svg(server: ControlServer, svg: Path) -> None:
    """The keyed view as textual draws it, sorted by rate, saved as SVG."""
    ep = Endpoint(server.url, server.token)

    async def shoot() -> None:
        app = TopApp(ep.snapshot, ep.url, period=0.25, url=ep.url, token=ep.token)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(2.0)
            await pilot.press("r")
            await pilot.pause(1.0)
            app.save_screenshot(str(svg))

    asyncio.run(shoot())


def pictures(server: ControlServer) -> None:
    svg = DOCS / "observe-top.svg"
    top_svg(server, svg)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server.dashboard_url)
        page.wait_for_selector("#edge-filtered")
        time.sleep(8.0)  # the sparklines fill
        page.locator("#services tbody tr", has_text="flaky").click()
        page.screenshot(path=str(DOCS / "observe-dashboard.png"), full_page=True)
        page.goto(svg.as_uri())
        page.locator("svg").first.screenshot(path=str(DOCS / "observe-top.png"))
        browser.close()
    svg.unlink()


def main() -> None:
    cfg = DemoConfig(count=2_000_000_000, slots=4096, latency=True)
    with demo_mesh(cfg, build_guests(lambda _line: None)) as mesh:
        summary = mesh.reader("summary")  # held, so the graph shows the host's end
        mesh.service("flaky", FLAKY, restart=RestartPolicy(Restart.ON_FAILURE, max_restarts=3,
                                                          initial_ms=200, max_ms=400))
        mesh.start()
        with Observer(mesh, name="telemetry") as obs:
            server = obs.serve(port=0)
            time.sleep(2.0)
            top_text(server)
            pictures(server)
        mesh.stop(grace=0.2)
        del summary


if __name__ == "__main__":
    main()
