"""One contract, every guest language: the relay world run on C, Python and JavaScript.

Each guest (src/nanonet/examples/relay/) is built by nanonet's own build step
(cached: from clean, ~15 s for all three, built side by side; skipped where its
toolchain is not installed), loaded as a component service of a mesh, its ``forward`` import
wired to a tunnel and its ``receive-stream`` import to a Python function, and
put through the same tests.
"""

from __future__ import annotations

import functools
import struct
import sys
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from builds import side_by_side
from js_toolchain import javascript_missing
from nanonet.component import Err, Ok
from nanonet.examples.relay import LANGUAGES, build
from nanonet.mesh import Mesh
from nanonet.toolchain.build import Built


def _missing(language: str) -> str | None:
    """Why ``language``'s toolchain is not here, or None if it is."""
    if language == "python":
        if not Path(sys.executable).with_name("componentize-py").exists():
            return "componentize-py is not installed (pip install 'nanonet[components]')"
        return None
    return javascript_missing()


def packet(stream_id: int, payload: bytes, timestamp: int = 0) -> dict[str, Any]:
    return {"stream-id": stream_id, "timestamp": timestamp, "payload": payload}


class Relay:
    """One guest in a mesh: ``forward`` goes to tunnel "out", ``receive-stream``
    answers with (and empties) ``edge``."""

    def __init__(self, mesh: Mesh, wasm: Path, wasi: bool) -> None:
        self.edge: list[dict[str, Any]] = []
        self.calls = 0
        mesh.tunnel("out", slots=256, max_payload=256)  # room for every message of a test
        self.out = mesh.reader("out")
        self.service = mesh.component("relay", wasm, wasi=wasi, imports={
            "forward": "tunnel:out", "receive-stream": self._receive_stream})
        mesh.start()

    def _receive_stream(self) -> list[dict[str, Any]]:
        self.calls += 1
        got, self.edge[:] = list(self.edge), []
        return got

    def __call__(self, fname: str, *args: Any) -> Any:
        return self.service.call(fname, *args, timeout=60)  # a watchdog, not a duration check

    def forwarded(self) -> list[tuple[int, bytes]]:
        """Close the relay, so the tunnel ends, and decode every message it carried."""
        self.service.close()
        msgs = list(self.out)
        return [(sid, m[8:8 + n]) for m in msgs for sid, n in [struct.unpack_from("<II", m)]]


@pytest.fixture(scope="module")
def relay_builds() -> Iterator[dict[str, Future[Built]]]:
    """Every language whose toolchain is here, built side by side once."""
    here = {lang: functools.partial(build, lang) for lang in LANGUAGES if _missing(lang) is None}
    with side_by_side(here) as started:
        yield started


@pytest.fixture(scope="module", params=LANGUAGES)
def relay_wasm(request: pytest.FixtureRequest,
               relay_builds: dict[str, Future[Built]]) -> tuple[str, Path]:
    language: str = request.param
    if (why := _missing(language)) is not None:
        pytest.skip(why)
    return language, relay_builds[language].result().path


@pytest.fixture
def relay(relay_wasm: tuple[str, Path]) -> Iterator[Relay]:
    language, wasm = relay_wasm
    with Mesh() as mesh:
        yield Relay(mesh, wasm, wasi=language == "python")  # componentize-py's runtime needs WASI


def test_transmit_forwards_the_packet_and_says_where_it_went(relay: Relay) -> None:
    assert relay("transmit-packet", packet(7, b"abc", 1 << 40)) == Ok("stream 7: 3 bytes")
    assert relay("transmit-packet", packet(70_000, bytes(200))) == Ok("stream 70000: 200 bytes")
    assert relay.forwarded() == [(7, b"abc"), (70_000, bytes(200))]


def test_a_stream_id_above_two_to_the_31_reaches_the_import_intact(
        relay: Relay, relay_wasm: tuple[str, Path], request: pytest.FixtureRequest) -> None:
    if relay_wasm[0] == "javascript":  # seen with jco 1.34.0 / componentize-js 0.22.0
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "componentize-js lowers a u32 of 2**31 or more passed to an import as 0")))
    assert relay("transmit-packet", packet(4_000_000_000, b"z")) == Ok("stream 4000000000: 1 bytes")
    assert relay.forwarded() == [(4_000_000_000, b"z")]


def test_an_empty_payload_is_refused_and_nothing_is_forwarded(relay: Relay) -> None:
    assert relay("transmit-packet", packet(1, b"")) == Err("empty payload")
    assert relay("transmit-packet", packet(2, b"x")) == Ok("stream 2: 1 bytes")
    assert relay.forwarded() == [(2, b"x")]


def test_receive_keeps_one_stream_in_order_and_unchanged(relay: Relay) -> None:
    relay.edge += [packet(1, b"a", 10), packet(2, b"bb", 20), packet(1, b"ccc", (1 << 64) - 1),
                   packet(3, b"d")]
    assert relay("receive", 1) == Ok([packet(1, b"a", 10), packet(1, b"ccc", (1 << 64) - 1)])
    assert relay.calls == 1 and relay.edge == []
    assert relay("receive", 1) == Ok([])  # nothing new arrived


def test_receive_names_the_packet_with_an_empty_payload(relay: Relay) -> None:
    relay.edge += [packet(5, b"x"), packet(6, b""), packet(5, b"y"), packet(5, b"")]
    assert relay("receive", 5) == Err("packet 3: empty payload")  # stream 6's does not count


def test_many_calls_reuse_the_guests_memory(relay: Relay) -> None:
    for i in range(200):
        relay.edge.append(packet(i % 3, bytes([i % 256]) * (i % 50 + 1)))
        assert relay("transmit-packet", packet(i, bytes(i % 50 + 1))) == Ok(
            f"stream {i}: {i % 50 + 1} bytes")
        want = [packet(i % 3, bytes([i % 256]) * (i % 50 + 1))] if i % 3 == 1 else []
        assert relay("receive", 1) == Ok(want)
    assert len(relay.forwarded()) == 200


def test_each_guest_imports_only_its_world(relay_wasm: tuple[str, Path]) -> None:
    from nanonet.component import load
    from nanonet.host.engine import runtime

    language, wasm = relay_wasm
    own = {n for n in load(runtime(), wasm).imports if not n.startswith("wasi:")}
    assert own == {"forward", "receive-stream", "nanonet:tunnel/types@0.1.0"}
    wasi = {n for n in load(runtime(), wasm).imports if n.startswith("wasi:")}
    assert (wasi != set()) == (language == "python")  # C and JavaScript need no WASI


def test_the_build_is_cached(relay_wasm: tuple[str, Path]) -> None:
    language, wasm = relay_wasm
    again = build(language)
    assert again.cached and again.path == wasm
