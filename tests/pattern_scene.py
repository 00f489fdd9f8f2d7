"""A running mesh that uses every messaging pattern, with counters worth showing:
a pub-sub tunnel with a lagging blocking subscriber and a lapped lossy one, a
fan-in tunnel of two host writers read by a Wasm merger (which waits on its
bell), a port served by the host and called by a host client (one call times
out, so its reply comes late), and a Wasm relay upgraded once. The views'
tests (``nanonet top``, the dashboard) check that each shows up."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from conftest import guest, wait_until
from nanonet import CallTimeout, Mesh, TunnelSubscriber

NEWS_SLOTS = 16
SENT_A, SENT_B = 5, 3  # what the fan-in tunnel's two host writers send
LAG = 5  # messages the blocking subscriber leaves unread
CALLS = 20
SLOW = b"slow"


def _handler(request: bytes) -> bytes:
    if request == SLOW:
        time.sleep(0.3)  # past the caller's deadline: its reply is dropped as late
    return request


def _pub_sub(mesh: Mesh, steady: TunnelSubscriber, lossy: TunnelSubscriber) -> None:
    """The Wasm publisher sends 3 rings' worth and LAG more: the blocking subscriber
    reads the 3 rings' worth (and so holds it back), the lossy one reads nothing
    until the end, lapped."""
    for _ in range(3 * NEWS_SLOTS):
        steady.recv(timeout=10)
    wait_until(lambda: steady.lag() == LAG, "the publisher sent all")
    lossy.recv(timeout=10)  # it learns what it missed


def _fan_in(mesh: Mesh, writers: list[object]) -> None:
    a, b = mesh.writer("in"), mesh.writer("in")
    writers += [a, b]
    for seq in range(SENT_A):
        a.send(struct.pack("<II", 0, seq) + bytes(8), timeout=10)
    for seq in range(SENT_B):
        b.send(struct.pack("<II", 1, seq) + bytes(8), timeout=10)
    out = mesh.reader("out")
    for _ in range(SENT_A + SENT_B):
        out.recv(timeout=20)


def _port(mesh: Mesh) -> None:
    client = mesh.client("rpc")
    for i in range(CALLS):
        assert client.call(b"c%d" % i, timeout=10) == b"c%d" % i
    with pytest.raises(CallTimeout):
        client.call(SLOW, timeout=0.05)
    wait_until(lambda: mesh.port_statistics()["rpc"].late == 1, "the late reply was dropped")


def _upgrade(mesh: Mesh) -> None:
    source = guest("upgradable")
    mesh.upgrade("relay", source.replace("MARK", "128"))


@contextmanager
def pattern_mesh() -> Iterator[Mesh]:
    """The mesh, started, each pattern's traffic done; closed after the block."""
    with Mesh() as mesh:
        mesh.tunnel("news", slots=NEWS_SLOTS, max_payload=32, max_subscribers=2)
        mesh.service("publisher", guest("tagged_sender"), writes=["news"]).call(
            "configure", 7, 3 * NEWS_SLOTS + LAG, 16)
        steady, lossy = mesh.subscribe("news", "block"), mesh.subscribe("news", "lossy")
        mesh.tunnel("in", slots=16, max_payload=56, writers=["host", "host"])
        mesh.tunnel("out", slots=64, max_payload=56)
        mesh.service("merge", guest("merger"), reads=["in"], writes=["out"]).call(
            "configure", 1, -1)
        mesh.port("rpc", clients=0, host_clients=2)  # a second for the views' tests
        mesh.serve("rpc", _handler)
        mesh.tunnel("a", slots=64, max_payload=8)
        mesh.tunnel("b", slots=64, max_payload=8)
        mesh.service("relay", guest("upgradable").replace("MARK", "0"), reads=["a"],
                     writes=["b"])
        held: list[object] = []  # the host's ends stay open while the views look
        held += [mesh.writer("a"), mesh.reader("b"), steady, lossy]
        mesh.start()
        _pub_sub(mesh, steady, lossy)
        _fan_in(mesh, held)
        _port(mesh)
        _upgrade(mesh)
        yield mesh
