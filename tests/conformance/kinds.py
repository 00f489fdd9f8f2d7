"""Every kind of tunnel end nanonet has, and what each one lacks by design.

A kind is a name, a factory that attaches it to tunnel "t" of a mesh before
the mesh starts, and the contract items that do not apply to it, each with
the reason (the tests skip those pairs, saying why). A new transport joins
the suite by adding its kinds here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from nanonet import Mesh, Tunnel

from .ends import (
    AsyncHostReader,
    AsyncHostWriter,
    AsyncPackedHostReader,
    HostReader,
    HostWriter,
    PackedHostReader,
    PackedHostWriter,
    Reader,
    Writer,
)
from .guest_ends import BATCH, RAW, RUST_MISSING, SINGLE, GuestReader, GuestWriter
from .tap_end import TapReader

# contract items a kind may lack
TRY = "try forms"
BUFFER = "a receive buffer of the caller's size"
CLOSE = "closing from this end"
SUBSCRIBER_CLOSE = ("a subscriber's close leaves the tunnel (frees its line) instead of "
                    "closing it for the writer and the other subscribers")
HOST_WRITER_WHY = "a pub-sub tunnel's writer is a service: no host writer"

NO_BUFFER_WHY = "returns new bytes objects: there is no caller's buffer to be too small"


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[Mesh, Tunnel], Any]
    lacks: dict[str, str] = field(default_factory=dict)
    # what a receive holds until the next one (two-phase): "message", "batch", or
    # nothing ("": the receive commits at once, one-phase)
    holds: str = ""
    # why this kind cannot run on this machine (a tool it is built with is missing)
    missing: str | None = None
    # a subscriber of a pub-sub tunnel (its link makes "t" pub-sub, its writer a guest)
    pubsub: bool = False
    # an end of a fan-in tunnel (its link makes "t" fan-in with the writer as its one
    # declared writer): its reader, a Wasm service reading the one handle over every
    # writer's ring, or that writer
    fan_in: bool = False

    def held(self, received: int) -> int:
        """How many of the ``received`` messages a call of recv_many still holds."""
        return {"": 0, "message": 1, "batch": received}[self.holds]


WRITERS = [
    Kind("host", lambda m, t: HostWriter(m.writer(t.name))),
    Kind("host-async", lambda m, t: AsyncHostWriter(m.writer(t.name))),
    Kind("host-packed", lambda m, t: PackedHostWriter(m.writer(t.name))),
    Kind("guest-send", lambda m, t: GuestWriter(m, SINGLE)),
    Kind("guest-batch", lambda m, t: GuestWriter(m, BATCH)),
    Kind("rust-send", lambda m, t: GuestWriter(m, SINGLE, rust=True), missing=RUST_MISSING),
    Kind("rust-batch", lambda m, t: GuestWriter(m, BATCH, rust=True), missing=RUST_MISSING),
    # the one declared writer of a fan-in tunnel (its own ring), read by a fan-in reader
    Kind("fan-in-host", lambda m, t: HostWriter(m.writer(t.name)), fan_in=True),
    Kind("fan-in-guest", lambda m, t: GuestWriter(m, BATCH), fan_in=True),
]
READERS = [
    Kind("host", lambda m, t: HostReader(m.reader(t.name)),
         {BUFFER: NO_BUFFER_WHY}),
    Kind("host-async", lambda m, t: AsyncHostReader(m.reader(t.name)),
         {BUFFER: NO_BUFFER_WHY}),
    Kind("host-packed", lambda m, t: PackedHostReader(m.reader(t.name)),
         {BUFFER: NO_BUFFER_WHY}),
    Kind("host-async-packed", lambda m, t: AsyncPackedHostReader(m.reader(t.name)),
         {BUFFER: NO_BUFFER_WHY}),
    Kind("guest-recv", lambda m, t: GuestReader(m, SINGLE, t.geometry.max_payload),
         holds="message"),
    Kind("guest-batch", lambda m, t: GuestReader(m, BATCH, t.geometry.max_payload),
         holds="batch"),
    Kind("rust-recv", lambda m, t: GuestReader(m, SINGLE, t.geometry.max_payload, rust=True),
         holds="message", missing=RUST_MISSING),
    Kind("rust-batch", lambda m, t: GuestReader(m, BATCH, t.geometry.max_payload, rust=True),
         holds="batch", missing=RUST_MISSING),
    Kind("guest-raw", lambda m, t: GuestReader(m, RAW, t.geometry.max_payload),
         {BUFFER: "reads in place: the message is never copied into a buffer"},
         holds="message"),
    Kind("tap", TapReader,
         {TRY: "a tap is an observer: it has no receive call, only its capture",
          BUFFER: "a tap copies whole slots: it has no buffer",
          CLOSE: "a tap only observes: it cannot close the tunnel"}),
    # blocking subscribers of a pub-sub tunnel: a reader guest as it is, and the host's
    Kind("subscriber-recv", lambda m, t: GuestReader(m, SINGLE, t.geometry.max_payload),
         {CLOSE: SUBSCRIBER_CLOSE}, holds="message", pubsub=True),
    Kind("subscriber-batch", lambda m, t: GuestReader(m, BATCH, t.geometry.max_payload),
         {CLOSE: SUBSCRIBER_CLOSE}, holds="batch", pubsub=True),
    Kind("subscriber-raw", lambda m, t: GuestReader(m, RAW, t.geometry.max_payload),
         {CLOSE: SUBSCRIBER_CLOSE,
          BUFFER: "reads in place: the message is never copied into a buffer"},
         holds="message", pubsub=True),
    Kind("subscriber-host", lambda m, t: HostReader(m.subscribe(t.name)),  # type: ignore[arg-type]
         {CLOSE: SUBSCRIBER_CLOSE, BUFFER: NO_BUFFER_WHY}, pubsub=True),
    # the reader of a fan-in tunnel of one writer: the guest ABI over the fan-in handle
    Kind("fan-in-recv", lambda m, t: GuestReader(m, SINGLE, t.geometry.max_payload),
         holds="message", fan_in=True),
    Kind("fan-in-batch", lambda m, t: GuestReader(m, BATCH, t.geometry.max_payload),
         holds="batch", fan_in=True),
]
HOST_WRITER, HOST_READER = WRITERS[0], READERS[0]
FAN_IN_READER = next(r for r in READERS if r.fan_in)  # fan-in-recv
FAN_IN_READER_WHY = ("a fan-in tunnel's reader is a service that reads every writer's ring "
                     "as one handle")
GUEST_WRITER = WRITERS[4]  # guest-batch: a pub-sub tunnel's writer is a service
SUBSCRIBER_AGENT = "r-agent"  # the reader agent's service: a declared subscriber
WRITER_AGENT = "w-agent"  # the writer agent's service


def fan_in_writer(writer: Kind) -> str:
    """The one declared writer of a fan-in link: the writer agent, or the host."""
    return WRITER_AGENT if writer.name.startswith(("guest", "rust", "fan-in-guest")) else "host"


def _param(writer: Kind, reader: Kind, needs: Sequence[str], side: str) -> Any:
    tested = writer if side == "writer" else reader
    why = [f"{tested.name} {side}: {tested.lacks[n]}" for n in needs if n in tested.lacks]
    why += [f"{k.name}: {k.missing}" for k in (writer, reader) if k.missing is not None]
    if reader.pubsub and not writer.name.startswith(("guest", "rust")):
        why.append(f"{reader.name}: {HOST_WRITER_WHY}")
    if writer.fan_in and not reader.fan_in:
        why.append(f"{writer.name}: {FAN_IN_READER_WHY}, not {reader.name}")
    marks = [pytest.mark.skip(reason="; ".join(why))] if why else []
    return pytest.param(writer, reader, id=f"{writer.name}>{reader.name}", marks=marks)


def writer_pairs(*needs: str) -> list[Any]:
    """Every writer kind, each read by a host reader (a fan-in writer: by a fan-in one)."""
    return [_param(w, FAN_IN_READER if w.fan_in else HOST_READER, needs, "writer")
            for w in WRITERS]


def reader_pairs(*needs: str) -> list[Any]:
    """Every reader kind, each fed by a host writer (a subscriber: by a guest one)."""
    return [_param(GUEST_WRITER if r.pubsub else HOST_WRITER, r, needs, "reader")
            for r in READERS]


def sides(*needs: str) -> list[Any]:
    """Every writer kind against a host reader, then every other reader kind
    against a host writer: each kind once on the side it implements."""
    return writer_pairs(*needs) + reader_pairs(*needs)[1:]


def every_pair() -> list[Any]:
    """The whole matrix: every writer kind against every reader kind (a fan-in
    writer against the fan-in readers only: no other reader can hold its tunnel)."""
    return [_param(w, r, (), "writer") for w in WRITERS for r in READERS
            if r.fan_in or not w.fan_in]


def make_writer(kind: Kind, mesh: Mesh, tunnel: Tunnel) -> Writer:
    end: Writer = kind.make(mesh, tunnel)
    return end


def make_reader(kind: Kind, mesh: Mesh, tunnel: Tunnel) -> Reader:
    end: Reader = kind.make(mesh, tunnel)
    return end
