"""The peeking read end (ring/peek.py): receives leave the tail, commit_to
gives slots back, rewind receives again; the writer's room is what was
committed."""

from __future__ import annotations

import threading

import pytest

from nanonet import Mesh
from nanonet.errors import InvalidValue, TunnelClosed
from nanonet.ring.adapter import Direction
from nanonet.ring.endpoint import TunnelWriter
from nanonet.ring.peek import PeekingReader


def _ends(mesh: Mesh, slots: int = 8) -> tuple[TunnelWriter, PeekingReader]:
    mesh.tunnel("t", slots=slots, max_payload=32)
    w = mesh.writer("t")
    t = mesh.tunnels["t"]
    t.take(Direction.READ, "<bridge>")
    return w, PeekingReader(t.ring, t.control)


def test_peeked_messages_stay_in_the_ring_until_committed(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    assert w.try_send_many([b"m%d" % i for i in range(8)]) == 8
    first, got = r.peek_packed()
    assert (first, list(got)) == (0, [b"m%d" % i for i in range(8)])
    assert r.statistics().received == 0 and r.committed == 0 and r.position == 8
    assert not w.try_send(b"full")
    r.commit_to(3)
    assert r.statistics().received == 3 and r.statistics().bytes_out == 6
    assert w.try_send_many([b"x", b"y", b"z", b"no room"]) == 3


def test_rewind_receives_the_uncommitted_messages_again(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    w.try_send_many([b"a", b"b", b"c", b"d"])
    r.peek_packed(3)
    r.commit_to(1)
    r.rewind(1)
    first, got = r.peek_packed()
    assert (first, list(got)) == (1, [b"b", b"c", b"d"])
    with pytest.raises(InvalidValue, match="cannot rewind to 0"):
        r.rewind(0)
    with pytest.raises(InvalidValue, match="cannot commit up to 9"):
        r.commit_to(9)


def test_commit_past_the_peek_position_moves_it(mesh: Mesh) -> None:
    """A restarted bridge learns the far side already has messages it never
    peeked in this life: it commits them and reads on after them."""
    w, r = _ends(mesh)
    w.try_send_many([b"a", b"b", b"c"])
    r.commit_to(2)
    assert (r.committed, r.position) == (2, 2)
    assert list(r.peek_packed()[1]) == [b"c"]


def test_every_receive_form_peeks(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    w.try_send_many([b"a", b"b", b"c"])
    assert r.try_recv() == b"a" and r.recv_many(1) == [b"b"] and r.recv() == b"c"
    assert r.statistics().received == 0


def test_a_closed_ring_ends_after_the_peek_position_reaches_head(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    w.try_send_many([b"a", b"b"])
    w.close()
    assert len(r.peek_packed()[1]) == 2
    with pytest.raises(TunnelClosed):
        r.peek_packed()
    r.rewind(0)  # nothing was committed: the messages are still there to be sent again
    assert len(r.peek_packed()[1]) == 2


def test_idle_means_everything_published_was_peeked_and_committed(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    assert r.idle()
    w.send(b"a")
    assert not r.idle()
    r.peek_packed()
    assert not r.idle()  # peeked, not yet committed
    r.commit_to(1)
    assert r.idle()


def test_a_park_on_an_idle_ring_ends_when_the_writer_publishes(mesh: Mesh) -> None:
    w, r = _ends(mesh)
    sender = threading.Thread(target=w.send, args=(b"wake",))
    sender.start()
    while r.idle():
        r.park(50_000_000)
    sender.join()
    assert list(r.peek_packed()[1]) == [b"wake"]
