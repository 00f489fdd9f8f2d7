"""Revoking a browser node's tokens from the host, over the real control API.

A Python WebSocket client plays the tab against a real ``WebHost`` and a real
mesh; the revocation goes through the observer's ``POST /api/revoke`` with
the control token, as an operator's curl would. The open tab is dropped (its
control channel closed: the node leaves), and the same token is refused on
the control channel and on a tunnel's bridge with the documented reason.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from browser_tab import TAB_PRODUCER, need_chromium, next_frames, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.bridge import frames as F
from nanonet.bridge.webhost import WebHost
from nanonet.errors import InvalidValue
from nanonet.observe.observer import Observer

MANIFEST = TAB_PRODUCER.replace("slots = 64", "slots = 16")  # a producer the host holds
GUESTS = Path(__file__).resolve().parent / "guests"
CONTROL = "revoke-test-token"
REVOKED = "the host revoked the tokens of browser node 'tab'"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebHost]:
    with tab_host(tmp_path, MANIFEST, {"producer": []}, {"out": "producer"},
                  start=False, lease=0) as host:
        host.nodes = ("tab",)  # as nanonet run gives it
        yield host


def _join(ws: ClientConnection, token: str) -> dict[str, object]:
    ws.send(json.dumps({"token": token}))
    answer: dict[str, object] = json.loads(ws.recv(timeout=10))
    return answer


def _post(port: int, target: str, token: str | None) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("POST", target, headers=headers)
    resp = conn.getresponse()
    body: dict[str, object] = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_a_revoked_node_is_dropped_and_its_token_refused(web: WebHost) -> None:
    token = tab_token(web, ("producer",))
    url = f"ws://127.0.0.1:{web.port}/nanonet-tab"
    with connect(url) as tab, Observer(web.mesh) as obs:
        assert _join(tab, token)["ok"] is True
        server = obs.serve(port=0, token=CONTROL)
        status, body = _post(server.port, "/api/revoke?node=tab", None)
        assert status == 401 and "control token" in str(body["error"])  # not without it
        status, body = _post(server.port, "/api/revoke?node=tab", CONTROL)
        assert status == 200 and "1 open tab(s) dropped" in str(body["done"])
        status, body = _post(server.port, "/api/revoke?node=nobody", CONTROL)
        assert status == 400 and "browser nodes: tab" in str(body["error"])
        with pytest.raises(ConnectionClosed) as closed:
            tab.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.reason == "revoked"
    end = time.monotonic() + 10
    while not web.left and time.monotonic() < end:  # the host's side of the close
        time.sleep(0.02)
    assert web.left == ["tab"]  # the host saw the node leave
    with connect(url) as again:
        refused = _join(again, token)
    assert refused["ok"] is False and REVOKED in str(refused["why"])
    with connect(f"ws://127.0.0.1:{web.port}/nanonet/out") as ws:
        ws.send(F.hello(1, 1, 64, 7, b"out", token.encode()))
        frame = next_frames(ws)[0]
    assert frame.kind is F.Kind.REFUSE
    code, reason = F.parse_refuse(frame)
    assert code == F.Refusal.AUTH and REVOKED in reason


def test_revoking_names_the_nodes_it_knows(tmp_path: Path) -> None:
    with tab_host(tmp_path, MANIFEST, {"producer": []}, {"out": "producer"},
                  start=False) as host:
        host.nodes = ("tab",)
        with pytest.raises(InvalidValue, match="browser nodes: tab"):
            host.revoke("tba")
        assert "0 open tab(s)" in host.revoke("tab")


def test_a_mesh_without_tabs_has_nothing_to_revoke() -> None:
    from nanonet.bridge.webstate import revoke_in
    from nanonet.mesh import Mesh
    with Mesh() as mesh, pytest.raises(InvalidValue, match="serves no browser tabs"):
        revoke_in(mesh, "tab")


def test_a_revoked_tab_in_chromium_says_so(web: WebHost) -> None:
    need_chromium()
    token = tab_token(web, ("producer",))
    with open_tab(f"http://127.0.0.1:{web.port}/#token={token}") as page:
        page.wait_for_function("window.nanonet && window.nanonet.status === 'running'",
                               timeout=30000)
        assert "0 open tab(s)" not in web.revoke("tab")
        page.wait_for_function("window.nanonet.status === 'refused'", timeout=30000)
        assert "the host revoked this node's tokens" in (page.text_content("#status") or "")


SERVING = f"""
[web]
browsers = ["tab"]

[ports.api]
server = "probe"
max_payload = 4096

[services.probe]
source = "{GUESTS / 'http_probe.wat'}"
node = "tab"
"""


def test_revoking_cuts_the_port_links_of_the_node(tmp_path: Path) -> None:
    with tab_host(tmp_path, SERVING, {"probe": []}, {}, servers_of={"api": "probe"}) as web:
        token = tab_token(web, ("probe",))
        base = f"ws://127.0.0.1:{web.port}"
        with connect(f"{base}/nanonet-tab") as tab, connect(f"{base}/nanonet-port/api") as link:
            assert _join(tab, token)["ok"] is True
            link.send(json.dumps({"token": token}))
            end = time.monotonic() + 10
            while web.ports is not None and web.ports.link("api") is None:
                assert time.monotonic() < end, "the link serves the port within 10 s"
                time.sleep(0.02)
            web.revoke("tab")
            with pytest.raises(ConnectionClosed) as closed:
                link.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.reason == "revoked"
        with connect(f"{base}/nanonet-port/api") as again:
            again.send(json.dumps({"token": token}))
            with pytest.raises(ConnectionClosed) as refused:
                again.recv(timeout=10)
        assert refused.value.rcvd is not None and refused.value.rcvd.reason == "refused"
        assert any(REVOKED in why for why in web.refusals)
