"""An import given a Python function, beside a tunnel, on the Wasm tunnel path.

The C ``asker`` (examples/producer) exports ``ask(key: string) -> string``,
which calls the host's ``lookup(key: string) -> string``, forwards the answer
down a tunnel and returns it. With ``forward`` wired to a tunnel and
``lookup`` given a Python function, ``Mesh.component`` keeps it on the Wasm
path: ``lookup`` is a core host function (``ringhost.py``) reading the key
from the component's memory and writing the answer through its
``cabi_realloc``. wasmtime's component runtime, running the same binary, is
the reference for answers, messages and failures (after a failed call the
runtime refuses to enter that instance again; the core instances go on).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonet.component.host import load
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.errors import GuestTrap
from nanonet.examples.producer import build
from nanonet.host.engine import Runtime
from nanonet.mesh import Mesh
from nanonet.ring.reader import TunnelReader

MAX = 4096


def answer(key: str) -> str:
    """The host's lookup: the key reversed, then its length in code points."""
    if key == "missing":
        raise KeyError(key)
    if key == "number":
        return 42  # type: ignore[return-value]  # the wrong type, on purpose
    return f"{key[::-1]}={len(key)}"


class Reference:
    """The asker in the component runtime; its ``forward`` records messages."""

    def __init__(self, lookup: Callable[[str], str]) -> None:
        rt = Runtime()
        self.sent: list[bytes] = []
        given = {"lookup": lookup, "forward": lambda sid, data: self.sent.append(
            struct.pack("<II", sid, len(data)) + bytes(data))}
        binary = build("asker").path.read_bytes()
        self.instance = load(rt, binary).instantiate(rt.new_store(), given)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Any, TunnelReader, Reference]]:
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=MAX)
        comp = mesh.component("k", build("asker").path,
                              imports={"forward": "tunnel:out", "lookup": answer})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["k"].why
        assert paths(mesh)["k"].why.endswith("'lookup' called in Python from Wasm (a host "
                                             "call each)")
        out = mesh.reader("out")
        mesh.start()
        yield comp, out, Reference(answer)
        comp.close()


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=MAX // 8).filter(lambda k: k not in ("missing", "number")))
def test_a_python_import_answers_as_on_the_component_runtime(
        running: tuple[Any, TunnelReader, Reference], key: str) -> None:
    comp, out, reference = running
    got = comp.call("ask", key, timeout=60)
    assert got == reference.instance.call("ask", key)
    assert bytes(out.recv(timeout=60)) == reference.sent.pop()
    assert got == answer(key)


@pytest.mark.parametrize("key, error", [("missing", KeyError), ("number", TypeError)])
def test_what_the_python_import_raises_reaches_the_caller_on_both_paths(
        running: tuple[Any, TunnelReader, Reference], key: str,
        error: type[Exception]) -> None:
    comp, out, _ = running
    with pytest.raises(error):  # a fresh one: the runtime refuses calls after a trap
        Reference(answer).instance.call("ask", key)
    with pytest.raises(error):
        comp.call("ask", key, timeout=60)
    assert comp.call("ask", "after", timeout=60) == answer("after")  # it still answers
    assert bytes(out.recv(timeout=60)).endswith(answer("after").encode())
    assert out.try_recv() is None  # the failed calls sent nothing


# a component service exporting lookup: the key as it came (echo, then reset)
LOOKUP = """(component
  (core module $m (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get 3))) (local.get $at))
    (func (export "lookup") (param i32 i32) (result i32)
      (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1))
      (i32.const 8))
    (func (export "reset") (param i32) (global.set $next (i32.const 1024))))
  (core instance $i (instantiate $m))
  (func (export "lookup") (param "key" string) (result string)
    (canon lift (core func $i "lookup") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset")))))"""


def test_an_import_wired_to_a_service_is_served_on_the_wasm_path() -> None:
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=MAX)
        mesh.component("svc", LOOKUP)
        comp = mesh.component("k", build("asker").path,
                              imports={"forward": "tunnel:out", "lookup": "service:svc"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["k"].why
        out = mesh.reader("out")
        mesh.start()
        assert comp.call("ask", "h\u00e9llo", timeout=60) == "h\u00e9llo"
        comp.close()
        assert [bytes(m) for m in out] == [struct.pack("<II", 3, 6) + "h\u00e9llo".encode()]


# run(k) calls lookup with case k of: bad UTF-8 (bytes at 100), a key past the
# end of memory, a return area off its alignment; the tunnel import is unused
FAULTY = """(component
  (import "forward" (func $f (param "stream-id" u32) (param "payload" (list u8))))
  (import "lookup" (func $l (param "key" string) (result string)))
  (core module $mm (memory (export "mem") 1) (data (i32.const 100) "\\c0\\af")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $mi (instantiate $mm))
  (core func $fl (canon lower (func $f) (memory (core memory $mi "mem"))))
  (core func $ll (canon lower (func $l) (memory (core memory $mi "mem"))
    (realloc (core func $mi "realloc"))))
  (core module $m (import "h" "forward" (func (param i32 i32 i32)))
    (import "h" "lookup" (func $lookup (param i32 i32 i32)))
    (func (export "run") (param $k i32) (result i32)
      (if (i32.eqz (local.get $k))
        (then (call $lookup (i32.const 100) (i32.const 2) (i32.const 8))))
      (if (i32.eq (local.get $k) (i32.const 1))
        (then (call $lookup (i32.const 65530) (i32.const 10) (i32.const 8))))
      (if (i32.eq (local.get $k) (i32.const 2))
        (then (call $lookup (i32.const 0) (i32.const 1) (i32.const 10))))
      (local.get $k)))
  (core instance $i (instantiate $m (with "h" (instance (export "forward" (func $fl))
                                                        (export "lookup" (func $ll))))))
  (func (export "run") (param "k" u32) (result u32) (canon lift (core func $i "run"))))"""


@pytest.mark.parametrize("case, words", [
    (0, "invalid utf-8"), (1, "string pointer/length out of bounds of memory"),
    (2, "pointer not aligned"),
])
def test_what_the_runtime_refuses_in_a_host_import_fails_on_the_wasm_path_too(
        case: int, words: str) -> None:
    rt = Runtime()
    reference = load(rt, FAULTY.encode()).instantiate(
        rt.new_store(), {"forward": lambda *a: None, "lookup": answer})
    with pytest.raises(wasmtime.WasmtimeError, match=words):
        reference.call("run", case)
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=64)
        comp = mesh.component("f", FAULTY, imports={"forward": "tunnel:out", "lookup": answer})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["f"].why
        mesh.start()
        with pytest.raises(GuestTrap, match=words):  # the engine's error chained
            comp.call("run", case, timeout=60)
        assert comp.call("run", 3, timeout=60) == 3
