"""Reading and writing a component binary's framing: LEB128 numbers, names, sections.

What ``compose.py`` needs to take a component apart at its section
boundaries and put a new one together (the Component Model's binary format,
``Binary.md``: preamble ``\\0asm`` + version 0x0d + layer 1, then sections of
``id:u8 size:u32 bytes``). Every read is bounds-checked: a truncated or
malformed binary is a ``LoadError``, never an IndexError.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LoadError
from ..policy.wasmbin import uleb128

PREAMBLE = b"\0asm\x0d\x00\x01\x00"

# section ids
CUSTOM, CORE_MODULE, CORE_INSTANCE, CORE_TYPE, COMPONENT = 0, 1, 2, 3, 4
INSTANCE, ALIAS, TYPE, CANON, START, IMPORT, EXPORT = 5, 6, 7, 8, 9, 10, 11

# sorts (what an index counts): core sort 0x00, then func, value, type, component, instance
SORT_CORE, SORT_FUNC, SORT_VALUE, SORT_TYPE, SORT_COMPONENT, SORT_INSTANCE = range(6)


class Reader:
    """A cursor over bytes whose every read is checked against the end."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise LoadError("component binary ends in the middle of a definition")
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise LoadError("component binary ends in the middle of a definition")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def _leb128(self) -> tuple[int, int, int]:
        """An LEB128 number's bits, how many bits, and its last byte (signed or not)."""
        value = shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, shift, b
            if shift > 35:
                raise LoadError("component binary holds an over-long LEB128 number")

    def u32(self) -> int:
        return self._leb128()[0]

    def s33(self) -> int:
        value, shift, last = self._leb128()
        return value - (1 << shift) if last & 0x40 else value

    def name(self) -> str:
        try:
            return self.take(self.u32()).decode()
        except UnicodeDecodeError:
            raise LoadError("component binary holds a name that is not UTF-8") from None

    @property
    def done(self) -> bool:
        return self.pos >= self.end


def u32(value: int) -> bytes:
    """Unsigned LEB128, as a core module writes it."""
    return uleb128(value)


def s33(value: int) -> bytes:
    out = bytearray()
    while True:
        b, value = value & 0x7F, value >> 7
        last = (value == 0 and not b & 0x40) or (value == -1 and b & 0x40)
        out.append(b if last else b | 0x80)
        if last:
            return bytes(out)


def name(text: str) -> bytes:
    raw = text.encode()
    return u32(len(raw)) + raw


def vec(items: list[bytes]) -> bytes:
    return u32(len(items)) + b"".join(items)


def section(sid: int, body: bytes) -> bytes:
    return bytes([sid]) + u32(len(body)) + body


@dataclass(frozen=True)
class Section:
    """One section: its id and where its body lies in the binary."""

    sid: int
    start: int
    end: int


def sections(binary: bytes) -> list[Section]:
    """The top-level sections of a component binary, in order."""
    if binary[:8] != PREAMBLE:
        raise LoadError("not a component binary (its preamble is not \\0asm, version 0x0d, "
                        "layer 1): compose takes components, not core modules or WAT text")
    r, out = Reader(binary, 8), []
    while not r.done:
        sid = r.byte()
        size = r.u32()
        r.take(size)
        out.append(Section(sid, r.pos - size, r.pos))
    return out
