"""docs/ring.md is checked against ring/layout.py: one source of truth."""

from __future__ import annotations

import re
from pathlib import Path

from nanonet.ring import layout as L

DOC = Path(__file__).resolve().parents[1] / "docs" / "ring.md"

FIELDS = {
    "magic": L.OFF_MAGIC, "version": L.OFF_VERSION, "slot_count": L.OFF_SLOT_COUNT,
    "slot_size": L.OFF_SLOT_SIZE, "closed": L.OFF_CLOSED, "quarantine": L.OFF_QUARANTINE,
    "header_size": L.OFF_HEADER_SIZE, "name_len": L.OFF_NAME_LEN, "name": L.OFF_NAME,
    "head": L.OFF_HEAD, "bytes_in": L.OFF_BYTES_IN, "full_count": L.OFF_FULL,
    "writer_parks": L.OFF_WRITER_PARKS, "writer_wakes": L.OFF_WRITER_WAKES,
    "tail": L.OFF_TAIL, "bytes_out": L.OFF_BYTES_OUT, "empty_count": L.OFF_EMPTY,
    "reader_parks": L.OFF_READER_PARKS, "reader_wakes": L.OFF_READER_WAKES,
    "reader_waiting": L.OFF_READER_WAITING, "writer_waiting": L.OFF_WRITER_WAITING,
    "tap_mode": L.OFF_TAP_MODE, "tap_tail": L.OFF_TAP_TAIL, "stamps": L.OFF_STAMPS,
    "latencies": L.OFF_LATENCIES, "dead_letters": L.OFF_DEAD_LETTERS,
    "broken": L.OFF_BROKEN, "writer_yield": L.OFF_WRITER_YIELD,
    "reader_yield": L.OFF_READER_YIELD, "subscribers": L.OFF_SUBSCRIBERS,
    "sub_lines": L.OFF_SUB_LINES,
}

LINE_FIELDS = {"tail": L.SUB_TAIL, "bytes_out": L.SUB_BYTES_OUT, "empty_count": L.SUB_EMPTY,
               "parks": L.SUB_PARKS, "wakes": L.SUB_WAKES, "missed": L.SUB_MISSED,
               "mode": L.SUB_MODE}


def _doc_offsets() -> dict[str, int]:
    header = DOC.read_text().split("### Subscriber lines")[0]
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", header, flags=re.M)
    return {name: int(off) for off, name in rows if name in FIELDS}


def test_every_subscriber_line_field_is_documented_at_its_offset() -> None:
    lines = DOC.read_text().split("### Subscriber lines")[1].split("\n#")[0]
    rows = re.findall(r"^\| \+(\d+) \| (\w+) \|", lines, flags=re.M)
    assert {name: int(off) for off, name in rows} == LINE_FIELDS
    assert f"`{L.VERSION_PUBSUB}`" in lines


def test_every_header_field_is_documented_at_its_offset() -> None:
    assert _doc_offsets() == FIELDS


def test_documented_constants_match() -> None:
    text = DOC.read_text()
    assert f"`{L.MAGIC:#010X}`".replace("0X", "0x") in text
    assert f"`{L.HEADER_SIZE}`: slots start here" in text
    assert f"≤ {L.MAX_NAME}" in text


def test_counters_of_each_side_share_no_cache_line() -> None:
    writer = {L.OFF_HEAD, L.OFF_BYTES_IN, L.OFF_FULL, L.OFF_WRITER_PARKS, L.OFF_WRITER_WAKES}
    reader = {L.OFF_TAIL, L.OFF_BYTES_OUT, L.OFF_EMPTY, L.OFF_READER_PARKS, L.OFF_READER_WAKES}

    def lines(offs: set[int]) -> set[int]:
        return {o // L.CACHE_LINE for o in offs}

    assert lines(writer) == {1}
    assert lines(reader) == {2}
    assert L.OFF_READER_WAITING // L.CACHE_LINE == L.OFF_WRITER_WAITING // L.CACHE_LINE == 3
