"""Each bridged link's figures (state, RTT, in flight, retransmits,
reconnects, duplicates, bytes), from the pumps into the mesh snapshot and
/metrics: a stream over a link that loses 5 % of its wire messages must
show retransmits, both sides' bytes and a measured round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bridge_ends import Nodes, close_nodes, mem_pair, nodes, stream
from nanonet.observe.metrics import exposition, registry
from nanonet.observe.snapshot import take

COUNT = 20_000


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes(slots=256)
    yield n
    close_nodes(n)


def test_a_lossy_stream_shows_in_the_link_figures(pair: Nodes) -> None:
    a, b = mem_pair(drop=0.05)
    asyncio.run(stream(pair, COUNT, a, b))
    send, receive = pair.pumps["send"].stats(), pair.pumps["receive"].stats()
    assert (send.side, send.transport, receive.side) == ("send", "memory", "receive")
    assert send.in_flight == 0 and send.state == "open"
    assert send.retransmits > 0  # 5 % lost: some batches went again
    assert send.rtt_s is not None and send.rtt_s > 0
    assert send.bytes_sent > COUNT * 8 and receive.bytes_received > 0
    assert send.bytes_received > 0 and receive.bytes_sent > 0  # the ACKs back
    assert pair.got[0] == COUNT


def test_links_reach_the_snapshot_and_metrics(pair: Nodes) -> None:
    a, b = mem_pair()
    asyncio.run(stream(pair, 1_000, a, b))
    pair.a.link_statistics = lambda: [pair.pumps["send"].stats().to_json()]
    snap = take(pair.a)
    assert [k["tunnel"] for k in snap.links] == ["t"]
    assert snap.links[0]["bytes_sent"] > 0 and snap.to_json()["links"] == snap.links
    body, _ = exposition(registry(lambda: snap), None)
    text = body.decode()
    assert 'nanonet_link_open{side="send",transport="memory",tunnel="t"} 1.0' in text
    assert 'nanonet_link_retransmits_total{side="send",transport="memory",tunnel="t"} 0.0' \
        in text
    assert "nanonet_link_rtt_seconds{" in text
    assert take(pair.b).links == []  # no bridges on b's mesh here
