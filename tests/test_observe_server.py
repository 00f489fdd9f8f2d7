"""The control endpoint: snapshot, /metrics, WebSocket, the token, the Origin check, tap and
replay over HTTP."""

from __future__ import annotations

import io
import json
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from nanonet import Mesh
from nanonet.errors import NanonetError
from nanonet.observe import Observer, PcapngWriter, read_packets
from nanonet.observe.client import Endpoint
from nanonet.observe.server import ControlServer
from nanonet.ring import layout as L

TOKEN = "s3cret-token"


@pytest.fixture
def served() -> Iterator[tuple[Mesh, Observer, ControlServer]]:
    with Mesh() as mesh:
        mesh.tunnel("in", slots=64, max_payload=32)
        mesh.tunnel("out", slots=64, max_payload=32)
        with Observer(mesh) as obs:
            yield mesh, obs, obs.serve(port=0, token=TOKEN)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body: bytes = resp.read()
    return body


def test_snapshot_and_metrics_parse(served: tuple[Mesh, Observer, ControlServer]) -> None:
    mesh, _obs, server = served
    w, r = mesh.writer("in"), mesh.reader("in")
    w.send_many([b"abc"] * 7)
    assert len(r.recv_many(10, timeout=10)) == 7
    snap = json.loads(_get(server.url + "/api/snapshot"))
    assert {t["name"] for t in snap["tunnels"]} == {"in", "out"}
    families = {f.name: f for f in text_string_to_metric_families(
        _get(server.url + "/metrics").decode())}
    sent = {s.labels["tunnel"]: s.value for s in families["nanonet_tunnel_sent_messages"].samples
            if s.name.endswith("_total")}
    assert sent == {"in": 7.0, "out": 0.0}
    assert "nanonet_tunnel_fill" in families and "nanonet_tunnel_parks" in families
    assert b"<svg" in _get(server.url + "/")


def test_state_changes_need_the_token(served: tuple[Mesh, Observer, ControlServer]) -> None:
    _mesh, _obs, server = served
    for token in (None, "wrong"):
        ep = Endpoint(server.url, token)
        ep.token = token
        with pytest.raises(urllib.error.HTTPError) as err:
            ep.replay("in", b"x")
        assert err.value.code == 401
        err.value.close()
        with pytest.raises(urllib.error.HTTPError) as err:
            ep.tap("tunnel=in&count=1", io.BytesIO())
        assert err.value.code == 401
        err.value.close()
    req = urllib.request.Request(server.url + "/api/snapshot", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 403
    err.value.close()


def test_replay_then_tap_over_http(served: tuple[Mesh, Observer, ControlServer]) -> None:
    mesh, _obs, server = served
    msgs = [struct.pack("<I", i) + b"payload" for i in range(20)]
    buf = io.BytesIO()
    w = PcapngWriter(buf, "in")
    for i, m in enumerate(msgs):
        w.write(m, i)
    ep = Endpoint(server.url, TOKEN)
    assert ep.replay("in", buf.getvalue()) == 20
    assert mesh.reader("in").recv_many(100, timeout=10) == msgs
    # a tap over HTTP: stream 3 of what a host writer sends on "out"
    out = io.BytesIO()
    got = threading.Thread(target=ep.tap, args=("tunnel=out&stream=3&count=2", out))
    got.start()
    writer, reader = mesh.writer("out"), mesh.reader("out")
    for _ in range(200):  # bounded: until the tap has attached
        if mesh.tunnels["out"].ring.u32(L.OFF_TAP_MODE):
            break
        got.join(0.02)
    for _ in range(2):
        writer.send_many(msgs)
        reader.recv_many(100, timeout=10)
    got.join(20)
    assert not got.is_alive()
    assert [p.data for p in read_packets(io.BytesIO(out.getvalue()))] == [msgs[3], msgs[3]]


def test_websocket_pushes_snapshots(served: tuple[Mesh, Observer, ControlServer]) -> None:
    _mesh, _obs, server = served
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        first = json.loads(ws.recv(timeout=10))
        second = json.loads(ws.recv(timeout=10))
    assert first["tunnels"][0]["name"] == "in" and second["time_ns"] >= first["time_ns"]


def _ws_refusal(url: str, **kwargs: Any) -> tuple[int, str]:
    """``kwargs``: those of websockets' ``connect``."""
    with pytest.raises(InvalidStatus) as err:
        connect(url, open_timeout=10, **kwargs)
    return err.value.response.status_code, err.value.response.body.decode()


def test_websocket_needs_the_token(served: tuple[Mesh, Observer, ControlServer]) -> None:
    _mesh, _obs, server = served
    url = f"ws://127.0.0.1:{server.port}/ws"
    for kwargs in ({}, {"subprotocols": ["nanonet.v1", "nanonet.token.wrong-token"]},
                   {"additional_headers": {"Authorization": "Bearer wrong-token"}}):
        status, body = _ws_refusal(url, **kwargs)
        assert status == 401 and "needs the control token" in body
    # the page's way: the token as a subprotocol beside nanonet.v1, which the server picks
    with connect(url, open_timeout=10, origin=Origin(server.url),
                 subprotocols=[Subprotocol("nanonet.v1"), Subprotocol(f"nanonet.token.{TOKEN}")],
                 ) as ws:
        assert ws.subprotocol == "nanonet.v1"
        assert json.loads(ws.recv(timeout=10))["tunnels"][0]["name"] == "in"


def _status(url: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


def test_a_foreign_origin_is_refused_on_every_route(
        served: tuple[Mesh, Observer, ControlServer]) -> None:
    _mesh, _obs, server = served
    foreign = "http://127.0.0.1:1"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, body = _ws_refusal(f"ws://127.0.0.1:{server.port}/ws", origin=foreign,
                               additional_headers=bearer)
    assert status == 403 and foreign in body
    for path in ("/", "/api/snapshot", "/metrics"):
        for origin in (foreign, "null", "http://localhost:1", "https://127.0.0.1:"
                       f"{server.port}"):
            status, body = _status(server.url + path, {"Origin": origin})
            assert (status, json.loads(body)["error"].split(" are ")[0]) == (
                403, f"requests from pages of origin {origin!r}")
    status, _ = _status(server.url + "/api/tap?tunnel=in&count=1", {"Origin": foreign, **bearer},
                        b"")
    assert status == 403
    # no Origin (Prometheus, curl, the CLI) or the server's own: served as before
    for headers in ({}, {"Origin": server.url},
                    {"Origin": f"http://localhost:{server.port}"}):
        assert _status(server.url + "/metrics", headers)[0] == 200
        assert _status(server.url + "/api/snapshot", headers)[0] == 200


def test_configured_origins_are_admitted() -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        server = obs.serve(port=0, origins=["http://127.0.0.1:8888/"])
        assert _status(server.url + "/api/snapshot", {"Origin": "http://127.0.0.1:8888"})[0] == 200
        assert _status(server.url + "/api/snapshot", {"Origin": "http://127.0.0.1:8889"})[0] == 403


def test_a_token_or_origin_that_cannot_work_is_refused_at_start() -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        with pytest.raises(NanonetError, match=r"unusable control token 'a b'.*at least 8"):
            obs.serve(port=0, token="a b")
        with pytest.raises(NanonetError, match=r"not an origin: '127\.0\.0\.1:8888'.*scheme://"):
            obs.serve(port=0, origins=["127.0.0.1:8888"])
