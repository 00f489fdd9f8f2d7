"""A lossless tap at a full ring's pace, and what it hands its output.

A lossless tap of one tunnel builds each look's blocks in Wasm and, for a
file, writes them straight from the builder's memory, which the next look
overwrites; any other output is handed ``bytes`` it may keep. These tests run
a Wasm producer into a 4096-slot ring (every look a large batch, the writer
held on a full ring again and again) and count every sequence number in the
capture, once through a file and once through a sink that keeps each write;
and pin a sampled tap's pause between looks (a share of a core, bounded).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from conftest import call
from nanonet import Mesh
from nanonet.observe import Observer, PcapngWriter, read_packets
from nanonet.observe import tappace as tapmod
from test_observe import SIZE, SRC_GUESTS, _expected

COUNT, SLOTS = 60_000, 4096


class KeepingSink:
    """Keeps every write as given: a view that changed later would show here."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.writes.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def _run(out: io.IOBase | KeepingSink | Path) -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("stream", slots=SLOTS, max_payload=SIZE)
        prod = mesh.service("producer", SRC_GUESTS / "producer.wat", writes=["stream"])
        check = mesh.service("checker", SRC_GUESTS / "checker.wat", reads=["stream"])
        call(prod, "configure", COUNT, SIZE)
        call(check, "configure", SIZE)
        tap = obs.tap("stream", out)  # attached before the producer starts: it sees all
        mesh.start()
        assert mesh.wait(60)
        assert tap.wait(30) and tap.error is None
        assert call(check, "received") == COUNT and tap.seen == tap.kept == COUNT


def _assert_every_message(capture: bytes) -> None:
    got = list(read_packets(io.BytesIO(capture)))
    assert [p.packet_id for p in got] == list(range(COUNT))  # none lost, none twice
    assert all(p.data == _expected(i) for i, p in enumerate(got))


def test_a_lossless_tap_to_a_file_has_every_message_of_full_ring_batches(
        tmp_path: Path) -> None:
    out = tmp_path / "stream.pcapng"
    _run(out)
    _assert_every_message(out.read_bytes())


def test_an_output_that_keeps_its_writes_is_handed_bytes() -> None:
    sink = KeepingSink()
    _run(sink)
    assert sink.writes and all(type(w) is bytes for w in sink.writes)
    _assert_every_message(b"".join(sink.writes))


def test_only_a_file_is_handed_views() -> None:
    assert PcapngWriter(io.BytesIO(), "t").takes_views
    assert not PcapngWriter(KeepingSink(), "t").takes_views


def test_a_sampled_taps_pause_keeps_its_looks_to_a_share_of_a_core() -> None:
    assert tapmod.skip_pause(0.0) == tapmod.SKIP_NAP  # a cheap look: the usual pace
    spent = 4 * tapmod.SKIP_NAP * tapmod.SKIP_SHARE  # a look 4x dearer than the share allows
    assert tapmod.skip_pause(spent) == spent / tapmod.SKIP_SHARE
    assert tapmod.skip_pause(1.0) == tapmod.SKIP_NAP_MAX  # a stalled machine: still looks


def test_a_lossless_tap_yields_after_a_full_batch_and_naps_once_idle() -> None:
    pace = tapmod.Pace(holds=True, stop=threading.Event())
    pace.batch(fill=1.0, spent=0.0)  # the writer it held refills the ring: no nap yet
    for _ in range(tapmod.FLOW_YIELDS):
        pace.empty()
    assert pace.flowing and pace.nap == tapmod.FIRST_NAP
    for _ in range(4):  # no batch came: naps, growing
        pace.empty()
    assert pace.nap > tapmod.FIRST_NAP
    pace.batch(fill=0.01, spent=0.0)  # a trickle: it naps after each batch instead
    assert not pace.flowing and pace.nap == tapmod.FIRST_NAP
