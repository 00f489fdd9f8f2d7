"""docs/bridge.md is checked against bridge/frames.py: every frame's table
names its fields at their offsets, with their types, and the header and the
constants the page states are the code's."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from nanonet.bridge import frames as F

DOC = Path(__file__).resolve().parents[1] / "docs" / "bridge.md"
TYPES = {"B": "u8", "H": "u16", "I": "u32", "Q": "u64"}


def _tables() -> dict[str, list[tuple[int, str, str]]]:
    """Per ``### NAME (n)`` section, its ``| offset | field | type |`` rows
    with a fixed offset."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for title, body in re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", DOC.read_text(),
                                  flags=re.M | re.S):
        rows = re.findall(r"^\| (\d+) \| (\w+) \| (u\d+) \|", body, flags=re.M)
        for name in re.findall(r"([A-Z]+) \((\d+)\)", title):
            out[name[0]] = [(int(o), f, t) for o, f, t in rows]
            assert F.Kind[name[0]] == int(name[1]), title
    return out


def _layout(kind: F.Kind) -> list[tuple[int, str, str]]:
    rows, off = [], 0
    for field, code in F.LAYOUTS[kind]:
        rows.append((off, field, TYPES[code]))
        off += struct.calcsize("<" + code)
    return rows


def test_every_frame_type_has_its_table() -> None:
    assert set(_tables()) == {k.name for k in F.Kind}


def test_each_table_lists_the_fixed_fields_at_their_offsets() -> None:
    tables = _tables()
    for kind in F.Kind:
        assert tables[kind.name] == _layout(kind), kind.name


def test_the_header_and_the_limits_are_as_documented() -> None:
    text = DOC.read_text()
    header = re.search(r"\| 0 \| magic \| u16 \|.*?\n\n", text, flags=re.S)
    assert header is not None
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (u\d+) \|", header.group(0), flags=re.M)
    assert [(int(o), f, t) for o, f, t in rows] == [
        (0, "magic", "u16"), (2, "type", "u8"), (3, "flags", "u8"), (4, "length", "u32")]
    assert F.HEADER.format == "<HBBI"
    assert f"`{F.MAGIC:#06X}`".replace("0X", "0x") in text
    assert f"at most `{F.MAX_FRAME}`" in text
    assert f"1 to {F.MAX_BATCH}" in text and f"≤ {F.MAX_NAME}" in text
    assert f"≤ {F.MAX_REASON}" in text
    for code in F.Refusal:
        assert f"{int(code)} {code.name}" in text, code.name
    assert f"{F.ACK_REWIND} REWIND" in text and f"{F.ACK_ENDED} ENDED" in text
