"""Ownership is all-or-nothing: a load that fails takes no tunnel end, and a
closed mesh has given back every store and ring memory it held."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from conftest import guest, message, vm_size_kib
from nanonet import Mesh
from nanonet.errors import EndpointTaken, LoadError, NanonetError, TunnelClosed

CLOCK_IMPORT = ('(module\n  (import "wasi_snapshot_preview1" "clock_time_get" '
                "(func (param i32 i64 i32) (result i32)))\n")
# a component whose first import goes down a tunnel and whose second is not given
TWO_IMPORTS = """(component
  (import "send" (func (param "x" u32)))
  (import "double" (func (param "x" u32) (result u32))))"""
# a component that traps while it is instantiated (its core module's start function)
TRAPS_AT_START = """(component
  (import "send" (func (param "x" u32)))
  (core module $m (func $boom unreachable) (start $boom))
  (core instance $i (instantiate $m)))"""


def _clock_receiver() -> str:
    """receiver.wat importing WASI's clock too: it loads only with the clock grant."""
    return guest("receiver").replace("(module\n", CLOCK_IMPORT, 1)


def _bad_load(kind: str, tmp_path: Path) -> tuple[str | bytes, list[str], type[Exception]]:
    if kind == "missing grant":
        return _clock_receiver(), [], LoadError
    if kind == "missing file":
        return str(tmp_path / "absent.wasm"), ["clock"], LoadError
    return b"\0asm\x01\0\0\0 not a module", ["clock"], LoadError


@pytest.mark.parametrize("kind", ["missing grant", "missing file", "bad wasm"])
def test_a_failed_load_takes_no_tunnel_end(kind: str, tmp_path: Path) -> None:
    wasm, grants, error = _bad_load(kind, tmp_path)
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t")
        with pytest.raises(error):
            mesh.service("rx", wasm, reads=["t"], grants=grants)
        assert tunnel.reader is None and "rx" not in mesh.services
        mesh.service("rx", _clock_receiver(), reads=["t"], grants=["clock"])  # the fixed call
        assert tunnel.reader == "rx"


def test_a_taken_end_is_named_before_the_module_is_loaded() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t")
        mesh.reader("t")
        with pytest.raises(EndpointTaken, match="the read end of tunnel 't' is already held "
                                                "by '<host>'"):
            mesh.service("rx", b"\0asm\x01\0\0\0 not a module", reads=["t"])


def test_a_service_asking_for_both_ends_or_one_twice_takes_neither() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t")
        with pytest.raises(EndpointTaken, match="cannot hold both ends of one tunnel"):
            mesh.service("relay", guest("relay"), reads=["t"], writes=["t"])
        with pytest.raises(EndpointTaken, match="already held by 'rx'"):
            mesh.service("rx", guest("receiver"), reads=["t", "t"])
        assert tunnel.reader is None and tunnel.writer is None
        mesh.reader("t")
        mesh.writer("t")


def test_a_component_that_fails_to_load_gives_its_tunnel_end_back() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("stream", slots=8, max_payload=16)
        with pytest.raises(LoadError, match="imports 'double', which was not granted"):
            mesh.component("c", TWO_IMPORTS, imports={"send": "tunnel:stream"})
        assert tunnel.writer is None and mesh.components == {}
        mesh.component("c", TWO_IMPORTS, imports={"send": "tunnel:stream",
                                                  "double": lambda x: 2 * x})
        assert tunnel.writer == "c"


def test_a_component_that_traps_while_starting_leaves_its_tunnel_as_it_was() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("stream", slots=8, max_payload=16)
        mesh.start()
        with pytest.raises(LoadError, match="component 'c' cannot be instantiated"):
            mesh.component("c", TRAPS_AT_START, imports={"send": "tunnel:stream"})
        assert tunnel.writer is None and not tunnel.ring.closed
        with mesh.writer("stream") as writer:
            writer.send(b"still open")


def _busy_mesh(tunnels: int) -> Mesh:
    """A mesh whose rings are held by a service, host ends and control stores."""
    mesh = Mesh()
    for name in ("t", *(f"t{i}" for i in range(1, tunnels))):
        mesh.tunnel(name, slots=16, max_payload=32)
    mesh.service("rx", guest("receiver"), reads=["t"])
    mesh.writer("t").send(message(0))  # what receiver.wat expects first
    for i in range(1, tunnels):
        mesh.writer(f"t{i}").send(b"x")
        mesh.reader(f"t{i}").recv(timeout=10)
    mesh.start()
    return mesh


def test_close_releases_every_ring_memory_while_the_mesh_object_lives() -> None:
    gc.collect()
    before = vm_size_kib()
    mesh = _busy_mesh(4)
    reserved = vm_size_kib() - before
    assert reserved > 4 * 1024 * 1024  # more than 1 GiB per ring: what close must give back
    mesh.close()
    gc.collect()
    assert vm_size_kib() - before < reserved / 4  # less than one ring's reservation is left
    assert mesh.services["rx"].exit_code == 1  # it received the one message, then CLOSED


def test_meshes_created_and_closed_in_a_loop_do_not_grow() -> None:
    meshes = []
    for _ in range(3):
        with _busy_mesh(2) as mesh:
            meshes.append(mesh)  # kept alive: only close can release their rings
    gc.collect()
    settled = vm_size_kib()
    for _ in range(20):
        with _busy_mesh(2) as mesh:
            meshes.append(mesh)
    gc.collect()
    one_ring = 1024 * 1024  # KiB: a ring reserves more than a GiB
    assert vm_size_kib() - settled < one_ring


def test_a_closed_mesh_refuses_use_and_its_host_ends_see_a_closed_tunnel() -> None:
    mesh = Mesh()
    mesh.tunnel("t")
    writer, reader = mesh.writer("t"), mesh.reader("t")
    mesh.close()
    mesh.close()  # twice is harmless
    for use in (lambda: mesh.tunnel("u"), lambda: mesh.reader("t"), mesh.start,
                mesh.statistics, lambda: mesh.service("rx", guest("receiver"))):
        with pytest.raises(NanonetError, match=r"this mesh is closed .*build a new Mesh"):
            use()
    with pytest.raises(TunnelClosed):
        writer.send(b"late")
    with pytest.raises(TunnelClosed):
        reader.try_recv()
    with writer:  # leaving it closes the (already closed) tunnel end: no error
        pass


def test_host_ends_are_context_managers_that_close_their_tunnel() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t")
        with mesh.writer("t") as writer:
            writer.send(b"one")
        with mesh.reader("t") as reader:
            assert list(reader) == [b"one"]  # drained, then closed by the writer's exit
        assert mesh.tunnels["t"].ring.closed
