"""Service.call: the host calls a guest's export, never while its thread runs."""

from __future__ import annotations

import pytest

from conftest import guest, message, wait_until
from nanonet import Mesh
from nanonet.errors import GuestTrap, LoadError, NanonetError

TRAPS = """(module
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "run") (result i32) (global.get $n))
  (func (export "bump") (param i32) (global.set $n (i32.add (global.get $n) (local.get 0))))
  (func (export "boom") unreachable))"""


def test_configure_before_start_and_read_a_result_after_the_end() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=64)
        rx = mesh.service("rx", guest("receiver"), reads=["t"])
        assert rx.call("configure", 40, 0) is None  # 40-byte messages, plain recv
        with mesh.writer("t") as writer:
            writer.send_many([message(i, 40) for i in range(5)])
        mesh.start()
        assert mesh.wait(20)
        assert rx.exit_code == 5 and rx.call("received") == 5


def test_a_call_while_the_service_runs_is_refused() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t")
        rx = mesh.service("rx", guest("receiver"), reads=["t"])
        mesh.start()
        wait_until(lambda: rx.parked, "the receiver waits")
        with pytest.raises(NanonetError, match=r"service 'rx' is running: the host calls "
                                               r"its exports before mesh\.start"):
            rx.call("received")
        mesh.stop()
        assert rx.call("received") == 0


def test_a_trap_is_a_guest_trap_and_the_store_stays_usable() -> None:
    with Mesh() as mesh:
        svc = mesh.service("t", TRAPS)
        with pytest.raises(GuestTrap) as info:
            svc.call("boom")
        assert info.value.service == "t" and "unreachable" in str(info.value)
        svc.call("bump", 3)
        assert svc.call("run") == 3


def test_a_missing_export_and_wrong_arguments_are_named() -> None:
    with Mesh() as mesh:
        svc = mesh.service("t", TRAPS)
        with pytest.raises(LoadError, match="service 't' exports no function 'nope'"):
            svc.call("nope")
        with pytest.raises(LoadError, match="exports no function 'memory'"):
            svc.call("memory")
        with pytest.raises(NanonetError, match=r"service 't': bump\(\) does not fit its Wasm "
                                               r"signature: it takes 1 argument\(s\), not 0"):
            svc.call("bump")
        with pytest.raises(NanonetError, match=r"bump\('x',\) does not fit"):
            svc.call("bump", "x")


def test_a_closed_service_refuses_calls() -> None:
    mesh = Mesh()
    svc = mesh.service("t", TRAPS)
    mesh.close()
    with pytest.raises(NanonetError, match="service 't' is closed"):
        svc.call("run")
