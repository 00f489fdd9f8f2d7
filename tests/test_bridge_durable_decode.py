"""A durable tunnel's stored messages are read from a stream anyone with
access to the subject may publish to: ``jetstream.decode`` takes any bytes
and any headers and either returns a checked batch or raises
BridgeProtocolError, never anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanonet.bridge import jetstream as J
from nanonet.errors import BridgeProtocolError

TOKEN = b"k"


def _stored(lengths: list[int], fill: int = 7) -> tuple[bytes, dict[str, str]]:
    data = bytes((fill + i) % 256 for i in range(sum(lengths)))
    body = J.encode_batch(lengths, data)
    return body, J.headers(TOKEN, "run-0", body)


@given(st.lists(st.integers(0, 64), min_size=1, max_size=50))
def test_a_batch_reads_back_as_written(lengths: list[int]) -> None:
    body, hdrs = _stored(lengths)
    s = J.decode(TOKEN, body, hdrs, 64)
    assert s.count == len(lengths) and not s.end
    assert [s.bounds[i + 1] - s.bounds[i] for i in range(s.count)] == lengths
    assert J.count_of(body, hdrs) == len(lengths)


@given(st.binary(max_size=300), st.dictionaries(st.sampled_from(
    [J.MSG_ID, J.END, J.BREAK, J.MAC, "x"]), st.text(max_size=40), max_size=5))
def test_any_bytes_are_a_checked_batch_or_a_protocol_error(body: bytes,
                                                           hdrs: dict[str, str]) -> None:
    try:
        s = J.decode(TOKEN, body, hdrs, 64)
    except BridgeProtocolError:
        return
    assert s.bounds[-1] == len(s.data) and max(
        (s.bounds[i + 1] - s.bounds[i] for i in range(s.count)), default=0) <= 64


@given(st.binary(min_size=4, max_size=300))
def test_a_body_under_a_valid_mac_is_still_checked(body: bytes) -> None:
    """A node with the token that writes nonsense is refused too."""
    try:
        s = J.decode(TOKEN, body, J.headers(TOKEN, "run-0", body), 64)
    except BridgeProtocolError:
        return
    assert s.bounds[-1] == len(s.data)


@pytest.mark.parametrize("change, why", [
    (lambda b, h: (b, {**h, J.MAC: "0" * 32}), "MAC does not match"),
    (lambda b, h: (b[:-1], h), "MAC does not match"),
    (lambda b, h: (b, {**h, J.END: "closed"}), "MAC does not match"),
    (lambda b, h: (b, {**h, J.MSG_ID: "run-9"}), "MAC does not match"),
])
def test_a_changed_message_fails_its_mac(change: object, why: str) -> None:
    body, hdrs = _stored([3, 4])
    body2, hdrs2 = change(body, hdrs)  # type: ignore[operator]
    with pytest.raises(BridgeProtocolError, match=why):
        J.decode(TOKEN, body2, hdrs2, 64)
    with pytest.raises(BridgeProtocolError, match="MAC does not match"):
        J.decode(b"other", body, hdrs, 64)


@pytest.mark.parametrize("lengths, limit, why", [
    ([65], 64, "over the tunnel's max_payload 64"),
])
def test_a_message_over_max_payload_is_refused(lengths: list[int], limit: int,
                                               why: str) -> None:
    body, hdrs = _stored(lengths)
    with pytest.raises(BridgeProtocolError, match=why):
        J.decode(TOKEN, body, hdrs, limit)


def test_an_end_mark_carries_the_writers_break() -> None:
    hdrs = J.headers(TOKEN, "run-end-5", b"", "broken", (3, "shop", "trap"))
    s = J.decode(TOKEN, b"", hdrs, 64)
    assert (s.end, s.broken, s.count) == ("broken", (3, "shop", "trap"), 0)
    assert J.count_of(b"", hdrs) == 0
