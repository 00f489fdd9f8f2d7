"""An idle service hardly wakes: a reader's park timeout backs off while it
waits, and still every message and every close reaches it at once."""

from __future__ import annotations

import math
import time

import pytest

from conftest import guest, wait_until
from nanonet import Mesh, State
from nanonet.ring import layout as L
from nanonet.ring.adapter import PARK_TIMEOUT_NS

pytestmark = pytest.mark.timeout(120)
IDLE_SECONDS = 3.0


def _parks_allowed(seconds: float) -> int:
    """The parks an idle reader may start in ``seconds``: with the timeout
    doubling from PARK_TIMEOUT_NS, about log2(seconds / 50 ms) + 1; twice
    that, and a few more, to stay clear of scheduling noise."""
    first = PARK_TIMEOUT_NS / 1e9
    return 2 * (int(math.log2(seconds / first)) + 2) + 4


def test_an_idle_reader_parks_a_few_times_not_every_fifty_milliseconds() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=4, max_payload=40)
        svc = mesh.service("s", guest("until_status", side="read"), reads=["t"])
        writer = mesh.writer("t")
        ring = mesh.tunnels["t"].ring
        mesh.start()
        wait_until(lambda: ring.u32(L.OFF_READER_WAITING) == 1, "the service parks")
        parks0, t0 = ring.u64(L.OFF_READER_PARKS), time.monotonic()
        time.sleep(IDLE_SECONDS)  # the window the parks are counted in
        parks, seconds = ring.u64(L.OFF_READER_PARKS) - parks0, time.monotonic() - t0
        assert parks <= _parks_allowed(seconds), f"{parks} parks in {seconds:.1f} s"

        # the backed-off reader still gets a message, and then a close
        writer.send(b"12345678", timeout=10)
        stats = mesh.tunnels["t"].statistics
        wait_until(lambda: stats().received == 1, "the message is received")
        writer.close()
        assert mesh.wait(30)
        assert (svc.state, svc.exit_code) == (State.STOPPED, -1)

