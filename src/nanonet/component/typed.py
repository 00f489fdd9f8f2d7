"""Typed tunnels: a WIT record per message, in the canonical ABI's layout.

    mesh.tunnel("packets", wit_type="nanonet:tunnel/types.packet")
    mesh.component("relay", wasm, imports={"send": "tunnel:packets"})
    mesh.typed_reader("packets").recv_value()   # {"stream-id": 1, ...}

A message is the record as the canonical ABI stores it in a linear memory
that starts at the message's first byte: the record's fixed part at offset 0
(each field at its natural alignment, the size rounded up to the largest),
then every buffer a pointer in it names (a ``string``'s or a list's bytes,
each at its element's alignment, nested ones after the list holding them),
in the order the canonical ABI's ``store`` allocates them with a bump
allocator. A ``(ptr: u32, len: u32)`` pair therefore holds an offset from the
start of the message (not an address): a core guest reads the fixed part
with plain loads and a buffer at ``msg + ptr``. Fields may be of any kind
the canonical ABI layer carries (``canon_layout.carried``): numbers, bool,
char, strings, lists, records, tuples, variants, enums, options, results and
flags. Decoding checks every offset, length, discriminant, char and string
against the message (a hostile writer may put anything there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from ..errors import InvalidValue
from . import canon_layout as lay
from .canon_mem import Cx, load, store
from .shapes import Shape

FIXED = ("bool", "u8", "s8", "u16", "s16", "u32", "s32", "char", "f32", "u64", "s64", "f64")
VARIABLE = ("string", "bytes")  # a (ptr, len) pair of u32: size 8, alignment 4


@dataclass(frozen=True)
class Field:
    """One field: its WIT name, its kind (a FIXED or VARIABLE key, else its WIT
    type), its offset."""

    name: str
    kind: str
    offset: int


def key(shape: Shape | None) -> Any:
    """``shape``'s structure (kinds, names, inner types), without wasmtime-py's objects."""
    if shape is None:
        return None
    return (shape.kind, shape.names, tuple(key(s) for s in shape.items))


def wit_text(shape: Shape | None) -> str:
    """The type as WIT writes it, fields and cases with their types."""
    if shape is None:
        return "_"
    inner = [wit_text(s) for s in shape.items]
    if shape.kind in ("list", "option", "tuple", "result"):
        return f"{shape.kind}<{', '.join(inner)}>"
    if shape.kind == "record":
        return "{" + ", ".join(f"{n}: {t}" for n, t in zip(shape.names, inner,
                                                            strict=True)) + "}"
    if shape.kind == "variant":
        cases = [n if s is None else f"{n}({wit_text(s)})"
                 for n, s in zip(shape.names, shape.items, strict=True)]
        return "variant {" + ", ".join(cases) + "}"
    if shape.kind in ("enum", "flags"):
        return f"{shape.kind} {{{', '.join(shape.names)}}}"
    return shape.kind


def _check(shape: Shape, where: str) -> None:
    if not lay.carried(shape) or shape.kind.startswith("<"):
        raise InvalidValue(f"{where} is {shape.wit()}; a typed tunnel carries no resources, "
                           "futures or streams")
    if shape.kind == "list":
        elem = shape.items[0]
        assert elem is not None
        if lay.size(elem) == 0:
            raise InvalidValue(f"{where} is a list of {wit_text(elem)}, which takes no bytes: "
                               "a message could not bound its length")
    for item in shape.items:
        if item is not None:
            _check(item, where)


class _Message(Cx):
    """One message as the linear memory a value is stored into or loaded from,
    its first byte address 0; ``alloc`` bumps at the end, zero-filling."""

    def __init__(self, wit_type: str, data: bytes | bytearray = b"") -> None:
        super().__init__(None, None, None)
        self.wit_type, self.data = wit_type, bytearray(data)

    def read(self, ptr: int, length: int, fault: str) -> bytes:
        if ptr + length > len(self.data):
            raise InvalidValue(f"a {self.wit_type} message points at bytes {ptr}..{ptr + length}"
                               f", outside its {len(self.data)} bytes")
        return bytes(self.data[ptr:ptr + length])

    def write(self, ptr: int, data: bytes | bytearray) -> None:
        self.data[ptr:ptr + len(data)] = data

    def alloc(self, align: int, length: int) -> int:
        at = lay.align_to(len(self.data), align)
        self.data.extend(bytes(at + length - len(self.data)))
        return at


@dataclass(frozen=True)
class RecordLayout:
    """Where each field of one record type sits in a message."""

    wit_type: str
    shape: Shape
    fields: tuple[Field, ...]
    size: int  # the fixed part; the buffers follow it

    @classmethod
    def of(cls, wit_type: str, shape: Shape) -> RecordLayout:
        """The canonical ABI layout of record ``shape`` (a RecordLayout's own type)."""
        if shape.kind != "record":
            raise InvalidValue(f"{wit_type} is {shape.wit()}; a typed tunnel carries a record")
        for name, item in zip(shape.names, shape.items, strict=True):
            assert item is not None
            _check(item, f"{wit_type} field {name!r}")
        fields = tuple(Field(n, _kind(s), at) for n, s, at in
                       zip(shape.names, lay.fields(shape), lay.field_offsets(shape),
                           strict=True))
        return cls(wit_type, shape, fields, lay.size(shape))

    def matches(self, shape: Shape) -> bool:
        """Whether ``shape`` (say a component import's parameter) is this record."""
        return bool(key(shape) == key(self.shape))

    def describe(self) -> str:
        """``nanonet:tunnel/types.packet {stream-id: u32, ...}`` for messages."""
        return f"{self.wit_type} {wit_text(self.shape)}"

    def encode(self, value: Mapping[str, Any] | Any) -> bytes:
        """One message holding ``value`` (a dict of every field, or an object
        with snake_case attributes, as component calls take records)."""
        msg = _Message(self.wit_type)
        buf = bytearray(self.size)
        msg.alloc(lay.alignment(self.shape), self.size)
        store(msg, self.shape, value, buf, 0)
        msg.write(0, buf)
        return bytes(msg.data)

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record one message holds; InvalidValue if the message cannot be one."""
        if len(data) < self.size:
            raise InvalidValue(f"a {self.wit_type} message has at least {self.size} bytes "
                               f"(got {len(data)})")
        msg = _Message(self.wit_type, data)
        try:
            value: dict[str, Any] = load(msg, self.shape, data, 0)
        except wasmtime.WasmtimeError as err:
            raise InvalidValue(f"a {self.wit_type} message is not one: {err}") from None
        return value


def _kind(shape: Shape) -> str:
    if shape.kind in FIXED or shape.kind == "string":
        return shape.kind
    return "bytes" if shape.is_bytes else wit_text(shape)


def wit_record(wit_type: str, wit: str | Path | None = None) -> RecordLayout:
    """The layout of ``package/interface.record``, e.g. ``nanonet:tunnel/types.packet``,
    read from nanonet's WIT packages or from ``wit`` (a ``.wit`` file or a folder of them)."""
    from .wittypes import resolve

    return RecordLayout.of(wit_type, resolve(wit_type, wit))
