"""/metrics as Prometheus reads it: promtool's lint, prometheus_client's own parsers (text
and OpenMetrics), a real latency histogram, the info metrics to join on, quarantine
reasons as text, the Accept negotiation and HEAD."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from nanonet import Mesh, __version__
from nanonet.errors import TunnelCorrupt
from nanonet.observe import Observer
from nanonet.observe.latency import LatencySampler
from nanonet.observe.server import ControlServer
from nanonet.ring import layout as L
from nanonet.ring.memory import RingMemory
from promtool_lint import promtool_check

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
SAMPLES_NS = (1_000, 3_000, 2_000)  # one each below 1 µs + 1 ns, 2.5 µs and 5 µs


def _put_sample(ring: RingMemory, index: int, ns: int) -> None:
    """What a sampling reader adapter leaves in entry ``index`` (its message counter)."""
    off = L.OFF_LATENCIES + index * L.SAMPLE_ENTRY
    ring.put_u64(off + 8, ns)
    ring.put_u64(off, index << L.SAMPLE_SHIFT)


@pytest.fixture
def served() -> Iterator[tuple[Mesh, ControlServer]]:
    """Tunnel "in" (host to host, three latency samples) and "bad" (quarantined)."""
    with Mesh() as mesh:
        ring = mesh.tunnel("in", slots=64, max_payload=32).ring
        bad = mesh.tunnel("bad", slots=8, max_payload=32).ring
        w, r = mesh.writer("in"), mesh.reader("in")
        w.send_many([b"abc"] * 5)
        assert len(r.recv_many(5, timeout=10)) == 5
        for i, ns in enumerate(SAMPLES_NS):
            _put_sample(ring, i, ns)
        bad.put_u64(L.OFF_HEAD, 100)  # head - tail over the slot count: forged counters
        with pytest.raises(TunnelCorrupt):
            mesh.reader("bad").try_recv_many(8)
        with Observer(mesh, name="m1") as obs:
            obs.samplers["in"] = LatencySampler(ring)
            obs.poll()
            yield mesh, obs.serve(port=0)


def _request(server: ControlServer, method: str, path: str,
             accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, headers={"Accept": accept} if accept else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _families(text: str) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_pass_promtool(served: tuple[Mesh, ControlServer]) -> None:
    _status, _headers, body = _request(served[1], "GET", "/metrics")
    promtool_check(body)


def test_latency_is_a_histogram_of_the_samples(served: tuple[Mesh, ControlServer]) -> None:
    _status, _headers, body = _request(served[1], "GET", "/metrics")
    lat = _families(body.decode())["nanonet_tunnel_latency_seconds"]
    assert lat.type == "histogram"
    got = {(s.name, s.labels.get("le")): s.value for s in lat.samples
           if s.labels["tunnel"] == "in"}
    assert got[("nanonet_tunnel_latency_seconds_bucket", "1e-06")] == 1
    assert got[("nanonet_tunnel_latency_seconds_bucket", "2.5e-06")] == 2
    assert got[("nanonet_tunnel_latency_seconds_bucket", "5e-06")] == 3
    assert got[("nanonet_tunnel_latency_seconds_bucket", "+Inf")] == 3
    assert got[("nanonet_tunnel_latency_seconds_count", None)] == 3
    assert got[("nanonet_tunnel_latency_seconds_sum", None)] == pytest.approx(6e-6)
    values = [v for (name, le), v in got.items() if name.endswith("_bucket")]
    assert values == sorted(values)  # cumulative
    assert {s.labels["tunnel"] for s in lat.samples} == {"in"}  # "bad" has no samples
    assert not any("quantile" in s.labels for f in _families(body.decode()).values()
                   for s in f.samples)


def test_info_metrics_and_quarantine_reasons(served: tuple[Mesh, ControlServer]) -> None:
    _status, _headers, body = _request(served[1], "GET", "/metrics")
    fams = _families(body.decode())
    (build,) = fams["nanonet_build_info"].samples
    assert build.labels == {"version": __version__, "wasmtime": version("wasmtime")}
    assert build.value == 1
    ends = {s.labels["tunnel"]: (s.labels["writer"], s.labels["reader"], s.value)
            for s in fams["nanonet_tunnel_info"].samples}
    assert ends == {"in": ("<host>", "<host>", 1), "bad": ("", "<host>", 1)}
    held = {(s.labels["tunnel"], s.labels["reason"]): s.value
            for s in fams["nanonet_tunnel_quarantined"].samples}
    assert held[("bad", "bad_counters")] == 1 and held[("bad", "bad_header")] == 0
    assert not any(held[("in", why)] for why in ("bad_header", "bad_counters", "bad_length"))
    assert "nanonet_tunnel_quarantine" not in fams  # the coded gauge is gone


def test_openmetrics_when_the_scraper_asks(served: tuple[Mesh, ControlServer]) -> None:
    status, headers, body = _request(served[1], "GET", "/metrics", OPENMETRICS)
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    fams = {f.name: f for f in openmetrics_families(text)}  # type: ignore[no-untyped-call]
    assert fams["nanonet_tunnel_latency_seconds"].type == "histogram"
    assert fams["nanonet_build"].type == "info"
    sent = [s.value for s in fams["nanonet_tunnel_sent_messages"].samples
            if s.labels["tunnel"] == "in" and s.name.endswith("_total")]
    assert sent == [5]
    _status, plain, body = _request(served[1], "GET", "/metrics")
    assert plain["content-type"].startswith("text/plain; version=0.0.4")
    assert b"# EOF" not in body


def test_head_answers_headers_without_a_body(served: tuple[Mesh, ControlServer]) -> None:
    server = served[1]
    for path in ("/metrics", "/api/snapshot", "/"):
        status, headers, body = _request(server, "HEAD", path)
        _s, _h, full = _request(server, "GET", path)
        assert (status, body) == (200, b""), path
        assert int(headers["content-length"]) > 0 and headers["content-type"]
        if path == "/":  # the page does not change between two requests
            assert int(headers["content-length"]) == len(full)
    status, headers, _body = _request(server, "HEAD", "/metrics", OPENMETRICS)
    assert headers["content-type"].startswith("application/openmetrics-text")
    status, headers, body = _request(server, "HEAD", "/ws")
    assert (status, body, headers["allow"]) == (405, b"", "GET")
    status, _headers, body = _request(server, "HEAD", "/nothing")
    assert (status, body) == (404, b"")
