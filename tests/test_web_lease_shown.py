"""The ``[web] lease`` as a user sees it: in ``nanonet check``, the snapshot and ``nanonet top``.

``check`` prints the lease beside where the page is served. A real
``WebHost`` registers its state for the snapshot's ``web`` (the lease, the
tabs joined, the leases running, the nodes whose lease ran out), which
``top`` draws as a line; a real tab in headless Chromium joins, closes, and
its lease runs out, each seen in the snapshot; ``nanonet top --json`` reads
it from a ``nanonet run --web --dashboard``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from browser_tab import TAB_PRODUCER, need_chromium, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.bridge.webhost import WebHost
from nanonet.bridge.webstate import FIELDS
from nanonet.cli import main
from nanonet.observe import Observer
from nanonet.observe.client import Endpoint
from nanonet.observe.snapshot import take
from nanonet.observe.top import render

SHORT = 2.5  # seconds: the lease of the tab test, long enough to see it running


def test_check_prints_the_lease(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nanonet.toml"
    path.write_text(TAB_PRODUCER.replace('browsers = ["tab"]', 'browsers = ["tab"]\nlease = 30'))
    assert main(["check", "--no-load", str(path)]) == 0
    out = capsys.readouterr().out
    assert "web:\n  page on 127.0.0.1:8765 (nanonet run --web HOST:PORT changes it); " \
        "transport auto; tokens valid 3600 s\n  lease 30 s: a tab that left may rejoin " \
        "with its token within it and resume" in out
    path.write_text(TAB_PRODUCER.replace('browsers = ["tab"]', 'browsers = ["tab"]\nlease = 0'))
    assert main(["check", "--no-load", str(path)]) == 0
    assert "lease 0: a tab that leaves breaks its tunnels for good at once ([web] lease)" \
        in capsys.readouterr().out


def _top(web: WebHost) -> str:
    with Observer(web.mesh, interval=0.1) as obs:
        server = obs.serve(port=0, token="lease-token")
        snap = Endpoint(server.url, server.token).snapshot()
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(render(snap, "test"))
    return out.getvalue()


def test_the_snapshot_and_top_show_the_lease_with_no_tab_yet(tmp_path: Path) -> None:
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [10, 64]}, {"out": "producer"},
                  transport="websocket", lease=SHORT) as web:
        state = take(web.mesh).web
        text = _top(web)
    assert state == {"lease_s": SHORT, "transport": "websocket", "tabs": [], "leasing": [],
                     "expired": []}
    assert tuple(state) == FIELDS
    assert "web: lease 2.5 s, transport websocket; tabs joined: none" in text


def test_a_tab_that_joins_leaves_and_runs_out_of_lease_is_seen(tmp_path: Path) -> None:
    need_chromium()
    # the tab writes 10^6 messages into 64 slots no one reads: it is still writing when closed
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [1_000_000, 64]}, {"out": "producer"},
                  transport="websocket", lease=SHORT) as web:
        url = f"http://127.0.0.1:{web.port}/#token={tab_token(web, ('producer',))}"
        with open_tab(url, 20_000) as page:
            page.wait_for_function("window.nanonet.status === 'running'", timeout=10_000)
            joined = take(web.mesh).web
        for _ in range(200):  # bounded: the host sees the tab leave within a few polls
            if web.left:
                break
            time.sleep(0.05)
        leasing = take(web.mesh).web
        text = _top(web)
        assert not web.wait_healed("out", 20)  # no tab came back: the lease ran out
        expired = take(web.mesh).web
    assert joined is not None and joined["tabs"] == ["tab"]
    assert leasing is not None and leasing["tabs"] == []
    [lease] = leasing["leasing"]
    assert lease["node"] == "tab" and lease["tunnels"] == ["out"]
    assert 0 <= lease["left_s"] <= SHORT
    assert "leasing: tab (" in text and "left to rejoin, out held broken)" in text
    assert expired is not None and expired["leasing"] == [] and expired["expired"] == ["tab"]


def test_nanonet_top_sees_the_lease_of_a_run_with_tabs(tmp_path: Path) -> None:
    """``nanonet run --web ... --dashboard`` leaves a control file; ``nanonet top
    --json`` reads the snapshot's ``web`` through it (no tab joined yet)."""
    path = tmp_path / "nanonet.toml"
    path.write_text(TAB_PRODUCER.replace('browsers = ["tab"]', 'browsers = ["tab"]\nlease = 7'))
    env = {**os.environ, "NANONET_CONTROL_FILE": str(tmp_path / "control.json"),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", str(path), "--web",
                            "127.0.0.1:0", "--dashboard", "--timeout", "60"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # bounded: the control file appears once the dashboard listens
            if (tmp_path / "control.json").exists() or run.poll() is not None:
                break
            time.sleep(0.05)
        top = subprocess.run([sys.executable, "-m", "nanonet.cli", "top", "--json"], env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    assert top.returncode == 0, (top.stderr, err)
    web = json.loads(top.stdout)["web"]
    assert (web["lease_s"], web["tabs"], web["leasing"]) == (7, [], [])
    assert "web: tab node 'tab' may rejoin within 7 s of leaving" in err
