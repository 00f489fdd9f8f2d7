"""Caches belong to their Runtime and are keyed by value, so a fresh Runtime
never meets an adapter or link plan compiled for a collected engine."""

from __future__ import annotations

import gc

from conftest import guest, message
from nanonet import Mesh
from nanonet.host.engine import Runtime
from nanonet.runtime.memimport import importing


def test_fifty_fresh_runtimes_in_a_row_each_run_a_service() -> None:
    for _ in range(50):
        with Mesh(Runtime()) as mesh:
            mesh.tunnel("t", slots=16, max_payload=32)
            rx = mesh.service("rx", guest("receiver"), reads=["t"])
            mesh.writer("t").send(message(0))
            mesh.start()
            mesh.stop()
        assert rx.exit_code == 1  # the one message, then CLOSED
        del mesh, rx
        gc.collect()  # the Runtime goes, and an id it had may come back


def test_a_runtime_keeps_one_adapter_and_one_plan_per_shape() -> None:
    rt = Runtime()
    with Mesh(rt) as mesh:
        for i in range(3):
            mesh.tunnel(f"t{i}", slots=16, max_payload=32)
            mesh.service(f"rx{i}", guest("receiver"), reads=[f"t{i}"])
        assert len(rt.adapters) == 1 and len(rt.plans) == 1
        (key,) = rt.plans
        # the runtime's compiled module of that content (held by the key), not an
        # id: the content it compiles in place of the guest's (memimport.py)
        assert key[0] is rt.module(importing(guest("receiver").encode()))
