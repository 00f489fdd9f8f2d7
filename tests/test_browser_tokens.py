"""Capability tokens for browser tabs, checked by the host's web server.

No browser here: a Python WebSocket client plays the tab against a real
``WebHost`` on 127.0.0.1 and a real mesh. A token names the services a tab
may run; the host refuses a forged or expired one on the control channel,
and, on a tunnel's bridge, a HELLO whose token does not grant that tunnel.
A granted HELLO gets a WELCOME and its DATA lands in the host's ring. No
token is ever logged.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from browser_tab import next_frames, tab_host, tab_token
from nanonet.bridge import frames as F
from nanonet.bridge.webhost import WebHost
from nanonet.bridge.webtoken import Grant, TokenRefused, mint, verify

PRODUCER = Path(__file__).resolve().parent / "guests" / "producer.wat"
MANIFEST = f"""
[web]
browsers = ["tab"]

[tunnels.out]
writer = "producer"
reader = "host"
slots = 16
max_payload = 64

[tunnels.other]
writer = "second"
reader = "host"

[services.producer]
source = "{PRODUCER}"
node = "tab"

[services.second]
source = "{PRODUCER}"
node = "tab"
names = {{ out = "other" }}
"""


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebHost]:
    with tab_host(tmp_path, MANIFEST, {"producer": [], "second": []},
                  {"out": "producer", "other": "second"}, start=False) as host:
        yield host


def _control(web: WebHost, token: str) -> dict[str, object]:
    with connect(f"ws://127.0.0.1:{web.port}/nanonet-tab") as ws:
        ws.send(json.dumps({"token": token}))
        answer: dict[str, object] = json.loads(ws.recv(timeout=10))
        return answer


def _hello(web: WebHost, tunnel: str, token: str) -> F.Frame:
    with connect(f"ws://127.0.0.1:{web.port}/nanonet/{tunnel}") as ws:
        ws.send(F.hello(1, 1, 64, 42, tunnel.encode(), token.encode()))
        return next_frames(ws)[0]


def test_tokens_are_signed_and_expire() -> None:
    key = secrets.token_bytes(32)
    token = mint(key, Grant("tab", ("a",), time.time() + 60))
    assert verify(key, token).services == ("a",)
    with pytest.raises(TokenRefused, match="signature"):
        verify(secrets.token_bytes(32), token)
    with pytest.raises(TokenRefused, match="expired"):
        verify(key, mint(key, Grant("tab", ("a",), time.time() - 1)))
    sig = token.partition(".")[2]
    forged = mint(key, Grant("tab", ("a", "b"), time.time() + 60)).partition(".")[0]
    with pytest.raises(TokenRefused, match="signature"):
        verify(key, f"{forged}.{sig}")  # a wider grant under the old signature


def test_the_control_channel_grants_only_what_the_token_names(web: WebHost) -> None:
    answer = _control(web, tab_token(web, ("producer",)))
    assert answer["ok"] is True
    plans = answer["services"]
    assert isinstance(plans, list) and [p["name"] for p in plans] == ["producer"]
    assert plans[0]["ends"][0]["tunnel"] == "out" and plans[0]["ends"][0]["slot_count"] == 16
    refused = _control(web, tab_token(web, ("producer",), ttl=-1))
    assert refused["ok"] is False and "expired" in str(refused["why"])
    assert _control(web, "nonsense")["ok"] is False


def test_a_bridge_hello_must_hold_a_grant_for_its_tunnel(web: WebHost,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    only_second = tab_token(web, ("second",))
    refused = _hello(web, "out", only_second)
    assert refused.kind is F.Kind.REFUSE
    code, reason = F.parse_refuse(refused)
    assert code == F.Refusal.AUTH and "does not grant tunnel 'out'" in reason
    granted = tab_token(web, ("producer",))
    with connect(f"ws://127.0.0.1:{web.port}/nanonet/out") as ws:
        ws.send(F.hello(1, 1, 64, 7, b"out", granted.encode()))
        welcome = next_frames(ws)[0]
        # credit, nonce, next_seq
        assert welcome.kind is F.Kind.WELCOME and welcome.fields[2:] == (16, 7, 0)
        ws.send(F.data(0, array("I", [3, 2]), b"abcde"))
        ack = next_frames(ws)[0]
        assert ack.kind is F.Kind.ACK and ack.fields[0] == 2
    reader = web.mesh.reader("out")
    assert reader.recv_many(8, timeout=5) == [b"abc", b"de"]
    assert only_second not in caplog.text and granted not in caplog.text
    assert "does not grant tunnel 'out'" in caplog.text  # the refusal is, without the token


def test_a_tunnel_between_two_tabs_is_refused_at_start(tmp_path: Path) -> None:
    checker = PRODUCER.parent.parent.parent / "src" / "nanonet" / "guests" / "checker.wat"
    (tmp_path / "nanonet.toml").write_text(f"""
[web]
browsers = ["tab", "other"]
[tunnels.a]
writer = "p"
reader = "q"
[services.p]
source = "{PRODUCER}"
node = "tab"
names = {{ out = "a" }}
[services.q]
source = "{checker}"
node = "other"
names = {{ stream = "a" }}
""")
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                           "--web", "127.0.0.1:0", "--timeout", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ,
                               "PYTHONPATH": str(PRODUCER.parents[2] / "src")})
    assert done.returncode == 1
    assert "tunnel(s) a run between two browser nodes" in done.stderr
