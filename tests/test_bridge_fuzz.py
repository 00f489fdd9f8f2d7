"""Whatever a bridge peer sends, a session either takes it or raises
BridgeProtocolError: never another exception, never a hang, and never more
buffered than one frame (hypothesis over raw bytes and over well-formed
frames with hostile fields, on the stream and as QUIC datagrams of a tunnel
that opts into loss)."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.bridge import frames as F
from nanonet.bridge.session import ReceiverSession, SenderSession, Timing
from nanonet.errors import BridgeProtocolError

T = Timing()
u16, u32, u64 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFF_FFFF), st.integers(0, F.U64)


def _receiver(opened: bool, datagrams: bool = False) -> ReceiverSession:
    r = ReceiverSession("t", 64, b"k", 0, 32, 0.0, T, datagrams=datagrams)
    if opened:
        r.receive_data(F.hello(1, 1, 64, 7, b"t", b"k", datagrams), 0.0)
    return r


def _sender(opened: bool, datagrams: bool = False) -> SenderSession:
    s = SenderSession("t", 64, b"k", 0, 0.0, T, datagrams=datagrams)
    s.handle_timer(0.0)
    if opened:
        s.receive_data(F.welcome(1, 32, s.nonce, 0), 0.0)
        s.send_data(0, array("I", [3]), b"abc")
    return s


def _feed(session: ReceiverSession | SenderSession, chunks: list[bytes],
          as_datagrams: bool = False) -> None:
    take = session.receive_datagram if as_datagrams else session.receive_data
    try:
        for i, chunk in enumerate(chunks):
            take(chunk, float(i))
            while session.next_event() is not None:
                pass
            session.data_to_send(float(i))
            session.handle_timer(float(i) + 0.5)
    except BridgeProtocolError:
        return
    assert len(session._decoder._buf) <= F.MAX_FRAME  # one frame at most


def _frame(kind: int, body: bytes, flags: int = 0) -> bytes:
    return F.HEADER.pack(F.MAGIC, kind, flags, len(body)) + body


frame_bodies = st.one_of(
    st.builds(F.hello, u16, u16, u32, u64, st.binary(max_size=40), st.binary(max_size=40)),
    st.builds(F.welcome, u16, u32, u64, u64),
    st.builds(lambda c, r: F.refuse(c, r), u16, st.text(max_size=30)),
    st.builds(lambda first, lens: F.data(first, array("I", lens), b"x" * sum(lens)),
              u64, st.lists(st.integers(0, 80), max_size=40)),
    st.builds(lambda first, lens: F.data(first, array("I", lens), b"x" * sum(lens),
                                         F.Kind.DGRAM),
              st.integers(0, 64), st.lists(st.integers(0, 80), max_size=12)),
    st.builds(F.sent, u64), st.builds(F.sent, st.integers(0, 40)),
    st.builds(F.hello, u16, u16, u32, u64, st.binary(max_size=8), st.binary(max_size=8),
              st.booleans()),
    st.builds(F.ack, u64, u32, u32), st.builds(F.ping, u64), st.builds(F.pong, u64),
    st.builds(F.close, u64),
    st.builds(_frame, st.integers(0, 12), st.binary(max_size=64), st.integers(0, 3)),
    st.binary(max_size=64),
)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=200), max_size=20), opened=st.booleans())
def test_raw_bytes_to_a_receiver(chunks: list[bytes], opened: bool) -> None:
    _feed(_receiver(opened), chunks)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=200), max_size=20), opened=st.booleans())
def test_raw_bytes_to_a_sender(chunks: list[bytes], opened: bool) -> None:
    _feed(_sender(opened), chunks)


@settings(max_examples=500, deadline=None)
@given(frames=st.lists(frame_bodies, max_size=25), opened=st.booleans(), split=st.integers(1, 9))
def test_hostile_frames_to_a_receiver(frames: list[bytes], opened: bool, split: int) -> None:
    wire = b"".join(frames)
    _feed(_receiver(opened), [wire[i: i + split] for i in range(0, len(wire), split)])


@settings(max_examples=500, deadline=None)
@given(frames=st.lists(frame_bodies, max_size=25), opened=st.booleans())
def test_hostile_frames_to_a_sender(frames: list[bytes], opened: bool) -> None:
    _feed(_sender(opened), frames)


@settings(max_examples=500, deadline=None)
@given(frames=st.lists(frame_bodies, max_size=25), opened=st.booleans(), split=st.integers(1, 9))
def test_hostile_frames_to_a_lossy_receiver(frames: list[bytes], opened: bool,
                                            split: int) -> None:
    wire = b"".join(frames)
    _feed(_receiver(opened, True), [wire[i: i + split] for i in range(0, len(wire), split)])


@settings(max_examples=500, deadline=None)
@given(frames=st.lists(frame_bodies | st.binary(max_size=200), max_size=25),
       opened=st.booleans(), lossy=st.booleans())
def test_hostile_datagrams_to_a_receiver(frames: list[bytes], opened: bool, lossy: bool) -> None:
    """Each item one QUIC datagram: read alone, never joined to the stream."""
    _feed(_receiver(opened, lossy), frames, as_datagrams=True)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(frame_bodies, max_size=25), opened=st.booleans())
def test_hostile_frames_to_a_lossy_sender(frames: list[bytes], opened: bool) -> None:
    _feed(_sender(opened, True), frames)


def test_a_header_claiming_a_huge_body_is_refused_before_buffering() -> None:
    r = _receiver(True)
    with pytest.raises(BridgeProtocolError, match="limit"):
        r.receive_data(F.HEADER.pack(F.MAGIC, F.Kind.DATA, 0, 0xFFFF_FFFF), 0.0)
    assert len(r._decoder._buf) <= F.HEADER.size  # the header only, never its body


@given(st.lists(st.builds(F.ping, u64) | st.builds(F.ack, u64, u32, u32), max_size=30))
def test_byte_at_a_time_decodes_as_whole(frames: list[bytes]) -> None:
    wire = b"".join(frames)
    whole = F.FrameDecoder().feed(wire)
    dec = F.FrameDecoder()
    one = [f for i in range(len(wire)) for f in dec.feed(wire[i: i + 1])]
    assert [(f.kind, f.fields) for f in one] == [(f.kind, f.fields) for f in whole]


def test_a_ping_flood_leaves_one_pong_pending() -> None:
    r = _receiver(True)
    r.receive_data(b"".join(F.ping(i) for i in range(10_000)), 0.0)
    out = r.data_to_send(0.0)
    assert [F.HEADER.unpack_from(f)[1] for f in out].count(F.Kind.PONG) == 1
