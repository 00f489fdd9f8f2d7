"""A QUIC bridge connection's packets grow, once connected, to what the
route to its peer carries: the handshake's stay at QUIC's 1,200 bytes, the
stream's grow to ``LARGEST`` over loopback and to 1,452 bytes over a
1,500-byte veth link, and ``NANONET_QUIC_DATAGRAM`` pins them (a bad value
is refused before anything is dialed). A stream sent in the larger
packets arrives whole and in order; a relay between the ends measures the
packets on the wire."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nanonet.bench.netpair import placed
from nanonet.bridge import quicpath
from nanonet.bridge.natsd import free_port
from nanonet.bridge.quic import QuicDialer, QuicListener, make_certificate
from udp_relay import UdpRelay

pytestmark = pytest.mark.timeout(120)
CHUNK = bytes(range(256)) * 16  # 4 KiB, every byte value
CHUNKS = 256  # 1 MiB


async def _stream_through_relay(folder: Path) -> tuple[UdpRelay, bytes, int]:
    """1 MiB over one QUIC stream through a harmless relay: the relay, the
    bytes the listener's link took, and the dialer's packet size after."""
    cert, key = make_certificate(folder)
    accepted: list[Any] = []
    port = free_port()
    listener = await QuicListener("127.0.0.1", port, cert, key,
                                  lambda name, link: accepted.append(link)).start()
    relay = await UdpRelay(("127.0.0.1", port), 0.0).start()
    dialer = await QuicDialer("127.0.0.1", relay.port, cert).start()
    try:
        link = dialer.open("t")
        for _ in range(CHUNKS):
            await link.send(CHUNK)
        got = bytearray()
        async with asyncio.timeout(60):
            while len(got) < len(CHUNK) * CHUNKS:
                if not accepted:
                    await asyncio.sleep(0.01)
                    continue
                await accepted[0].inbox.wait(1.0)
                while not accepted[0].inbox.empty():
                    got += accepted[0].inbox.take()
        assert dialer.proto is not None
        return relay, bytes(got), dialer.proto._quic._max_datagram_size
    finally:
        await dialer.close()
        listener.close()
        relay.close()


def test_packets_grow_to_the_loopback_route_and_the_stream_arrives_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(quicpath.ENV, raising=False)
    relay, got, size = asyncio.run(_stream_through_relay(tmp_path))
    assert got == CHUNK * CHUNKS
    assert size == quicpath.LARGEST
    assert quicpath.SMALLEST < max(relay.largest) <= quicpath.LARGEST


def test_a_pinned_size_keeps_packets_at_quics_floor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(quicpath.ENV, "1200")
    relay, got, size = asyncio.run(_stream_through_relay(tmp_path))
    assert got == CHUNK * CHUNKS
    assert size == quicpath.SMALLEST
    assert max(relay.largest) == quicpath.SMALLEST


@pytest.mark.parametrize("value", ["big", "900", "70000"])
def test_a_bad_pinned_size_is_refused_before_dialing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(quicpath.ENV, value)
    with pytest.raises(ValueError, match=quicpath.ENV + ".*set it between 1200 and 16000"):
        asyncio.run(QuicDialer("127.0.0.1", free_port(), None).start())


def test_the_route_size_is_the_interfaces_mtu_less_the_headers() -> None:
    assert quicpath.route_payload(("127.0.0.1", 9)) == quicpath.LARGEST
    assert quicpath.route_payload(("::ffff:127.0.0.1", 9, 0, 0)) == quicpath.LARGEST
    with placed() as place:
        if not place.near_ns:
            pytest.skip(f"no network namespaces here: {place.where}")
        code = ("from nanonet.bridge.quicpath import route_payload; "
                f"print(route_payload(({place.far_addr!r}, 9)), "
                f"route_payload(('::ffff:{place.far_addr}', 9, 0, 0)))")
        out = subprocess.run(place.near([sys.executable, "-c", code]), capture_output=True,
                             text=True, timeout=30, check=True)
    assert out.stdout.split() == ["1452", "1452"]  # veth's 1,500 less IPv6 and UDP
