"""A typed tunnel's messages lowered into a component by copy, pointers moved.

    fixed = relocate(layout.shape, msg, base)   # msg's bytes, every pointer + base

A message is already the record's canonical memory image, its pointers
offsets from its first byte (typed.py). So once ``RecordLayout.decode`` has
checked it (every offset, length, case index, char and string), lowering it
into a reading import's result needs no Python values: the whole message is
written into one block the guest's ``realloc`` gives, and every pointer in
it moved by the block's address. Pointers are read from the checked
message and written into a copy, so that two pointers naming one buffer (a
hostile writer may do that) are each moved once. A ``bool`` byte is made 0
or 1, as the canonical ABI stores it. The record's fixed part then goes
where the result wants it: after an option's case byte in the return area,
or as one element of a list's buffer.
"""

from __future__ import annotations

import struct

from . import canon_layout as lay
from .canon_mem import Cx
from .shapes import Shape
from .typed import RecordLayout

_PAIR = struct.Struct("<II")
_DISC = {1: "<B", 2: "<H", 4: "<I"}


def _pointers(shape: Shape) -> bool:
    """Whether a value of ``shape`` holds a pointer or a bool (something to fix)."""
    if shape.kind in ("bool", "string", "list"):
        return True
    return any(s is not None and _pointers(s) for s in shape.items)


def _fix(shape: Shape, src: bytes, dst: bytearray, off: int, base: int) -> None:
    kind = shape.kind
    if kind == "bool":
        dst[off] = 1 if src[off] else 0
    elif kind in ("string", "list"):
        ptr, n = _PAIR.unpack_from(src, off)
        _PAIR.pack_into(dst, off, ptr + base, n)
        elem = shape.items[0] if kind == "list" else None
        if elem is not None and _pointers(elem):
            width = lay.size(elem)
            for i in range(n):
                _fix(elem, src, dst, ptr + i * width, base)
    elif kind in ("record", "tuple"):
        for item, at in zip(lay.fields(shape), lay.field_offsets(shape), strict=True):
            if _pointers(item):
                _fix(item, src, dst, off + at, base)
    elif kind in lay.VARIANTS:
        p = lay.plan(shape)
        (case,) = struct.unpack_from(_DISC[lay.discriminant_size(len(p.cases))], src, off)
        payload = p.cases[case]
        if payload is not None and _pointers(payload):
            _fix(payload, src, dst, off + p.payload, base)


def relocate(layout: RecordLayout, msg: bytes, base: int) -> bytearray:
    """``msg`` (checked by ``layout.decode``) with every pointer moved by ``base``."""
    out = bytearray(msg)
    _fix(layout.shape, msg, out, 0, base)
    return out


MAX_ALIGN = 8  # no canonical type aligns further: a message's buffers stay aligned


def lower(cx: Cx, layout: RecordLayout, msgs: list[bytes]) -> tuple[int, bytes]:
    """``msgs`` copied into one guest block, each at 8 bytes (its buffers are
    aligned from its start); their fixed parts, moved, in a row."""
    align = MAX_ALIGN
    starts, end = [], 0
    for msg in msgs:
        starts.append(at := lay.align_to(end, align))
        end = at + len(msg)
    base = cx.alloc(align, end) if msgs else 0
    block, fixed = bytearray(end), bytearray()
    for msg, at in zip(msgs, starts, strict=True):
        moved = relocate(layout, msg, base + at)
        block[at:at + len(msg)] = moved
        fixed += moved[:layout.size]
    cx.write(base, block)
    return base, bytes(fixed)


def store_option(cx: Cx, result: Shape, layout: RecordLayout, msg: bytes | None,
                 retptr: int) -> None:
    """An ``option<T>`` result at ``retptr``: none, or some and the record."""
    if msg is None:
        cx.write(retptr, b"\0")
        return
    _, fixed = lower(cx, layout, [msg])
    cx.write(retptr, b"\1" + bytes(lay.payload_offset(result) - 1) + fixed)


def store_list(cx: Cx, layout: RecordLayout, msgs: list[bytes], retptr: int) -> None:
    """A ``list<T>`` result at ``retptr``: the records' fixed parts in one buffer."""
    _, fixed = lower(cx, layout, msgs)
    array = cx.alloc(lay.alignment(layout.shape), len(fixed)) if msgs else 0
    cx.write(array, fixed)
    cx.write(retptr, _PAIR.pack(array, len(msgs)))
