"""A tab that leaves and comes back within its lease resumes where it stopped.

In-process: a real mesh and ``WebHost`` on 127.0.0.1, and real headless
Chromium running the producer guest in a tab over a 64-slot ring. The test
closes the page mid-stream: the host sees the node leave, and its reader
gets every message that arrived, then ``TunnelBroken``. A new page opened
with the same token within the lease joins as the same node: the tunnel
heals (``WebHost.wait_healed``), the host's WELCOME names its ring's head,
the new tab's guest starts again from sequence 0 and its sender lets go,
unsent, of what lies below that head, so the host's reader reads on and
ends with every sequence number exactly once, in order (over WebTransport,
and over WebSocket). Once a lease has
run out the break is final and a tab with that token is refused, saying why.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from browser_tab import TAB_PRODUCER, need_chromium, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.bridge.webhost import WebHost
from nanonet.errors import TunnelBroken, TunnelClosed
from nanonet.ring.endpoint import TunnelReader

COUNT = 20_000
LEAVE_AT = 2_000  # messages read before the page closes
SHORT_LEASE = 1.0


def _numbers(batch: list[bytes]) -> list[int]:
    return [int.from_bytes(m[:8], "little") for m in batch]


def _read_then_close(reader: TunnelReader, page: Any) -> list[int]:
    """Read ``out`` until ``LEAVE_AT`` messages came, then close the page."""
    seqs: list[int] = []
    while len(seqs) < LEAVE_AT:
        seqs += _numbers(reader.recv_many(4096, timeout=20))
    page.close()  # the tab leaves mid-stream (the ring's 64 slots hold the rest back)
    return seqs


def _until_broken(reader: TunnelReader, seqs: list[int]) -> TunnelBroken:
    """Read what arrived before the tab left, then the break."""
    for _ in range(1000):  # bounded: each turn takes a message or waits at most 10 s
        try:
            seqs += _numbers(reader.recv_many(4096, timeout=10))
        except TunnelBroken as broken:
            return broken
    raise AssertionError("the tunnel did not break")


def _leave(web: WebHost, url: str) -> tuple[TunnelReader, list[int], TunnelBroken]:
    """Open a tab, close it mid-stream: the reader, what it read, the break."""
    reader = web.mesh.reader("out")
    with open_tab(url, 20_000) as page:
        seqs = _read_then_close(reader, page)
    return reader, seqs, _until_broken(reader, seqs)


@pytest.mark.parametrize("transport", ["auto", "websocket"])
def test_a_tab_reopened_within_its_lease_resumes_without_loss_or_repeat(
        tmp_path: Path, transport: str) -> None:
    need_chromium()
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [COUNT, 64]}, {"out": "producer"},
                  transport=transport) as web:
        url = f"http://127.0.0.1:{web.port}/#token={tab_token(web, ('producer',))}"
        reader, seqs, broken = _leave(web, url)
        before = len(seqs)
        assert web.left == ["tab"] and not web.all_done()  # the lease holds the run open
        with open_tab(url, 20_000) as page:
            assert web.wait_healed("out", 20)
            with pytest.raises(TunnelClosed):
                while True:
                    seqs += _numbers(reader.recv_many(4096, timeout=20))
            page.wait_for_function("window.nanonet.tunnels.out.bridge === 'ended'",
                                   timeout=10_000)
            out = page.evaluate("window.nanonet.tunnels.out")
        assert web.failure() is None
    assert "browser node 'tab' left (the tab closed); it may rejoin within its lease " \
           "of 10 s" in str(broken)
    assert LEAVE_AT <= before < COUNT  # it left mid-stream
    assert seqs == list(range(COUNT))  # none lost, none twice, in order
    assert out["tail"] == COUNT and out["head"] == COUNT  # the new guest wrote it all again
    if transport == "auto" and importlib.util.find_spec("aioquic") is not None:
        assert out["transport"] == "webtransport", out


def test_after_its_lease_a_tab_is_refused_and_the_break_is_final(tmp_path: Path) -> None:
    need_chromium()
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [COUNT, 64]}, {"out": "producer"},
                  lease=SHORT_LEASE) as web:
        url = f"http://127.0.0.1:{web.port}/#token={tab_token(web, ('producer',))}"
        reader, _, broken = _leave(web, url)
        assert not web.wait_healed("out", 20)  # the lease ran out
        assert web.all_done()
        with pytest.raises(TunnelBroken) as final:
            reader.recv_many(1, timeout=1)
        with open_tab(url, 20_000) as page:
            page.wait_for_function("window.nanonet.status === 'refused'", timeout=10_000)
            why: str = page.evaluate("window.nanonet.why")
    assert "it may rejoin within its lease of 1 s" in str(broken)
    assert "left (the tab closed) and did not rejoin within its lease of 1 s" in \
           str(final.value)
    assert why == ("browser node 'tab' left and did not rejoin within its lease of 1 s: "
                   "its tunnels are broken for good; start a new run")


def test_a_second_tab_of_the_node_takes_over_when_the_first_leaves(tmp_path: Path) -> None:
    """Two tabs opened with one token: the second waits (its bridge is refused
    while the first's is up) and takes the stream over at once when the first
    closes, as a tab that rejoined would."""
    need_chromium()
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [COUNT, 64]}, {"out": "producer"},
                  transport="websocket") as web:
        url = f"http://127.0.0.1:{web.port}/#token={tab_token(web, ('producer',))}"
        reader = web.mesh.reader("out")
        with open_tab(url, 20_000) as first:
            second = first.context.browser.new_page()  # a second tab of the same browser
            second.goto(url, timeout=20_000)
            second.wait_for_function("window.nanonet.status === 'running'", timeout=10_000)
            seqs = _read_then_close(reader, first)
            with pytest.raises(TunnelClosed):
                while True:
                    try:
                        seqs += _numbers(reader.recv_many(4096, timeout=20))
                    except TunnelBroken:  # the first left; the second is already there
                        assert web.wait_healed("out", 20)
    assert seqs == list(range(COUNT))  # none lost, none twice, in order
