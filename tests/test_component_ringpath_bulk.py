"""Exports of ``string`` and ``list<u8>`` on the Wasm tunnel path, as a user reaches them.

The C ``answerer`` (examples/producer) writes a tunnel and exports
``shout(string) -> string`` and ``reverse(list<u8>) -> list<u8>``. Loaded by
``Mesh.component`` with its import wired to a tunnel, it takes the Wasm path
(its exports are called through the core API, ``canon.py``); the same
binary run by wasmtime's component runtime, its import given a Python
function, is the reference: answers and messages must be the same.
``nanonet check`` names the path; ``nanonet run --call`` runs it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonet.cli import main
from nanonet.component.host import load
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.examples.producer import build
from nanonet.host.engine import Runtime
from nanonet.mesh import Mesh
from nanonet.ring.reader import TunnelReader

MAX = 8192  # the tunnel's max payload: 8 bytes of header, then the text or bytes
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


class Reference:
    """The answerer in wasmtime's component runtime; its ``forward`` records messages."""

    def __init__(self, binary: Path) -> None:
        rt = Runtime()
        self.sent: list[bytes] = []
        forward = {"forward": lambda sid, data: self.sent.append(
            struct.pack("<II", sid, len(data)) + bytes(data))}
        self.instance = load(rt, binary.read_bytes()).instantiate(rt.new_store(), forward)

    def call(self, name: str, value: Any) -> tuple[Any, bytes]:
        answer = self.instance.call(name, value)
        return answer, self.sent.pop()


@pytest.fixture(scope="module")
def answerer() -> Path:
    return build("answerer").path


@pytest.fixture(scope="module")
def running(answerer: Path) -> Iterator[tuple[Any, TunnelReader, Reference]]:
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=MAX)
        comp = mesh.component("a", answerer, imports={"forward": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["a"].why
        assert paths(mesh)["a"].why.startswith("Wasm path: 'forward' -> tunnel 'out'")
        out = mesh.reader("out")
        mesh.start()
        yield comp, out, Reference(answerer)
        comp.close()


def _both(running: tuple[Any, TunnelReader, Reference], name: str, value: Any) -> Any:
    comp, out, reference = running
    answer = comp.call(name, value, timeout=60)
    message = bytes(out.recv(timeout=60))
    assert (answer, message) == reference.call(name, value)
    return answer


@SETTINGS
@given(st.text(max_size=(MAX - 8) // 4))
def test_a_string_export_answers_as_the_component_runtime_does(
        running: tuple[Any, TunnelReader, Reference], text: str) -> None:
    answer = _both(running, "shout", text)
    assert len(answer) == len(text)


@SETTINGS
@given(st.binary(max_size=MAX - 8))
def test_a_bytes_export_answers_as_the_component_runtime_does(
        running: tuple[Any, TunnelReader, Reference], data: bytes) -> None:
    assert _both(running, "reverse", data)[::-1] == data


def test_the_largest_message_the_tunnel_takes_crosses_both_ways(
        running: tuple[Any, TunnelReader, Reference]) -> None:
    data = bytes(range(256)) * ((MAX - 8) // 256)
    assert _both(running, "reverse", data) == data[::-1]


# the answerer's messages on "ping" come back to the host on "pong" through the
# core echo guest
ECHO = Path(__file__).parents[1] / "src" / "nanonet" / "guests" / "echo.wat"
TOML = """[tunnels.ping]
writer = "a"
reader = "echo"
[tunnels.pong]
writer = "echo"
reader = "host"
[services.echo]
wasm = "{echo}"
[services.a]
component = "{path}"
imports = {{ forward = "tunnel:ping" }}
"""


def _manifest(tmp_path: Path, answerer: Path) -> str:
    path = tmp_path / "nanonet.toml"
    path.write_text(TOML.format(path=answerer, echo=ECHO))
    return str(path)


def test_check_says_the_answerer_takes_the_wasm_path(answerer: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", _manifest(tmp_path, answerer)]) == 0
    assert ("component 'a' data plane runs without the host: Wasm path: 'forward' -> "
            "tunnel 'ping' served by generated Wasm on the ring") in capsys.readouterr().out


def test_run_calls_the_string_export_on_the_wasm_path(answerer: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    text = "h\u00e9llo, tunnel"
    code = main(["run", _manifest(tmp_path, answerer), "--quiet", "--calls", "20",
                 "--call", f"a.shout({text!r})"])
    out = capsys.readouterr().out
    expected, _ = Reference(answerer).call("shout", text)
    assert code == 0, out
    assert re.search(rf"calls: 20 × a\.shout: .* last answer: {re.escape(repr(expected))}",
                     out), out
    assert "host received 20 message(s) on pong" in out


# a tunnel import, and export "t" lifted from core func "t" with TYPE and OPTIONS
REFUSED = """(component
  (import "forward" (func $f (param "stream-id" u32) (param "payload" (list u8))))
  (core module $mm (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)))
  (core instance $mi (instantiate $mm))
  (core func $fl (canon lower (func $f) (memory (core memory $mi "mem"))))
  (core module $m (import "h" "forward" (func (param i32 i32 i32))) (func (export "t") CORE))
  (core instance $i (instantiate $m (with "h" (instance (export "forward" (func $fl))))))
  (func (export "t") TYPE (canon lift (core func $i "t") (memory (core memory $mi "mem"))
    (realloc (core func $mi "realloc")) OPTIONS)))"""


@pytest.mark.parametrize("core, ty, options, rule", [
    ("(param i32 i32)", '(param "s" string)', "string-encoding=utf16",
     "export 't' lifts its strings as utf16; the core-API call copies UTF-8"),
    ("(param i32 i32)", '(param "r" (list string))', "string-encoding=utf16",
     "export 't' lifts its strings as utf16; the core-API call copies UTF-8"),
])
def test_an_export_the_core_api_call_cannot_make_keeps_the_host_path(
        core: str, ty: str, options: str, rule: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=64)
        wat = REFUSED.replace("CORE", core).replace("TYPE", ty).replace("OPTIONS", options)
        comp = mesh.component("t", wat, imports={"forward": "tunnel:out"})
        assert not isinstance(comp.loaded, RingLoaded)
        assert paths(mesh)["t"].why.startswith(f"host-function path: {rule}")


@pytest.mark.parametrize("core, ty", [
    ("(param i32)", " ".join(f'(param "s{i}" string)' for i in range(9))),
    ("(param i32 i32)", '(param "r" (list string))'),
])
def test_exports_past_16_core_parameters_or_of_lists_of_strings_take_the_wasm_path(
        core: str, ty: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=64)
        wat = REFUSED.replace("CORE", core).replace("TYPE", ty).replace("OPTIONS", "")
        comp = mesh.component("t", wat, imports={"forward": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["t"].why


def test_an_export_taking_a_resource_handle_keeps_the_host_path() -> None:
    wat = REFUSED.replace("(component", '(component (import "r" (type $r (sub resource)))', 1)
    wat = wat.replace("CORE", "(param i32)").replace("TYPE", '(param "h" (own $r))')
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=64)
        comp = mesh.component("t", wat.replace("OPTIONS", ""), imports={"forward": "tunnel:out"})
        assert not isinstance(comp.loaded, RingLoaded)
        assert paths(mesh)["t"].why == (
            "host-function path: export 't' is func(h: <OwnType>): resources (own and borrow "
            "handles), futures and streams are not lowered on the core-API path")


def test_a_mesh_of_one_component_runs_until_its_calls_are_done(
        answerer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nanonet.toml"
    path.write_text(f'[tunnels.ping]\nwriter = "a"\nreader = "host"\n'
                    f'[services.a]\ncomponent = "{answerer}"\n'
                    'imports = { forward = "tunnel:ping" }\n')
    code = main(["run", str(path), "--quiet", "--calls", "20", "--call", "a.shout('x')"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "calls: 20 × a.shout" in out and "host received 20 message(s) on ping" in out, out
    assert main(["run", str(path), "--quiet", "--timeout", "0.5"]) == 0
    assert "stopped at the timeout (0.5 s)" in capsys.readouterr().out
