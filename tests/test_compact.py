"""A compact runtime reserves about what its rings need, not 4 GiB each."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import call, guest, vm_size_kib
from nanonet import Mesh, load_manifest
from nanonet.host.engine import runtime

TUNNELS = 2_000
BOUND_KIB = 8 * 1024  # generous: a 2-page ring reserves about 1.1 MiB here


@pytest.mark.timeout(120)
def test_many_tunnels_add_little_address_space_each() -> None:
    mesh = Mesh(runtime(compact=True))
    mesh.tunnel("first", slots=64, max_payload=64)  # the engine's own mappings come first
    before = vm_size_kib()
    for i in range(TUNNELS):
        mesh.tunnel(f"t{i}", slots=64, max_payload=64)
    per_tunnel = (vm_size_kib() - before) / TUNNELS
    mesh.stop()
    assert per_tunnel < BOUND_KIB, f"{per_tunnel:.0f} KiB of address space per tunnel"


@pytest.mark.timeout(60)
def test_services_on_a_compact_runtime_move_every_message() -> None:
    with Mesh(runtime(compact=True)) as mesh:
        mesh.tunnel("t", slots=64, max_payload=64)
        sender = mesh.service("send", guest("sender", side="write"), writes=["t"])
        call(sender, "configure", 5_000, 16, 1, -1)
        checker = mesh.service("check", guest("dedup_checker"), reads=["t"])
        mesh.start()
        assert mesh.wait(30), "services did not end"
        assert call(checker, "next") == 5_000 and mesh.traps == []


def test_the_memory_layout_is_part_of_the_module_cache_key() -> None:
    assert runtime(compact=True).key(b"(module)") != runtime().key(b"(module)")


def test_a_mesh_or_a_manifest_asks_for_a_compact_runtime(tmp_path: Path) -> None:
    assert Mesh(compact=True).rt.compact and not Mesh().rt.compact
    relay = guest("relay").replace("FAULT_BODY", "(nop)").replace("TRIGGER", "1000000")
    (tmp_path / "relay.wat").write_text(relay)
    (tmp_path / "nanonet.toml").write_text(
        '[mesh]\ncompact = true\n[tunnels.a]\nwriter = "host"\nreader = "relay"\n'
        '[tunnels.b]\nwriter = "relay"\nreader = "host"\n[services.relay]\nwasm = "relay.wat"\n')
    with load_manifest(tmp_path / "nanonet.toml").build_mesh() as mesh:
        assert mesh.rt.compact
