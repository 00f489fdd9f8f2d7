"""The inspector's cursor from the Python API: what it keeps is whole (each message
it reports carries its own sequence number as payload, through a ring of 4 slots a
fast reader drains while a writer refills it), it never attaches a tap (the writer
is never held: every message reaches the reader), its first look keeps what already
waits in the ring, and a tunnel nobody asks about for ``LEASE`` seconds is dropped
and the inspector's thread ends."""

from __future__ import annotations

import struct
import threading

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.inspector import LEASE, Inspector
from nanonet.ring import layout as L

COUNT = 20_000


def test_every_message_the_inspector_keeps_is_whole_and_the_writer_runs_free() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=4, max_payload=8)
        out, inp = mesh.writer("t"), mesh.reader("t")
        with Observer(mesh) as obs:
            assert obs.recent("t") == []  # inspecting from now on
            got: list[bytes] = []

            def read() -> None:
                for data in inp:
                    got.append(data)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            kept: dict[int, bytes] = {}
            for first in range(0, COUNT, 100):
                out.send_many([struct.pack("<Q", n) for n in range(first, first + 100)],
                              timeout=30)
                assert mesh.tunnels["t"].ring.u32(L.OFF_TAP_MODE) == 0  # no tap, ever
                kept.update((m.seq, m.data) for m in obs.recent("t", 256))
            out.close()
            reader.join(30)
        assert len(got) == COUNT  # the inspector held nobody back and took nothing away
        assert all(data == struct.pack("<Q", seq) for seq, data in kept.items()), kept


def test_the_first_look_keeps_what_waits_in_the_ring() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=8)
        out = mesh.writer("t")
        mesh.reader("t")  # held, never read: the messages wait
        out.send_many([b"a", b"bc"], timeout=5)
        with Observer(mesh) as obs:
            seen = obs.recent("t", 10)
            assert [(m.seq, m.data) for m in seen] == [(0, b"a"), (1, b"bc")]
            assert seen[1].to_json() == {"seq": 1, "time_ns": seen[1].time_ns, "length": 2,
                                         "hex": "6263", "text": "bc"}
            out.send(b"d", timeout=5)
            wait_until(lambda: len(obs.recent("t", 10)) == 3, "the next look found 'd'")
            assert obs.recent("t", 1)[0].seq == 2


def test_a_tunnel_nobody_asks_about_is_dropped_and_the_thread_ends() -> None:
    now = [0.0]
    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=8)
        inspector = Inspector(clock=lambda: now[0])
        inspector.recent(mesh.tunnels["t"], 5)
        assert inspector.inspected == ["t"]
        now[0] = LEASE / 2
        inspector.recent(mesh.tunnels["t"], 5)  # renewed: LEASE from here
        now[0] = LEASE + 1
        assert inspector.inspected == ["t"]
        now[0] = 1.5 * LEASE + 1
        wait_until(lambda: inspector.inspected == [], "the lease ran out")
        wait_until(lambda: not any(t.name == "nanonet-inspector"
                                   for t in threading.enumerate()), "the thread ended")
        inspector.close()
