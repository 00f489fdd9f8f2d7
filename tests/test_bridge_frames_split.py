"""The frame decoder's two paths: frames read straight from immutable bytes
(bodies sliced, not copied) and frames gathered across chunks. Both must
give the same frames for every cut of the same bytes, and a frame fed from
a mutable buffer must not change when that buffer does."""

from __future__ import annotations

from array import array

from nanonet.bridge import frames as F

WIRE = [F.ping(7), F.data(3, array("I", [2, 0, 5]), b"abcdefg"), F.ack(10, 4),
        F.close(10)]


def _decoded(chunks: list[bytes | memoryview]) -> list[tuple[F.Kind, tuple[int, ...], bytes]]:
    d = F.FrameDecoder()
    out = []
    for c in chunks:
        out += [(f.kind, f.fields, bytes(f.rest)) for f in d.feed(c)]
    return out


def test_every_cut_of_a_wire_message_decodes_the_same() -> None:
    whole = b"".join(WIRE)
    want = _decoded([whole])
    assert [k for k, _, _ in want] == [F.Kind.PING, F.Kind.DATA, F.Kind.ACK, F.Kind.CLOSE]
    for cut in range(1, len(whole)):
        assert _decoded([whole[:cut], whole[cut:]]) == want, cut
        mutable = [memoryview(bytearray(whole[:cut])), memoryview(bytearray(whole[cut:]))]
        assert _decoded(list(mutable)) == want, cut


def test_a_frame_fed_from_a_mutable_buffer_is_its_own_copy() -> None:
    buf = bytearray(WIRE[1])
    frame = F.FrameDecoder().feed(memoryview(buf))[0]
    before = bytes(frame.rest)
    buf[-7:] = b"zzzzzzz"
    assert bytes(frame.rest) == before
