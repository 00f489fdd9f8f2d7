"""A tab page opened where the browser will not isolate it, with real Chromium.

A browser shares memory with Workers only in a secure context: a page from
127.0.0.1 or localhost is one, a page from another address over plain
http:// is not, and has no ``SharedArrayBuffer``. Such a page refuses to
start, saying how to reach the host instead, rather than showing a tab that
joins and runs nothing; ``nanonet run`` says the same when ``--web`` listens
beyond loopback.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from browser_tab import TAB_PRODUCER, need_chromium, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.cli.web_run import page_host, web_exposure

MANIFEST = TAB_PRODUCER  # the producer in the tab, writing out to a host reader


def _outward_address() -> str:
    """An IPv4 address of this machine that is not loopback (the test skips without one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            pytest.skip("this machine has no route beyond loopback")
        address: str = s.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no address beyond loopback")
    return address


def test_a_page_from_a_plain_http_address_refuses_to_start(tmp_path: Path) -> None:
    need_chromium()
    address = _outward_address()
    with tab_host(tmp_path, MANIFEST, {"producer": []}, {"out": "producer"},
                  listen="0.0.0.0") as web:
        url = f"http://{address}:{web.port}/#token={tab_token(web, ('producer',))}"
        with open_tab(url) as page:
            page.wait_for_function("window.nanonet && window.nanonet.status === 'refused'",
                                   timeout=30000)
            text = page.text_content("#status") or ""
            assert "not cross-origin isolated" in text and "ssh -L" in text
        assert web.tabs == {} and web.refusals == []  # it never joined: nothing to refuse


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_listens_are_quiet(host: str) -> None:
    assert web_exposure(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::", "example.org"])
def test_a_listen_beyond_loopback_says_what_breaks_and_the_way_round(host: str) -> None:
    why = web_exposure(host)
    assert why is not None and f"web: {host} is not a loopback address" in why
    assert "not a secure context" in why and "ssh -L" in why and "unencrypted" in why


def test_a_wildcard_listen_prints_a_loopback_url() -> None:
    assert [page_host(h) for h in ("0.0.0.0", "::", "127.0.0.1", "192.0.2.7")] == [
        "127.0.0.1", "[::1]", "127.0.0.1", "192.0.2.7"]
