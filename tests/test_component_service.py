"""Component services: imports wired only to what is granted, one thread each."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from nanonet.cli import main as cli_main
from nanonet.component.service import ComponentService
from nanonet.errors import LoadError, NanonetError
from nanonet.wit import PACKAGES

DOUBLE = """(component
  (core module $m (func (export "double") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2))))
  (core instance $i (instantiate $m))
  (func (export "double") (param "x" u32) (result u32) (canon lift (core func $i "double"))))"""

QUAD = """(component
  (import "double" (func $d (param "x" u32) (result u32)))
  (core func $dl (canon lower (func $d)))
  (core module $m (import "h" "double" (func $double (param i32) (result i32)))
    (func (export "quad") (param i32) (result i32) (call $double (call $double (local.get 0)))))
  (core instance $i (instantiate $m (with "h" (instance (export "double" (func $dl))))))
  (func (export "quad") (param "x" u32) (result u32) (canon lift (core func $i "quad"))))"""


def test_wit_command_prints_both_packages(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["wit"]) == 0
    out = capsys.readouterr().out
    assert "package nanonet:tunnel@0.1.0;" in out and "package nanonet:auth@0.1.0;" in out
    assert "export transmit-packet: func(data: packet) -> result<string, string>;" in out


@pytest.mark.parametrize(("package", "world"), [("tunnel", "bridge"), ("tunnel", "relay"),
                                                    ("auth", "auth-service")])
def test_wit_parses_with_a_real_toolchain(tmp_path: Path, package: str, world: str) -> None:
    tool = Path(sys.executable).with_name("componentize-py")
    if not tool.exists():
        pytest.skip("componentize-py is not installed (pip install 'nanonet[components]')")
    proc = subprocess.run([str(tool), "-d", str(PACKAGES[package]), "-w", world, "bindings",
                           str(tmp_path / "b")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_an_import_wired_to_another_service() -> None:
    with ComponentService("double", DOUBLE) as double, \
            ComponentService("quad", QUAD, imports={"double": double.export("double")}) as quad:
        assert quad.call("quad", 5) == 20


def test_an_ungranted_import_is_a_load_error_naming_it() -> None:
    with pytest.raises(LoadError, match=r"component 'quad' imports 'double', which was not "
                                        r"granted"):
        ComponentService("quad", QUAD)


def test_host_function_errors_reach_the_caller_with_their_type() -> None:
    def broken(x: int) -> int:
        raise KeyError(f"no {x}")

    with ComponentService("quad", QUAD, imports={"double": broken}) as quad, \
            pytest.raises(KeyError, match="no 5"):
        quad.call("quad", 5)


def test_calls_from_many_threads_run_on_the_service_thread() -> None:
    seen: set[str] = set()

    def double(x: int) -> int:
        seen.add(threading.current_thread().name)
        return 2 * x

    results: list[Any] = []
    with ComponentService("quad", QUAD, imports={"double": double}) as quad:
        threads = [threading.Thread(target=lambda i=i: results.append(quad.call("quad", i)))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sorted(results) == [4 * i for i in range(8)]
    assert seen == {"nanonet:quad"}


def test_an_unknown_export_is_named() -> None:
    with ComponentService("double", DOUBLE) as double, \
            pytest.raises(Exception, match="exports no 'triple'"):
        double.export("triple")


def test_the_measurement_runs_and_the_stream_is_complete() -> None:
    from nanonet.bench.component_cost import calls, component_stream

    assert component_stream(300, 64) > 0  # the checker saw every sequence number
    assert set(calls(20)) == {"call_in_us", "call_out_us", "bytes_roundtrip_MBps"}


def test_a_mesh_owns_its_components_and_starts_them_with_its_services() -> None:
    from nanonet.mesh import Mesh

    with Mesh() as mesh:
        mesh.component("double", DOUBLE)
        quad = mesh.component("quad", QUAD, imports={"double": "service:double"})
        with pytest.raises(Exception, match="'quad' is not started: start the mesh first"):
            quad.call("quad", 1)
        mesh.start()
        assert quad.call("quad", 5) == 20
        late = mesh.component("late", QUAD, imports={"double": "service:double"})
        assert late.call("quad", 1) == 4  # added to a running mesh: started at once
    assert not quad.running and mesh.wait(0)


def test_a_mesh_refuses_an_ungranted_import_and_an_unknown_service() -> None:
    from nanonet.mesh import Mesh

    with Mesh() as mesh:
        with pytest.raises(LoadError, match="component 'quad' imports 'double', which was not "
                                            "granted"):
            mesh.component("quad", QUAD)
        with pytest.raises(LoadError, match="names service 'nope', which is not a component "
                                            "service of this mesh"):
            mesh.component("quad", QUAD, imports={"double": "service:nope"})
        assert mesh.components == {}


def test_a_tunnel_import_sends_each_call_as_one_message() -> None:
    import struct

    from nanonet.bench.component_cost import STREAMER
    from nanonet.mesh import Mesh

    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=64)
        out = mesh.reader("stream")
        comp = mesh.component("streamer", STREAMER, imports={"send": "tunnel:stream"})
        assert mesh.tunnels["stream"].writer == "streamer"
        mesh.start()
        comp.call("run", 5, 16)
        comp.close()  # closes its end: the reader ends after the five
        got = list(out)
    assert [struct.unpack_from("<IQ", m) for m in got] == [(16, i) for i in range(5)]


def test_the_fast_path_runs_a_components_data_plane_as_a_core_service() -> None:
    from nanonet.bench.component_cost import fast_path_stream, producer_component
    from nanonet.component.split import data_plane
    from nanonet.policy.wasmmod import import_modules

    core = data_plane(producer_component())
    assert import_modules(core) == ["env", "nanonet", "nanonet", "nanonet"]
    assert fast_path_stream(300, 64) > 0  # the checker saw every sequence number


def test_a_component_without_one_data_plane_is_refused() -> None:
    import wasmtime

    from nanonet.bench.component_cost import STREAMER
    from nanonet.component.split import data_plane

    with pytest.raises(LoadError, match="embeds 0 core modules importing 'nanonet'"):
        data_plane(bytes(wasmtime.wat2wasm(STREAMER)))
    with pytest.raises(LoadError, match="not a component binary"):
        data_plane(b"\0asm\x01\0\0\0")


def test_a_call_queued_behind_a_close_fails_instead_of_waiting_for_ever() -> None:
    entered, gate = threading.Event(), threading.Event()

    def slow_double(x: int) -> int:
        entered.set()
        gate.wait(30)
        return 2 * x

    comp = ComponentService("quad", QUAD, imports={"double": slow_double})
    first: list[Any] = []
    busy = threading.Thread(target=lambda: first.append(comp.call("quad", 1)), daemon=True)
    busy.start()
    assert entered.wait(30)
    comp.close(timeout=0)  # queued behind the call in progress
    late: list[BaseException] = []

    def call_late() -> None:
        try:
            comp.call("quad", 2, timeout=20)
        except BaseException as exc:
            late.append(exc)

    caller = threading.Thread(target=call_late, daemon=True)
    caller.start()
    gate.set()
    busy.join(30)
    caller.join(30)
    assert first == [4]
    assert len(late) == 1 and isinstance(late[0], NanonetError), late
    assert "closed" in str(late[0])


LOOPS = """(component
  (core module $m (func (export "spin") (loop $l (br $l))))
  (core instance $i (instantiate $m))
  (func (export "spin") (canon lift (core func $i "spin"))))"""


def test_stop_ends_a_component_call_that_loops() -> None:
    """A component's Wasm ends at a stop like a service's: a call that never
    returns is trapped after the grace, and stop returns."""
    from nanonet.mesh import Mesh

    failed: list[BaseException] = []
    with Mesh() as mesh:
        comp = mesh.component("spinner", LOOPS)
        mesh.start()

        def call() -> None:
            try:
                comp.call("spin")
            except BaseException as exc:
                failed.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        mesh.stop(grace=0.1, timeout=30)
        caller.join(30)
    assert not comp.running and len(failed) == 1
    assert "stopped by the host" in str(failed[0])
