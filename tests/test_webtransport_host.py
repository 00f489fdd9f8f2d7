"""The host's WebTransport server, driven by a Python WebTransport client (aioquic).

No browser: a real ``WebHost`` on 127.0.0.1 with its WebTransport server,
and an aioquic HTTP/3 client that sends the extended CONNECT a browser sends
(``:protocol = webtransport``, draft-02) and opens a bidirectional stream.
The stream is a byte stream: a HELLO cut into one-byte chunks is still
gathered and answered with a WELCOME, and DATA written to it lands in the
tunnel's host ring. A forged token gets a REFUSE (AUTH) and the stream's
end; a path that is no bridge's gets HTTP 404. The certificate the page
pins is an ECDSA P-256 one valid for less than 14 days, and its SHA-256 is
the one the host hands out in the control channel's reply, with the
transport; with ``transport = "websocket"`` no server runs and the reply
says so. A tunnel the tab reads (a feed, ``/nanonet-feed/<tunnel>``): the
stream's first line carries the token; a forged one is answered
``refused`` and the stream's end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aioquic")
from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived
from websockets.asyncio.client import connect as ws_connect

from browser_tab import TAB_PRODUCER, tab_host, tab_token
from nanonet.bridge import frames as F
from nanonet.bridge.webhost import WebHost
from nanonet.manifest.manifest import load_manifest

WAIT = 10.0


class Client(QuicConnectionProtocol):
    """An HTTP/3 client that speaks WebTransport as Chromium does (draft-02)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic, enable_webtransport=True)
        self.events: asyncio.Queue[H3Event] = asyncio.Queue()
        self.mine: dict[int, int] = {}  # stream -> its session

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.stream_id in self.mine:
            # aioquic's client parses the answer on a stream it opened as HTTP/3
            # frames, not as WebTransport bytes: take them here
            self.events.put_nowait(WebTransportStreamDataReceived(
                event.data, event.stream_id, event.end_stream, self.mine[event.stream_id]))
            return
        for h3 in self.http.handle_event(event):
            self.events.put_nowait(h3)

    async def session(self, authority: str, path: str) -> tuple[int, bytes]:
        """A CONNECT to ``path``: its stream id and the status the host answered."""
        sid = self._quic.get_next_available_stream_id()
        self.http.send_headers(sid, [(b":method", b"CONNECT"), (b":scheme", b"https"),
                                     (b":authority", authority.encode()),
                                     (b":path", path.encode()), (b":protocol", b"webtransport"),
                                     (b"sec-webtransport-http3-draft02", b"1")])
        self.transmit()
        while True:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if isinstance(event, HeadersReceived) and event.stream_id == sid:
                return sid, dict(event.headers)[b":status"]

    def stream(self, session: int) -> int:
        sid = self.http.create_webtransport_stream(session, is_unidirectional=False)
        self.mine[sid] = session
        return sid

    def write(self, stream: int, data: bytes) -> None:
        self._quic.send_stream_data(stream, data)
        self.transmit()

    async def frames(self, stream: int, want: int) -> tuple[list[F.Frame], bool]:
        """The next ``want`` frames on ``stream`` (fewer if it ends), and if it ended."""
        decoder, got = F.FrameDecoder(), list[F.Frame]()
        while len(got) < want:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if isinstance(event, WebTransportStreamDataReceived) and event.stream_id == stream:
                got += decoder.feed(event.data)
                if event.stream_ended:
                    return got, True
        return got, False


    async def line(self, stream: int) -> tuple[bytes, bytes, bool]:
        """The first line on ``stream``, the bytes after it, and if the stream ended."""
        got = b""
        while b"\n" not in got:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if isinstance(event, WebTransportStreamDataReceived) and event.stream_id == stream:
                got += event.data
                if event.stream_ended:
                    return *got.partition(b"\n")[::2], True
        first, _, rest = got.partition(b"\n")
        return first, rest, False


@pytest.fixture
def web(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebHost]:
    """A web host; its transport is ``request.param`` if given, else auto."""
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": []}, {"out": "producer"},
                  transport=getattr(request, "param", "auto"), start=False) as host:
        yield host


async def _dial(web: WebHost, path: str, token: str, chunked: bool,
                then: list[bytes]) -> tuple[bytes, list[F.Frame], bool]:
    """CONNECT, a stream, a HELLO (one byte a chunk if ``chunked``), then each of
    ``then`` after the first answer: the status, the frames answered, if it ended."""
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                            max_datagram_frame_size=65536)
    async with connect(web.wt.host, web.wt.port, configuration=cfg,
                       create_protocol=Client) as client:
        assert isinstance(client, Client)
        session, status = await client.session(f"127.0.0.1:{web.wt.port}", path)
        if status != b"200":
            return status, [], True
        stream = client.stream(session)
        hello = F.hello(1, 1, 64, 7, b"out", token.encode())
        for piece in ([hello[i:i + 1] for i in range(len(hello))] if chunked else [hello]):
            client.write(stream, piece)
        got, ended = await client.frames(stream, 1)
        for data in then:
            client.write(stream, data)
            more, ended = await client.frames(stream, 1)
            got += more
        return status, got, ended


def test_a_stream_cut_into_bytes_is_welcomed_and_its_data_lands_in_the_ring(
        web: WebHost) -> None:
    payload = b"".join(i.to_bytes(8, "little") for i in range(3))
    batch = F.data(0, array("I", [8, 8, 8]), payload)
    token = tab_token(web, ("producer",))
    status, got, _ = asyncio.run(_dial(web, "/nanonet/out", token, True, [batch]))
    assert status == b"200"
    assert [f.kind for f in got] == [F.Kind.WELCOME, F.Kind.ACK]
    assert got[0].fields[-1] == 0 and got[1].fields[0] == 3  # from 0; acknowledged to 3
    assert web.mesh.reader("out").recv_many(10, timeout=5) == [payload[i:i + 8]
                                                                for i in (0, 8, 16)]
    assert web.via["out"] == "webtransport"


def test_a_forged_token_is_refused_on_the_stream(web: WebHost) -> None:
    forged = "forged." + tab_token(web, ("producer",))
    status, got, ended = asyncio.run(_dial(web, "/nanonet/out", forged, False, []))
    assert status == b"200" and ended
    assert [f.kind for f in got] == [F.Kind.REFUSE]
    code, reason = F.parse_refuse(got[0])
    assert code == F.Refusal.AUTH and reason
    assert web.refusals and "tunnel 'out'" in web.refusals[0]


def test_a_path_that_is_no_bridge_gets_404(web: WebHost) -> None:
    status, _, _ = asyncio.run(_dial(web, "/elsewhere", tab_token(web, ("producer",)), False, []))
    assert status == b"404"


def test_the_pinned_certificate_is_p256_valid_under_14_days(web: WebHost) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = web.wt.certificate.cert
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life.total_seconds() < 14 * 86400
    info = web.wt.info()
    assert info["sha256"] == hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert info["url"] == f"https://127.0.0.1:{web.wt.port}/nanonet/"


async def _control_reply(web: WebHost) -> dict[str, Any]:
    """What the control channel answers a good token (as the page sends it)."""
    async with ws_connect(f"ws://127.0.0.1:{web.port}/nanonet-tab") as ws:
        await ws.send(json.dumps({"token": tab_token(web, ("producer",))}))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        return reply


@pytest.mark.parametrize("web", ["auto", "webtransport", "websocket"], indirect=True)
def test_the_control_reply_tells_the_page_the_transport_and_the_hash(web: WebHost) -> None:
    reply = asyncio.run(_control_reply(web))
    assert reply["ok"] and reply["transport"] == web.transport
    if web.transport == "websocket":
        assert web.wt is None and reply["webtransport"] is None
    else:
        assert reply["webtransport"] == web.wt.info()
        assert web.wt.port == web.port  # the UDP port beside the page's TCP one (it was free)


def test_the_manifest_takes_web_transport_and_refuses_another(tmp_path: Path) -> None:
    from nanonet.errors import NanonetError

    path = tmp_path / "nanonet.toml"
    assert load_manifest(_with(path, "")).table.web.transport == "auto"  # type: ignore[union-attr]
    got = load_manifest(_with(path, 'transport = "websocket"\n')).table.web
    assert got is not None and got.transport == "websocket"
    with pytest.raises(NanonetError, match="transport"):
        load_manifest(_with(path, 'transport = "carrier-pigeon"\n'))


def _with(path: Path, line: str) -> Path:
    path.write_text(TAB_PRODUCER.replace('browsers = ["tab"]\n', f'browsers = ["tab"]\n{line}'))
    return path


RELAY = Path(__file__).resolve().parent / "guests" / "batch_relay.wat"
FEEDING = f"""
[web]
browsers = ["tab"]

[tunnels.in]
writer = "host"
reader = "relay"
max_payload = 64

[tunnels.back]
writer = "relay"
reader = "host"
max_payload = 64

[services.relay]
source = "{RELAY}"
node = "tab"
"""


@pytest.fixture
def feeding(tmp_path: Path) -> Iterator[WebHost]:
    """A started web host whose tab would read ``in`` (its relay) and write ``back``."""
    with tab_host(tmp_path, FEEDING, {"relay": []}, {"back": "relay"},
                  readers_of={"in": "relay"}) as host:
        yield host


async def _feed(web: WebHost, token: str) -> tuple[bytes, list[F.Frame], bool]:
    """Dial ``in``'s feed as the tab does: the host's answer line, the frames
    after it, and if the stream ended."""
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                            max_datagram_frame_size=65536)
    async with connect(web.wt.host, web.wt.port, configuration=cfg,
                       create_protocol=Client) as client:
        assert isinstance(client, Client)
        session, status = await client.session(f"127.0.0.1:{web.wt.port}", "/nanonet-feed/in")
        assert status == b"200"
        stream = client.stream(session)
        client.write(stream, json.dumps({"token": token}).encode() + b"\n")
        answer, rest, ended = await client.line(stream)
        return answer, F.FrameDecoder().feed(rest), ended


def test_a_feed_over_webtransport_refuses_a_forged_token(feeding: WebHost) -> None:
    forged = "forged." + tab_token(feeding, ("relay",))
    assert asyncio.run(_feed(feeding, forged)) == (b"refused", [], True)
    assert feeding.refusals and "tunnel 'in'" in feeding.refusals[0]
