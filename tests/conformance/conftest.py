"""A link: one tunnel "t" in a started mesh, its writer end of one kind and its
reader end of another, torn down after the test (agents told to end, the
tap stopped, the mesh stopped)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from conftest import wait_until
from nanonet import Mesh, Tunnel
from nanonet.ring import layout as L
from nanonet.ring.memory import RingMemory

from .ends import WATCHDOG, Reader, Writer
from .kinds import SUBSCRIBER_AGENT, Kind, fan_in_writer, make_reader, make_writer

SLOTS, MAX_PAYLOAD = 8, 120


@dataclass
class Link:
    mesh: Mesh
    tunnel: Tunnel
    writer: Writer
    reader: Reader

    @property
    def ring(self) -> RingMemory:
        return self.tunnel.ring

    def wait_flag(self, offset: int, what: str) -> None:
        """Until a ``*_waiting`` flag says that side is parked (a bounded wait)."""
        wait_until(lambda: self.ring.u32(offset) == 1, what, WATCHDOG)

    def wait_writer_parked(self) -> None:
        self.wait_flag(L.OFF_WRITER_WAITING, "the writer parks on the full ring")

    def wait_reader_parked(self) -> None:
        self.wait_flag(L.OFF_READER_WAITING, "the reader parks on the empty ring")

    def forge_slot(self, length: int) -> None:
        """Publish, as a hostile writer would, a slot whose length is ``length``."""
        head = self.ring.u64(L.OFF_HEAD)
        self.ring.write_bytes(self.tunnel.geometry.slot_offset(head), struct.pack("<II", length, 0))
        self.ring.put_u64(L.OFF_HEAD, head + 1)


MakeLink = Callable[..., Link]


@pytest.fixture
def link() -> Iterator[MakeLink]:
    """``link(writer_kind, reader_kind, slots=, max_payload=)`` -> a started Link."""
    made: list[tuple[Mesh, list[Writer | Reader]]] = []

    def make(writer: Kind, reader: Kind, slots: int = SLOTS,
             max_payload: int = MAX_PAYLOAD) -> Link:
        mesh = Mesh()
        tunnel = mesh.tunnel("t", slots=slots, max_payload=max_payload,
                             subscribers=[SUBSCRIBER_AGENT] if reader.pubsub else None,
                             writers=[fan_in_writer(writer)] if reader.fan_in or writer.fan_in
                             else None)
        ends: list[Writer | Reader] = []
        made.append((mesh, ends))
        w = make_writer(writer, mesh, tunnel)
        ends.append(w)
        r = make_reader(reader, mesh, tunnel)
        ends.append(r)
        mesh.start()
        return Link(mesh, tunnel, w, r)

    yield make
    for mesh, ends in made:
        try:
            for end in ends:
                end.shutdown()
        finally:
            mesh.stop()  # closes every tunnel: whatever an end still waits for ends
        assert mesh.wait(WATCHDOG), "a service of the link did not end"
        assert mesh.traps == [], mesh.traps
