"""A browser tab joins the mesh: real Chromium runs guests the host reads.

``nanonet run --web`` serves the page; Chromium (Playwright, headless) opens
it with the token the run printed. The tab runs the producer guest (the
same ``.wasm`` and generated adapter the host would run) in a Worker over a
shared ring of only 64 slots, so the bridge's credit and acknowledgements
are exercised many times over, and the host prints every message it
receives: every sequence number arrives, in order. A second tab service
streams without end into a host checker guest (which checks order too)
until the tab is closed: the host sees the node leave and the tunnel break.
A third service exports its memory instead of importing it (the other way
a guest links to its adapter). A tab opened with a wrong token is refused
and shows why.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
PRODUCER = ROOT / "tests" / "guests" / "producer.wat"
STREAMER = ROOT / "src" / "nanonet" / "guests" / "producer.wat"  # writes "stream"
CHECKER = ROOT / "src" / "nanonet" / "guests" / "checker.wat"  # reads "stream", checks order
EXPORTER = ROOT / "tests" / "guests" / "exporting_producer.wat"  # exports its memory
COUNT = 3000
MANIFEST = f"""
[web]
browsers = ["tab"]
lease = 1  # the run ends a second after the tab leaves
configure = {{ producer = [{COUNT}, 64], streamer = [1000000000000, 64], exporter = [100, 64] }}

[tunnels.out]
writer = "producer"
reader = "host"
slots = 64
max_payload = 64

[tunnels.exported]
writer = "exporter"
reader = "host"
max_payload = 64

[tunnels.stream]
writer = "streamer"
reader = "checker"
slots = 256
max_payload = 64

[services.producer]
source = "{PRODUCER}"
node = "tab"

[services.streamer]
source = "{STREAMER}"
node = "tab"

[services.exporter]
source = "{EXPORTER}"
node = "tab"
names = {{ out = "exported" }}

[services.checker]
source = "{CHECKER}"
"""
HOST_LINE = re.compile(r"host ← out #(\d+) \(64 bytes\): ((?:[0-9a-f]{2} ){8})")


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, queue.Queue[str],
                                            queue.Queue[str]]]:
    """``nanonet run --web`` on the manifest, the URL it printed, its stderr and
    stdout lines (both read as they come: a full pipe would stall the host)."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    pytest.importorskip("playwright.sync_api")
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                             "--web", "127.0.0.1:0", "--timeout", "30"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    errors: queue.Queue[str] = queue.Queue()
    printed: queue.Queue[str] = queue.Queue()
    readers = [threading.Thread(target=_lines, args=(pipe, q), daemon=True)
               for pipe, q in ((proc.stderr, errors), (proc.stdout, printed))]
    for r in readers:
        r.start()
    url = ""
    try:
        while not url:
            line = errors.get(timeout=20)
            if m := re.search(r"open (http://\S+)", line):
                url = m.group(1)
        yield proc, url, errors, printed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for r in readers:
            r.join(10)
        for pipe in (proc.stdout, proc.stderr):
            assert pipe is not None
            pipe.close()


def _refused(browser: Any, url: str) -> str:
    page = browser.new_page()
    page.goto(url.replace("#token=", "#token=forged"), timeout=20_000)
    page.wait_for_function("window.nanonet && window.nanonet.status === 'refused'",
                           timeout=10_000)
    text: str = page.text_content("#status") or ""
    page.close()
    return text


def _run_tab(browser: Any, url: str) -> dict[str, Any]:
    page = browser.new_page()
    page.goto(url, timeout=20_000)
    page.wait_for_function("(() => { const t = window.nanonet.tunnels; return t.out && "
                           "t.out.bridge === 'ended' && t.stream && t.stream.tail > 1000 })()",
                           timeout=20_000)
    page.wait_for_timeout(300)  # one more refresh of the tables
    seen: dict[str, Any] = page.evaluate(
        "({ isolated: crossOriginIsolated, grant: document.getElementById('grant').textContent,"
        "   tunnels: document.getElementById('tunnels').textContent,"
        "   services: window.nanonet.services, out: window.nanonet.tunnels.out,"
        "   address: location.href })")
    page.close()  # the tab leaves: its stream breaks on the host
    return seen


def test_a_tab_runs_the_producer_and_the_host_reads_every_message(run: Any) -> None:
    from playwright.sync_api import sync_playwright

    proc, url, errors, printed = run
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            refusal = _refused(browser, url)
            seen = _run_tab(browser, url)
        finally:
            browser.close()
    proc.wait(20)
    out, rest = _drain(printed), _drain(errors)
    assert "refused" in refusal and "signature does not match" in refusal, refusal
    assert seen["isolated"] is True
    assert "producer" in seen["grant"] and "streamer" in seen["grant"]
    for name in ("producer", "exporter"):  # either way of linking the adapter works
        assert seen["services"][name] == {"state": "exited", "result": 0, "error": ""}
    assert "host received 100 message(s) on exported" in out
    assert seen["out"]["head"] == COUNT and seen["out"]["tail"] == COUNT  # acked to the end
    assert f"outwrite{COUNT}{COUNT}{COUNT * 64}closedended" in seen["tunnels"]  # the table
    assert "token" not in seen["address"]  # the page took the token out of the address bar
    if importlib.util.find_spec("aioquic") is not None:  # [web] transport "auto" prefers it
        assert seen["out"]["transport"] == "webtransport", seen["out"]
    sequences = [(int(n), int.from_bytes(bytes.fromhex(head), "little"))
                 for n, head in HOST_LINE.findall(out)]
    assert [s for _, s in sequences] == list(range(COUNT))  # every one, in order
    assert [n for n, _ in sequences] == list(range(1, COUNT + 1))
    assert re.search(r"stream .* broken", out), out[-2000:]  # the tab left mid-stream
    assert "1 refusal(s), 1 tab(s) left" in rest
    assert url.split("#token=")[1] not in rest  # only the URL line carried it


def _drain(q: queue.Queue[str]) -> str:
    got = []
    while True:
        try:
            got.append(q.get(timeout=2))
        except queue.Empty:
            return "".join(got)
