"""Typed tunnels: a WIT record per message, in the canonical ABI's layout.

    mesh.tunnel("packets", wit_type="nanonet:tunnel/types.packet")
    mesh.component("relay", wasm, imports={"send": "tunnel:packets"})
    mesh.typed_reader("packets").recv_value()   # {"stream-id": 1, ...}

A message is the record as the canonical ABI stores it in linear memory
(each field at its natural alignment, the record's size rounded up to its
largest alignment), followed by the bytes of its ``string`` and
``list<u8>`` fields in field order. Such a field's ``(ptr: u32, len: u32)``
pair holds the offset of its bytes from the start of the message (not an
address): a core guest reads the fixed part with plain loads and the
variable bytes at ``msg + ptr``. Decoding checks every offset and length
against the message (a hostile writer may put anything there).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidValue
from ..wit import PACKAGES
from .shapes import Shape

FIXED = {"bool": ("<B", 1), "u8": ("<B", 1), "s8": ("<b", 1), "u16": ("<H", 2),
         "s16": ("<h", 2), "u32": ("<I", 4), "s32": ("<i", 4), "char": ("<I", 4),
         "f32": ("<f", 4), "u64": ("<Q", 8), "s64": ("<q", 8), "f64": ("<d", 8)}
VARIABLE = ("string", "bytes")  # a (ptr, len) pair of u32: size 8, alignment 4
_SPAN = struct.Struct("<II")


@dataclass(frozen=True)
class Field:
    """One field: its WIT name, its kind (a FIXED key or a VARIABLE one), its offset."""

    name: str
    kind: str
    offset: int


def _kind(shape: Shape, where: str) -> str:
    if shape.kind in FIXED or shape.kind == "string":
        return shape.kind
    if shape.is_bytes:
        return "bytes"
    raise InvalidValue(f"{where} is {shape.wit()}; a typed tunnel's record has fields of "
                       "numbers, bool, char, string and list<u8> only")


def _align(at: int, to: int) -> int:
    return -(-at // to) * to


@dataclass(frozen=True)
class RecordLayout:
    """Where each field of one record type sits in a message."""

    wit_type: str
    fields: tuple[Field, ...]
    size: int  # the fixed part; variable bytes follow it

    @classmethod
    def of(cls, wit_type: str, shape: Shape) -> RecordLayout:
        """The canonical ABI layout of record ``shape`` (a RecordLayout's own type)."""
        if shape.kind != "record":
            raise InvalidValue(f"{wit_type} is {shape.wit()}; a typed tunnel carries a record")
        at, biggest, fields = 0, 1, []
        for name, item in zip(shape.names, shape.items, strict=True):
            assert item is not None
            kind = _kind(item, f"{wit_type} field {name!r}")
            width = 4 if kind in VARIABLE else FIXED[kind][1]
            at = _align(at, width)
            fields.append(Field(name, kind, at))
            at, biggest = at + (8 if kind in VARIABLE else width), max(biggest, width)
        return cls(wit_type, tuple(fields), _align(at, biggest))

    def matches(self, shape: Shape) -> bool:
        """Whether ``shape`` (say a component import's parameter) is this record."""
        try:
            other = RecordLayout.of(self.wit_type, shape)
        except InvalidValue:
            return False
        return other.fields == self.fields

    def describe(self) -> str:
        """``record packet {stream-id: u32, ...}`` for messages."""
        kinds = {"bytes": "list<u8>"}
        inner = ", ".join(f"{f.name}: {kinds.get(f.kind, f.kind)}" for f in self.fields)
        return f"{self.wit_type} {{{inner}}}"

    def encode(self, value: Mapping[str, Any]) -> bytes:
        """One message holding ``value`` (a mapping of every field name)."""
        fixed, tail = bytearray(self.size), bytearray()
        for f in self.fields:
            v = value[f.name]
            if f.kind in VARIABLE:
                data = v.encode() if f.kind == "string" else bytes(v)
                _SPAN.pack_into(fixed, f.offset, self.size + len(tail), len(data))
                tail += data
            else:
                struct.pack_into(FIXED[f.kind][0], fixed, f.offset,
                                 ord(v) if f.kind == "char" else v)
        return bytes(fixed + tail)

    def decode(self, msg: bytes) -> dict[str, Any]:
        """The record one message holds; InvalidValue if the message cannot be one."""
        if len(msg) < self.size:
            raise InvalidValue(f"a {self.wit_type} message has at least {self.size} bytes "
                               f"(got {len(msg)})")
        return {f.name: self._field(msg, f) for f in self.fields}

    def _field(self, msg: bytes, f: Field) -> Any:
        if f.kind not in VARIABLE:
            (v,) = struct.unpack_from(FIXED[f.kind][0], msg, f.offset)
            return bool(v) if f.kind == "bool" else _char(v) if f.kind == "char" else v
        ptr, n = _SPAN.unpack_from(msg, f.offset)
        if ptr < self.size or ptr + n > len(msg):
            raise InvalidValue(f"field {f.name!r} of a {self.wit_type} message points at "
                               f"bytes {ptr}..{ptr + n}, outside its {len(msg)} bytes")
        data = msg[ptr:ptr + n]
        if f.kind == "bytes":
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValue(f"field {f.name!r} of a {self.wit_type} message is not "
                               "UTF-8") from None


def _char(v: int) -> str:
    if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
        raise InvalidValue(f"a char field holds {v:#x}, not a Unicode scalar value")
    return chr(v)


# -- WIT records by name ------------------------------------------------------

_TYPE = re.compile(r"^([a-z][a-z0-9-]*:[a-z][a-z0-9-]*)/([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)$")
_FIELD = re.compile(r"^\s*([a-z][a-z0-9-]*)\s*:\s*([a-z0-9<>-]+)\s*,?\s*$")


def _package_text(package: str) -> str:
    for folder in PACKAGES.values():
        for path in sorted(folder.glob("*.wit")):
            text = path.read_text()
            if re.search(rf"^package {re.escape(package)}(@[^;]*)?;", text, re.M):
                return text
    raise InvalidValue(f"no bundled WIT package {package!r} (packages: "
                       f"{', '.join('nanonet:' + p for p in PACKAGES)})")


def _block(text: str, head: str, what: str, close: str) -> str:
    """The body of ``head { ... }`` up to the first line ``close`` matches."""
    m = re.search(rf"^\s*{head}\s*\{{(.*?){close}", text, re.M | re.S)
    if m is None:
        raise InvalidValue(f"no {what}")
    return m.group(1)


def _shape(text: str) -> Shape:
    if text == "list<u8>":
        return Shape("list", items=(Shape("u8"),))
    if text in FIXED or text == "string":
        return Shape(text)
    raise InvalidValue(f"a field of type {text}: a typed tunnel's record has fields of "
                       "numbers, bool, char, string and list<u8> only")


def wit_record(wit_type: str) -> RecordLayout:
    """The layout of ``package/interface.record`` from nanonet's WIT packages,
    e.g. ``nanonet:tunnel/types.packet``."""
    m = _TYPE.match(wit_type)
    if m is None:
        raise InvalidValue(f"a tunnel type is written package/interface.record, e.g. "
                           f"\"nanonet:tunnel/types.packet\" (got {wit_type!r})")
    package, iface, record = m.groups()
    text = re.sub(r"//[^\n]*", "", _package_text(package))
    inside = _block(text, f"interface {iface}", f"interface {iface} in {package}", r"^\}")
    body = _block(inside, f"record {record}", f"record {record} in {package}/{iface}",
                  r"^\s*\}")
    names, items = [], []
    for line in filter(str.strip, body.split("\n")):
        fm = _FIELD.match(line)
        if fm is None:
            raise InvalidValue(f"{wit_type}: cannot read the field {line.strip()!r}")
        names.append(fm.group(1))
        items.append(_shape(fm.group(2)))
    return RecordLayout.of(wit_type, Shape("record", tuple(names), tuple(items)))
