"""A refused bridge says what fixes it, by the refusal's code: a far node of
another release (no common protocol version) is told to run one release, a
wrong token to share one token, another tunnel shape to share one manifest.
The far side here is a real WebSocket listener that refuses every hello as a
node speaking the next protocol version would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from websockets.asyncio.server import ServerConnection, serve

from bridge_ends import TIMING, Nodes, close_nodes, nodes
from nanonet.bridge import frames as F
from nanonet.bridge.natsd import free_port
from nanonet.bridge.pump import SendPump, refusal_fix
from nanonet.bridge.ws import dial_ws
from nanonet.errors import BridgeRefused

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes()
    yield n
    close_nodes(n)


async def _newer_release(ws: ServerConnection) -> None:
    """Answer every hello as a node that speaks only the next version."""
    async for _ in ws:
        await ws.send(F.refuse(F.Refusal.VERSION, f"versions {F.VERSION}..{F.VERSION} "
                               f"offered, {F.VERSION + 1} spoken here"))


def test_a_far_node_of_another_release_is_refused_naming_the_fix(pair: Nodes) -> None:
    async def go() -> None:
        port = free_port()
        async with serve(_newer_release, "127.0.0.1", port):
            link, pull = await dial_ws("127.0.0.1", port, "t")
            with pytest.raises(BridgeRefused, match="run the same nanonet release on both nodes"):
                await asyncio.wait_for(SendPump(pair.peeker(), link, "t", b"k", TIMING).run(), 30)
            await link.close()
            pull.cancel()
    asyncio.run(go())
    assert pair.a.tunnels["t"].ring.tail() == 0  # nothing was committed


def test_each_refusal_code_names_its_own_fix() -> None:
    assert "--token-file" in refusal_fix(F.Refusal.AUTH)
    assert f"bridge protocol {F.VERSION}" in refusal_fix(F.Refusal.VERSION)
    assert "same manifest" in refusal_fix(F.Refusal.TUNNEL)
