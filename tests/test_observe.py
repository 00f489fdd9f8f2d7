"""Observability: exact counters, latency samples, spans, the tap, replay, metrics."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from conftest import call, guest
from nanonet import Mesh, __version__
from nanonet.observe import Observer, PcapngWriter, TapFilter, read_packets
from nanonet.observe.hook import mesh_name
from nanonet.observe.latency import LatencySampler
from nanonet.observe.pcapng import PcapngError
from nanonet.observe.top import render
from nanonet.observe.traces import provider
from nanonet.observe.units import byte_rate, size
from nanonet.policy.policy import Restart, RestartPolicy
from nanonet.ring import layout as L
from nanonet.ring.memory import RingMemory
from nanonet.runtime.lifecycle import State

SRC_GUESTS = Path(__file__).resolve().parent.parent / "src" / "nanonet" / "guests"
SIZE = 64


def _expected(i: int, size: int = SIZE) -> bytes:
    return struct.pack("<Q", i) + bytes(size - 8)


def _stream_mesh(count: int, slots: int = 256) -> Mesh:
    mesh = Mesh()
    mesh.tunnel("stream", slots=slots, max_payload=SIZE)
    prod = mesh.service("producer", SRC_GUESTS / "producer.wat", writes=["stream"])
    check = mesh.service("checker", SRC_GUESTS / "checker.wat", reads=["stream"])
    call(prod, "configure", count, SIZE)
    call(check, "configure", SIZE)
    return mesh


def test_counters_match_exactly_what_was_sent() -> None:
    count = 30_000
    with _stream_mesh(count) as mesh, Observer(mesh) as obs:
        mesh.start()
        assert mesh.wait(60)
        snap = obs.fresh()
    (t,) = snap.tunnels
    assert (t.sent, t.received, t.bytes_in, t.bytes_out) == (count, count, count * SIZE,
                                                             count * SIZE)
    assert t.fill == 0 and t.closed and t.writer == "producer" and t.reader == "checker"
    states = {s.name: (s.state, s.restarts, s.traps) for s in snap.services}
    assert states == {"producer": ("stopped", 0, {}), "checker": ("stopped", 0, {})}
    # a page of memory at least, plus the tables at their cost per element
    assert all(s.memory_bytes and s.memory_bytes >= 65536 for s in snap.services)


def test_rates_come_from_successive_polls() -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t", slots=64, max_payload=16)
        w, r = mesh.writer("t"), mesh.reader("t")
        obs.poll()
        w.send_many([b"x" * 10] * 50)
        assert len(r.recv_many(100, timeout=10)) == 50
        (t,) = obs.poll().tunnels
    assert t.received == 50 and t.msgs_per_s > 0 and t.bytes_per_s > 0


def test_top_shows_sizes_and_rates_in_binary_units() -> None:
    assert [size(512), size(1536), size(3 << 20), size(5 << 30), size(None)] == [
        "512 B", "1.5 KiB", "3.00 MiB", "5.00 GiB", "-"]
    with _stream_mesh(2_000) as mesh, Observer(mesh) as obs:
        obs.poll()
        mesh.start()
        assert mesh.wait(60)
        snap = obs.poll().to_json()
    (t,) = snap["tunnels"]
    assert t["bytes_per_s"] > 0 and "mb_per_s" not in t  # base units in the snapshot
    console = Console(record=True, width=220)
    console.print(render(snap))
    text = console.export_text()
    assert "bytes/s" in text and byte_rate(t["bytes_per_s"]) in text
    for s in snap["services"]:
        assert re.fullmatch(r"[\d.]+ (KiB|MiB)", size(s["memory_bytes"]))
        assert size(s["memory_bytes"]) in text


def _put_sample(ring: RingMemory, index: int, counter: int, ns: int) -> None:
    off = L.OFF_LATENCIES + index * L.SAMPLE_ENTRY
    ring.put_u64(off + 8, ns)
    ring.put_u64(off, counter)


def test_latency_samples_are_counted_once_and_checked() -> None:
    with Mesh() as mesh:
        ring = mesh.tunnel("t", slots=64, max_payload=16).ring
        sampler = LatencySampler(ring)
        assert sampler.poll() == [] and sampler.percentile(50) is None
        _put_sample(ring, 0, 0, 1_000)
        _put_sample(ring, 1, 1024, 3_000)
        assert sampler.poll() == [(0, 1_000), (1024, 3_000)]
        assert sampler.poll() == []  # nothing new: nothing counted twice
        _put_sample(ring, 0, 16 * 1024, 2_000)  # entry 0 reused by a later sample
        _put_sample(ring, 2, 1024, 9_999)  # a counter that does not belong to entry 2
        _put_sample(ring, 3, 3 * 1024 + 1, 9_999)  # not a sampled counter
        assert sampler.poll() == [(16 * 1024, 2_000)]
        assert sampler.samples == 3
        assert sampler.percentile(50) == 2_000
        obs = Observer(mesh)
        obs.samplers["t"] = sampler
        (t,) = obs.fresh().tunnels
        obs.close()
    assert t.latency_samples == 3 and t.p50_ns == 2_000
    assert t.p99_ns is not None and abs(t.p99_ns - 3_000) <= 3  # 3 significant digits


def test_lifecycle_spans_for_start_trap_restart_and_failure() -> None:
    spans = InMemorySpanExporter()
    with Mesh() as mesh:
        mesh.tunnel("go", slots=4, max_payload=16)
        policy = RestartPolicy(Restart.ON_FAILURE, max_restarts=2, initial_ms=1, max_ms=2)
        svc = mesh.service("boom", guest("trapper"), reads=["go"], restart=policy)
        obs = Observer(mesh, tracer_provider=provider(spans))
        w = mesh.writer("go")
        mesh.start()
        obs.poll()
        w.send(b"now", timeout=10)
        assert svc.join(20)
        obs.poll()
        obs.close()
    assert svc.state is State.FAILED
    by_name: dict[str, list[ReadableSpan]] = {}
    for s in spans.get_finished_spans():
        by_name.setdefault(s.name, []).append(s)
    assert len(by_name["trap"]) == 3 and len(by_name["restart"]) == 2
    (root,) = by_name["service boom"]
    assert root.attributes is not None and root.attributes["nanonet.final_state"] == "failed"
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id
               for s in by_name["trap"])
    first_trap = by_name["trap"][0].attributes
    assert first_trap is not None and first_trap["nanonet.trap.cause"] == "unreachable executed"


def test_spans_are_filed_under_the_mesh_name_and_version(tmp_path: Path) -> None:
    spans = InMemorySpanExporter()
    with Mesh() as mesh:
        mesh.tunnel("go", slots=4, max_payload=16)
        svc = mesh.service("boom", guest("trapper"), reads=["go"])
        obs = Observer(mesh, name="telemetry", traces=spans)
        mesh.start()
        mesh.writer("go").send(b"now", timeout=10)
        assert svc.join(20)
        obs.close()
    finished = spans.get_finished_spans()
    assert {s.name for s in finished} >= {"service boom", "trap"}
    for s in finished:
        assert s.resource.attributes["service.name"] == "telemetry"
        assert s.resource.attributes["service.version"] == __version__
    assert obs.snapshot().name == "telemetry"
    (tmp_path / "nanonet.toml").touch()
    assert mesh_name(tmp_path / "nanonet.toml") == tmp_path.name  # the manifest's directory
    assert mesh_name(tmp_path / "edge.toml") == "edge"


# -- pcapng -------------------------------------------------------------------
def test_pcapng_round_trip_and_refuses_garbage() -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf, "raw")
    msgs = [b"", b"a", b"abcd", bytes(range(255))]
    for i, m in enumerate(msgs):
        w.write(m, 1_700_000_000_123_456_789 + i)
    got = list(read_packets(io.BytesIO(buf.getvalue())))
    assert [p.data for p in got] == msgs and {p.interface for p in got} == {"raw"}
    assert got[0].ts_ns == 1_700_000_000_123_456_789
    data = buf.getvalue()
    for bad in (data[:-3], b"\0" * 32, data[:8] + b"\xff\xff\xff\xff" + data[12:]):
        with pytest.raises(PcapngError):
            list(read_packets(io.BytesIO(bad)))


def _tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (scripts/setup installs it from Debian)")
    return path


def _tshark_payloads(path: Path) -> list[bytes]:
    out = subprocess.run([_tshark(), "-r", str(path), "-T", "fields", "-e", "data.data"],
                         capture_output=True, text=True, timeout=60, check=True)
    return [bytes.fromhex(line.replace(":", "")) for line in out.stdout.splitlines()]


# -- the tap ---------------------------------------------------------------------
def test_tap_captures_exactly_what_passed_and_tshark_reads_it(tmp_path: Path) -> None:
    count, out = 20_000, tmp_path / "stream.pcapng"
    with _stream_mesh(count, slots=64) as mesh, Observer(mesh) as obs:
        tap = obs.tap("stream", out)  # attached before the producer starts: it sees all
        mesh.start()
        assert mesh.wait(60)
        assert tap.wait(30) and tap.error is None
        (t,) = obs.fresh().tunnels
    with open(out, "rb") as f:
        got = [p.data for p in read_packets(f)]
    assert t.received == count and len(got) == count
    for i, data in enumerate(got):
        assert data == _expected(i), f"message {i} differs"
    assert _tshark_payloads(out)[:100] == got[:100]
    info = subprocess.run([_tshark(), "-r", str(out), "-c", "1", "-T", "fields", "-e",
                           "frame.interface_name", "-e", "frame.len"], capture_output=True,
                          text=True, timeout=60, check=True).stdout.split()
    assert info == ["stream", str(SIZE)]


def test_tap_sample_and_stream_filters(tmp_path: Path) -> None:
    """A stream filter is lossless; a sampled tap never holds the writer, so it
    keeps whole messages of the sampled counters it copied in time and counts
    the rest as missed."""
    count = 5_000
    for flt, want in ((TapFilter(sample=100), [i for i in range(count) if i % 100 == 0]),
                      (TapFilter(stream=7), [7])):
        buf = io.BytesIO()
        with _stream_mesh(count) as mesh, Observer(mesh) as obs:
            tap = obs.tap("stream", buf, flt)
            mesh.start()
            assert mesh.wait(60) and tap.wait(30)
        got = list(read_packets(io.BytesIO(buf.getvalue())))
        assert [p.data for p in got] == [_expected(p.packet_id or 0) for p in got]
        ids = [p.packet_id or 0 for p in got]
        if flt.sample == 1:
            assert ids == want
        else:
            assert set(ids) <= set(want) and ids == sorted(ids)
            assert tap.seen + tap.missed == count


def test_replay_delivers_the_same_bytes(tmp_path: Path) -> None:
    cap = tmp_path / "cap.pcapng"
    msgs = [struct.pack("<I", i % 3) + bytes([i % 251]) * (i % 40) for i in range(300)]
    with open(cap, "wb") as f:
        w = PcapngWriter(f, "in")
        for i, m in enumerate(msgs):
            w.write(m, time.time_ns() + i)
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("in", slots=512, max_payload=64)
        reader = mesh.reader("in")
        assert obs.replay(cap, "in") == len(msgs)
        assert reader.recv_many(1000, timeout=10) == msgs
