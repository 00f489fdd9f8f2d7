"""Typed tunnels and component calls, every guest language: events of every WIT kind.

Each guest of ``world event-relay`` (src/nanonet/examples/relay/) sends the
``event`` it is given through its ``send`` import, lowered again by its own
bindings. Wired to a tunnel of ``nanonet:tunnel/types.event``, what reaches
the ring must be the event, in its canonical layout: the host's typed reader
gets it back unchanged, and a core guest finds its fields at the documented
offsets. C and JavaScript guests take the Wasm tunnel path (generated Wasm
lays the event out, component/typedglue.py); Python's take the host path.

The same events then go component -> component: a C ``event-front``
composed with each language's ``event-service`` (the relay exported as the
``event-sink`` interface) hands each event across, inside the engine.
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
from hypothesis import given, settings

from builds import side_by_side
from js_toolchain import javascript_missing
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.component.typed import wit_record
from nanonet.component.values import Err, Ok, Variant
from nanonet.errors import LoadError
from nanonet.examples.relay import LANGUAGES, build_event
from nanonet.mesh import Mesh
from nanonet.toolchain.build import Built
from typed_kinds import values

EVENT = "nanonet:tunnel/types.event"
LAYOUT = wit_record(EVENT)

# a core guest: per event, sends id (u64 @0) ++ source (span @8) ++ first tag
# (tags' span @20 names a list of spans, each offset from the message too)
CORE_READER = """(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (data (i32.const 0) "copiedout")  ;; the tunnels it reads and writes
  (func $put (param $at i32) (param $span i32) (result i32)
    (memory.copy (local.get $at) (i32.add (i32.const 1024) (i32.load (local.get $span)))
                 (i32.load offset=4 (local.get $span)))
    (i32.add (local.get $at) (i32.load offset=4 (local.get $span))))
  (func (export "run") (result i32) (local $in i32) (local $out i32) (local $at i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 6)))
    (local.set $out (call $tunnel (i32.const 6) (i32.const 3)))
    (loop $more
      (if (i32.ge_s (call $recv (local.get $in) (i32.const 1024) (i32.const 8192))
                    (i32.const 80)) (then
        (i64.store (i32.const 16384) (i64.load (i32.const 1024)))
        (local.set $at (call $put (i32.const 16392) (i32.const 1032)))
        (if (i32.load (i32.const 1048)) (then
          (local.set $at (call $put (local.get $at)
                                    (i32.add (i32.const 1024) (i32.load (i32.const 1044)))))))
        (drop (call $send (local.get $out) (i32.const 16384)
                          (i32.sub (local.get $at) (i32.const 16384))))
        (br $more))))
    (drop (call $close (local.get $out)))
    (i32.const 0)))"""


def _missing(language: str) -> str | None:
    """Why ``language``'s toolchain is not here, or None if it is."""
    if language == "python":
        if not Path(sys.executable).with_name("componentize-py").exists():
            return "componentize-py is not installed (pip install 'nanonet[components]')"
        return None
    return javascript_missing()


@pytest.fixture(scope="module")
def event_builds() -> Iterator[dict[str, Future[Built]]]:
    """Every language whose toolchain is here, built side by side once."""
    here = {lang: functools.partial(build_event, lang) for lang in LANGUAGES
            if _missing(lang) is None}
    with side_by_side(here) as started:
        yield started


@pytest.fixture(scope="module", params=LANGUAGES)
def guest(request: pytest.FixtureRequest,
          event_builds: dict[str, Future[Built]]) -> tuple[str, Path]:
    language: str = request.param
    if (why := _missing(language)) is not None:
        pytest.skip(why)
    return language, event_builds[language].result().path


class Guest:
    """One language's relay twice in one mesh (compiled once): ``relay`` sends to
    the host's typed reader, ``copy`` to the core guest that reads the layout."""

    def __init__(self, mesh: Mesh, language: str, wasm: Path) -> None:
        self.language = language
        wasi = language == "python"  # componentize-py's runtime needs WASI
        for tunnel in ("events", "copied"):
            mesh.tunnel(tunnel, wit_type=EVENT, slots=16, max_payload=8192)
        mesh.tunnel("out", max_payload=8192)
        self.relay = mesh.component("relay", wasm, imports={"send": "tunnel:events"}, wasi=wasi)
        self.copy = mesh.component("copy", wasm, imports={"send": "tunnel:copied"}, wasi=wasi)
        mesh.service("reader", CORE_READER,
                     reads=["copied"], writes=["out"])
        self.why = paths(mesh)["relay"].why
        self.events, self.out = mesh.typed_reader("events"), mesh.reader("out")
        mesh.start()


@pytest.fixture(scope="module")
def each(guest: tuple[str, Path]) -> Iterator[Guest]:
    with Mesh() as mesh:
        yield Guest(mesh, *guest)


EXAMPLE = {"id": 2**64 - 1, "source": "s\u00e9nsor \U0001f600", "level": "warn",
           "tags": ["a", "", "b\u00e7"], "body": Variant("point", (-(2**31), 2**31 - 1)),
           "reply-to": 65535, "outcome": Err("late"), "marks": frozenset({"urgent", "replayed"}),
           "samples": [{"at": 1, "value": 0.5}, {"at": 2**63, "value": -1.25}]}


def test_the_path_is_the_one_the_guest_allows(each: Guest) -> None:
    if each.language == "python":
        assert not isinstance(each.relay.loaded, RingLoaded)
        assert "WASI" in each.why
    else:
        assert isinstance(each.relay.loaded, RingLoaded), each.why
        assert "'send' -> tunnel 'events' served by generated Wasm on the ring" in each.why


def test_every_event_crosses_unchanged(each: Guest) -> None:
    assert each.relay.call("relay", EXAMPLE, timeout=60) == 3
    assert each.events.recv_value(timeout=60) == EXAMPLE

    @settings(max_examples=40, deadline=None)
    @given(values(LAYOUT.shape))
    def one(event: dict[str, Any]) -> None:
        assert each.relay.call("relay", event, timeout=60) == len(event["tags"])
        assert each.events.recv_value(timeout=60) == event

    one()


def test_a_core_guest_reads_each_languages_events_at_the_documented_offsets(
        each: Guest) -> None:
    events = [EXAMPLE, {**EXAMPLE, "id": 7, "source": "", "tags": [], "body": Variant("empty"),
                        "reply-to": None, "outcome": Ok(3), "marks": frozenset(),
                        "samples": []}]
    for event in events:
        each.copy.call("relay", event, timeout=60)
        tags: list[str] = event["tags"]  # type: ignore[assignment]
        want = struct.pack("<Q", event["id"]) + str(event["source"]).encode() + (
            tags[0].encode() if tags else b"")
        assert bytes(each.out.recv(timeout=60)) == want


# -- component -> component: a C front calls each language's event-sink ----------

SINK = "nanonet:tunnel/event-sink@0.1.0"


@pytest.fixture(scope="module")
def sink_builds() -> Iterator[dict[str, Future[Built]]]:
    """The C front and every language's event-service, built side by side once."""
    here = {lang: functools.partial(build_event, lang, "event-service") for lang in LANGUAGES
            if _missing(lang) is None}
    here["front"] = functools.partial(build_event, "c", "event-front")
    with side_by_side(here) as started:
        yield started


@pytest.fixture(scope="module", params=LANGUAGES)
def composed(request: pytest.FixtureRequest,
             sink_builds: dict[str, Future[Built]]) -> Iterator[tuple[Any, Any]]:
    """The front composed with one language's sink: (front service, typed reader)."""
    language: str = request.param
    if (why := _missing(language)) is not None:
        pytest.skip(why)
    with Mesh() as mesh:
        mesh.tunnel("events", wit_type=EVENT, slots=16, max_payload=8192)
        # alone, the C and JavaScript sinks would take the Wasm tunnel path;
        # composed, their send goes through a host function on the same end
        mesh.component("sink", sink_builds[language].result().path,
                       imports={"send": "tunnel:events"}, wasi=language == "python")
        front = mesh.component("front", sink_builds["front"].result().path,
                               imports={"event-sink": "component:sink"})
        assert "sink" not in mesh.components  # it runs inside the front now
        reader = mesh.typed_reader("events")
        mesh.start()
        yield front, reader


def test_a_component_calls_each_languages_event_sink_and_every_event_crosses(
        composed: tuple[Any, Any]) -> None:
    front, reader = composed
    assert front.call(f"{SINK}#relay", EXAMPLE, timeout=60) == 3
    assert reader.recv_value(timeout=60) == EXAMPLE

    @settings(max_examples=30, deadline=None)
    @given(values(LAYOUT.shape))
    def one(event: dict[str, Any]) -> None:
        assert front.call(f"{SINK}#relay", event, timeout=60) == len(event["tags"])
        assert reader.recv_value(timeout=60) == event

    one()


def test_the_front_without_its_sink_is_a_load_error_naming_the_import(
        sink_builds: dict[str, Future[Built]]) -> None:
    with Mesh() as mesh, pytest.raises(LoadError, match=rf"component 'front' imports "
                                       rf"'{SINK}', which was not granted"):
        mesh.component("front", sink_builds["front"].result().path, imports={})


@pytest.mark.parametrize("language", ["c", "javascript"])
def test_a_guest_exporting_an_interface_takes_the_wasm_path_too(
        language: str, sink_builds: dict[str, Future[Built]]) -> None:
    if (why := _missing(language)) is not None:
        pytest.skip(why)
    with Mesh() as mesh:
        mesh.tunnel("events", wit_type=EVENT, slots=16, max_payload=8192)
        sink = mesh.component("sink", sink_builds[language].result().path,
                              imports={"send": "tunnel:events"})
        # wit-component writes the export as an instance of a shim component
        assert isinstance(sink.loaded, RingLoaded), paths(mesh)["sink"].why
        reader = mesh.typed_reader("events")
        mesh.start()
        assert sink.call(f"{SINK}#relay", EXAMPLE, timeout=60) == 3
        assert reader.recv_value(timeout=60) == EXAMPLE
