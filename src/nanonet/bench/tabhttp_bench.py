"""HTTP served by a guest in a browser tab against the same guest on the host.

``python -m nanonet.bench.tabhttp_bench [--requests N] [--clients 8]``: the
echo guest of ``examples/tab_http`` (shipped in the package) answers every
request of ``http_bench``'s clients (a subprocess of their own, each thread
on one keep-alive connection) twice in one run: in a headless Chromium tab
(``nanonet run --web ... --http ...``: the ingress's port call carried over
a WebSocket into the tab's port memory and back) and in a Mesh on the host
(``HttpIngress``, no bridge). It prints requests/s and p50 for each, and
the ratio. Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from .chromium import open_tab
from .http_bench import _drive, nanonet_row

ECHO = Path(__file__).resolve().parents[1] / "examples" / "tab_http" / "echo.wat"


def _manifest(clients: int) -> str:
    return f"""
[web]
browsers = ["tab"]

[ports.echo]
server = "echo"
max_payload = 4096
host_clients = {clients}

[services.echo]
source = "{ECHO}"
node = "tab"

[[http]]
route = "/*"
port = "echo"
"""


def _serving(url: str, seconds: float) -> None:
    """Wait until ``url`` answers 200 (the tab serves the port)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (HTTPError, URLError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} was not served within {seconds} s")


def tab_row(clients: int, per: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "nanonet.toml").write_text(_manifest(clients))
        proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                                 "--web", "127.0.0.1:0", "--http", "127.0.0.1:0", "--share",
                                 "--timeout", "600"], cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        assert proc.stderr is not None
        try:
            tab = route = ""
            while not (tab and route):
                line = proc.stderr.readline()
                if not line:
                    raise RuntimeError("the run ended before it printed its URLs")
                tab = (m.group(1) if (m := re.search(r"open (http://\S+)", line)) else tab)
                route = (m.group(1) if (m := re.search(r"route /\* .*: (http://\S+)", line))
                         else route)
            with open_tab(tab):
                _serving(route + "warm", 60)
                host, port = re.findall(r"http://([\d.]+):(\d+)/", route)[0]
                return _drive((host, int(port)), clients, per)
        finally:
            proc.terminate()
            proc.wait(30)
            proc.stderr.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--clients", type=int, default=8)
    args = p.parse_args(argv)
    per = args.requests // args.clients
    rows = {"echo served by a tab": tab_row(args.clients, per),
            "echo on the host": nanonet_row(args.clients, per, ECHO, "echo")}
    for name, row in rows.items():
        print(f"{name:<22} {row['requests_per_s']:>9,.0f} requests/s  p50 "
              f"{row['p50_ms']:.3f} ms  ({int(row['requests'])} requests, {args.clients} "
              "keep-alive clients)")
    tab, host = rows["echo served by a tab"], rows["echo on the host"]
    print(f"host / tab requests/s: {host['requests_per_s'] / tab['requests_per_s']:.2f}; "
          f"tab / host p50: {tab['p50_ms'] / host['p50_ms']:.2f}")


if __name__ == "__main__":
    main()
