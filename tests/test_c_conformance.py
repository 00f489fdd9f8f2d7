"""The guest ABI from C, through both memory styles (tests/guests/conformance.c).

The guest checks every status itself and returns the number of the first
check that failed; its ``status`` export holds the value that check saw.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import GUESTS, call
from nanonet import Mesh, Service, TunnelReader
from nanonet.toolchain.build import MemoryStyle, build

SLOTS, MAX_PAYLOAD = 4, 32
WATCHDOG = 60.0  # a bound on a hang, never a speed check


def _recv_or_fail(reader: TunnelReader, svc: Service, mesh: Mesh) -> bytes:
    """The next message, or a failure naming the check that ended the guest first."""
    deadline = time.monotonic() + WATCHDOG
    while time.monotonic() < deadline:
        try:
            return reader.recv(timeout=0.05)
        except TimeoutError:
            if not svc.running:
                raise AssertionError(f"check {svc.exit_code} failed, saw "
                                     f"{call(svc, 'status')}; traps {mesh.traps}") from None
    raise AssertionError("watchdog: the guest never finished phase 1")


def run_conformance(wasm: Path, memory: MemoryStyle) -> None:
    """Run a conformance guest (C, or Rust: tests/test_rust_guests.py) to its end."""
    with Mesh() as mesh:
        for name in ("out", "in", "sync"):
            mesh.tunnel(name, slots=SLOTS, max_payload=MAX_PAYLOAD)
        svc = mesh.service("conf", wasm, writes=["out", "sync"], reads=["in"])
        assert svc.linked.style == f"{memory}s-memory"
        sync, out, to_guest = mesh.reader("sync"), mesh.reader("out"), mesh.writer("in")
        mesh.start()
        assert _recv_or_fail(sync, svc, mesh) == b"1"  # phase 1: handles, empty, full, too big
        filled = [out.recv(timeout=WATCHDOG) for _ in range(SLOTS)]
        assert [m[0] for m in filled] == list(range(SLOTS))
        to_guest.send_many([b"hello", b"ab", b"cdefg"])
        to_guest.close()
        assert list(out) == [b"last"]  # and nothing sent after close
        assert mesh.wait(WATCHDOG)
        assert svc.exit_code == 0, f"check {svc.exit_code} failed, saw {call(svc, 'status')}"
        assert mesh.traps == []


@pytest.mark.parametrize("memory", ["export", "import"])
def test_c_guest_sees_every_status(memory: MemoryStyle) -> None:
    flags = [f"-DSLOTS={SLOTS}", f"-DMAX_PAYLOAD={MAX_PAYLOAD}"]
    run_conformance(build(GUESTS / "conformance.c", memory=memory, flags=flags), memory)

