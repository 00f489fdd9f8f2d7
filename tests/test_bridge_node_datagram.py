"""Two node processes over QUIC with a lossy UDP relay between them, one
manifest with a ``delivery = "datagram"`` tunnel and a reliable one: the
datagram tunnel's delivered + missed == sent, the reliable one arrives
whole and in order (the checker guest verifies every sequence number), and
node b's link line, /metrics and ``nanonet top`` count the missed messages."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nanonet.bridge.linkstats import LinkStats
from nanonet.bridge.natsd import free_port
from nanonet.bridge.placement import lines
from nanonet.manifest.manifest import load_manifest
from nanonet.manifest.schema import TunnelTable
from nanonet.observe.metrics import _link_families
from nanonet.observe.topmodel import pattern_lines
from two_nodes import GUESTS
from udp_relay import UdpRelay

COUNT = int(20_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("ethernet_sized_quic")]
MANIFEST = """
[mesh]
name = "dgram"

[tunnels.sure]
writer = "producer"
reader = "checker"
max_payload = 64

[tunnels.lossy]
writer = "lossy_producer"
reader = "counter"
max_payload = 64
delivery = "datagram"

[services.producer]
source = "producer.wat"
names = {{ stream = "sure" }}

[services.lossy_producer]
source = "producer.wat"
names = {{ stream = "lossy" }}

[services.checker]
source = "checker.wat"
node = "b"
names = {{ stream = "sure" }}

[services.counter]
source = "fan_sink.wat"
node = "b"
names = {{ stream = "lossy" }}
"""


def _scene(tmp: Path) -> Path:
    wat = (GUESTS / "producer.wat").read_text()
    (tmp / "producer.wat").write_text(wat.replace("(i64.const 1000000)", f"(i64.const {COUNT})"))
    for sink in ("checker.wat", "fan_sink.wat"):  # in order, gap-free; or just counting
        (tmp / sink).write_text((GUESTS / sink).read_text())
    (tmp / "nanonet.toml").write_text(MANIFEST.format())
    (tmp / "token").write_text("t")
    return tmp / "nanonet.toml"


def _nanonet(*args: str, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args, "--token-file",
                             str(tmp / "token"), "--timeout", "60"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Relay:
    """The lossy relay on its own loop and thread, for as long as the test."""

    def __init__(self, server_port: int, drop: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay = asyncio.run_coroutine_threadsafe(
            UdpRelay(("127.0.0.1", server_port), drop).start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _close(self) -> None:
        self.relay.close()
        for _ in range(3):  # a transport closes on the loop's next turns
            await asyncio.sleep(0)


def test_a_datagram_tunnel_from_the_manifest_counts_its_losses_over_a_lossy_relay(
        tmp_path: Path) -> None:
    path = _scene(tmp_path)
    port = free_port()
    relay = Relay(port, drop=0.03)
    try:
        b = _nanonet("node", "--name", "b", "--listen", f"127.0.0.1:{port}", str(path),
                     tmp=tmp_path)
        main = _nanonet("run", "--peer", f"b=127.0.0.1:{relay.relay.port}", str(path),
                        tmp=tmp_path)
        out_b, err_b = b.communicate(timeout=90)
        out_main, err_main = main.communicate(timeout=30)
    finally:
        relay.stop()
    everything = out_b + err_b + out_main + err_main
    assert main.returncode == 0, everything
    assert re.search(r"checker\s+stopped\s+0\s", out_b), everything  # sure: whole, in order
    assert re.search(r"counter\s+stopped\s+0\s", out_b), everything
    assert re.search(rf"sure\s+{COUNT:,}\s+{COUNT:,}\s", out_b), everything
    assert re.search(rf"lossy\s+{COUNT:,}\s", out_main), everything
    line = re.search(r"node b: link lossy \(receive, quic\): .*missed ([\d,]+) \(datagram\)",
                     err_b)
    assert line, err_b
    missed = int(line.group(1).replace(",", ""))
    got = re.search(r"lossy\s+([\d,]+)\s", out_b)
    assert got, out_b
    delivered = int(got.group(1).replace(",", ""))
    print(f"relay dropped {relay.relay.dropped} of {relay.relay.dropped + relay.relay.passed}"
          f" packets: delivered {delivered}, missed {missed} of {COUNT}")
    assert relay.relay.dropped > 0 and missed > 0
    assert delivered + missed == COUNT
    assert "link sure (receive, quic)" in err_b and "missed" not in \
        next(x for x in err_b.splitlines() if "link sure (receive" in x)


def test_a_datagram_link_shows_its_missed_count_in_metrics_and_top() -> None:
    lossy = LinkStats("lossy", "receive", "quic", "open", None, 0, 0, 0, 0, 10, 20,
                      missed=17, delivery="datagram").to_json()
    sure = LinkStats("sure", "receive", "quic", "open", None, 0, 0, 0, 0, 10, 20).to_json()
    fam = next(f for f in _link_families([lossy, sure]) if f.name == "nanonet_link_missed")
    assert fam.type == "counter"
    assert [(s.labels["tunnel"], s.value) for s in fam.samples
            if s.name.endswith("_total")] == [("lossy", 17), ("sure", 0)]
    snap = {"services": [], "links": [lossy, sure]}
    assert pattern_lines(snap) == [
        "link lossy (receive, quic): open, rtt -, in flight 0, retransmits 0, reconnects 0, "
        "10 B out, 20 B in, missed 17 (datagram)",
        "link sure (receive, quic): open, rtt -, in flight 0, retransmits 0, reconnects 0, "
        "10 B out, 20 B in"]


@pytest.mark.parametrize("keys, why", [
    ({"writer": "a", "reader": "b", "delivery": "datagrams"}, "is not a delivery; write"),
    ({"writer": "a", "reader": "b", "durable": True, "delivery": "datagram"},
     "not durable"),
    ({"writer": "a", "subscribers": ["b"], "delivery": "datagram"}, "one-writer, one-reader"),
])
def test_delivery_takes_stream_or_datagram_on_one_writer_and_one_reader(
        keys: dict[str, object], why: str) -> None:
    assert TunnelTable.model_validate({"writer": "a", "reader": "b"}).delivery == "stream"
    with pytest.raises(ValueError, match=why):
        TunnelTable.model_validate(keys)


def test_check_says_a_datagram_tunnel_stays_reliable_off_quic(tmp_path: Path) -> None:
    path = _scene(tmp_path)
    said = "\n".join(lines(load_manifest(path).table))
    assert "lossy: lossy_producer on main -> counter on b (datagram: loss allowed, counted, " \
           "over QUIC; reliable over NATS, WebSocket or memory)" in said, said
    assert "sure: producer on main -> checker on b\n" in said + "\n", said
