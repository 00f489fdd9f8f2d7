"""The tap on a bridged tunnel, at either end: on the writer's node (where
the bridge is the ring's reader) and on the reader's node (where the bridge
is its writer), a lossless tap sees every message in order, and the stream
still arrives whole: the bridge's credit leaves room for the tap's cursor."""

from __future__ import annotations

import asyncio
import io
from array import array
from collections.abc import Iterator

import pytest

from bridge_ends import Nodes, close_nodes, mem_pair, nodes, stream
from nanonet.observe import Observer, read_packets

COUNT = 20_000


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes(slots=64)
    yield n
    close_nodes(n)


def _numbers(capture: bytes) -> list[int]:
    return [array("Q", p.data)[0] for p in read_packets(io.BytesIO(capture))]


@pytest.mark.parametrize("side", ["writer's node", "reader's node"])
def test_a_lossless_tap_on_a_bridged_tunnel_sees_every_message(pair: Nodes, side: str) -> None:
    mesh = pair.a if side == "writer's node" else pair.b
    out = io.BytesIO()
    with Observer(mesh) as obs:
        tap = obs.tap("t", out)
        a, b = mem_pair()
        asyncio.run(stream(pair, COUNT, a, b))
        obs.stop_tap(tap)
    assert pair.got[0] == COUNT
    assert _numbers(out.getvalue()) == list(range(COUNT))
