"""The host's side of a tunnel into a tab (bridge/webfeed.py), with no browser.

A Python WebSocket client plays the tab's receiver against a real
``WebHost`` on 127.0.0.1 and a real mesh: a forged token, or one that does
not grant the tunnel's reader, is turned away; a granted one gets the host
speaking as the sender (a HELLO carrying that token back; a second dial
while it is bridged is told ``busy``, to try again), DATA from the
host's ring within the credit the client's WELCOME grants, and, once the
host's writer closed and everything is acknowledged, CLOSE; after an ACK
that says ENDED the host closes with the reason ``ended``, and turns a
later dial away with it. ``nanonet run --web`` serves such a manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from browser_tab import next_frames, tab_host, tab_token
from nanonet.bridge import frames as F
from nanonet.bridge.webhost import WebHost

RELAY = Path(__file__).resolve().parent / "guests" / "batch_relay.wat"
MANIFEST = f"""
[web]
browsers = ["tab"]

[tunnels.in]
writer = "host"
reader = "relay"
slots = 16
max_payload = 64

[tunnels.back]
writer = "relay"
reader = "host"
max_payload = 64

[tunnels.other]
writer = "host"
reader = "second"
max_payload = 64

[tunnels.other_back]
writer = "second"
reader = "host"
max_payload = 64

[services.relay]
source = "{RELAY}"
node = "tab"

[services.second]
source = "{RELAY}"
node = "tab"
"""


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebHost]:
    with tab_host(tmp_path, MANIFEST, {"relay": [], "second": []},
                  {"back": "relay", "other_back": "second"},
                  readers_of={"in": "relay", "other": "second"}, start=False) as host:
        yield host


def _turned_away(web: WebHost, first: str) -> tuple[int | None, str]:
    with connect(f"ws://127.0.0.1:{web.port}/nanonet-feed/in") as ws:
        ws.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


def test_a_feed_needs_a_token_that_grants_the_tunnels_reader(web: WebHost) -> None:
    assert _turned_away(web, json.dumps({"token": "forged.x"})) == (1008, "refused")
    assert _turned_away(web, "no json") == (1008, "refused")
    only_second = tab_token(web, ("second",))
    assert _turned_away(web, json.dumps({"token": only_second})) == (1008, "refused")
    assert any("does not grant tunnel 'in'" in r for r in web.refusals)


def _handshake(ws: Any, token: str) -> F.Hello:
    ws.send(json.dumps({"token": token}))
    hello = F.parse_hello(next_frames(ws)[0])
    assert hello.name == b"in" and hello.token == token.encode() and hello.max_payload == 64
    ws.send(F.welcome(F.VERSION, 3, hello.nonce, 0))  # room for three
    return hello


def _messages(f: F.Frame) -> list[bytes]:
    b = F.parse_data(f, 64)
    return [bytes(b.payload[a:z]) for a, z in zip(b.bounds, b.bounds[1:], strict=False)]


def _take_data(ws: Any) -> list[bytes]:
    """DATA frames until the host has sent the three messages the credit allows."""
    got: list[bytes] = []
    while len(got) < 3:
        for f in next_frames(ws):
            if f.kind is F.Kind.DATA:
                assert f.fields[0] == len(got)  # first_seq
                got += _messages(f)
    return got


def test_a_granted_tab_receives_within_its_credit_and_the_end(web: WebHost) -> None:
    writer = web.mesh.writer("in")
    writer.send_many([b"m%d" % i for i in range(5)])
    token = tab_token(web, ("relay", "second"))
    with connect(f"ws://127.0.0.1:{web.port}/nanonet-feed/in") as ws:
        _handshake(ws, token)
        assert _turned_away(web, json.dumps({"token": token})) == (1013, "busy")  # dial again
        assert _take_data(ws) == [b"m0", b"m1", b"m2"]  # the credit, no more
        writer.close()
        ws.send(F.ack(3, 16))
        rest: list[bytes] = []
        while True:
            kinds = {f.kind: f for f in next_frames(ws)}
            if F.Kind.DATA in kinds:
                rest += _messages(kinds[F.Kind.DATA])
                ws.send(F.ack(3 + len(rest), 16))
            if F.Kind.CLOSE in kinds:
                assert kinds[F.Kind.CLOSE].fields[0] == 5
                break
        assert rest == [b"m3", b"m4"]
        ws.send(F.ack(5, 16, F.ACK_ENDED))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.reason == "ended"
    assert web.feeds is not None and "in" in web.feeds.done
    assert _turned_away(web, json.dumps({"token": token})) == (1000, "ended")


def test_nanonet_run_web_serves_a_manifest_with_tunnels_into_a_tab(tmp_path: Path) -> None:
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                           "--web", "127.0.0.1:0", "--timeout", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(RELAY.parents[2] / "src")})
    assert "web: tab node 'tab': open http://127.0.0.1:" in done.stderr, done.stderr
    assert "into a tab" not in done.stderr  # no longer refused at start
