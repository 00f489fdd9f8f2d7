"""A small reader for the WebAssembly binary format: just enough to verify.

The raw-access verifier (``verify.py``) must see every instruction of every
function exactly as the engine will, so this module decodes the immediates of
every instruction nanonet's engine accepts (MVP, sign extension, saturating
conversions, bulk memory, reference types, tail calls, multi-memory, threads,
SIMD and relaxed SIMD). It parses untrusted bytes: every read is bounded, and
anything malformed or unknown raises ``WasmFormatError`` or ``UnknownOpcode``,
never anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


def uleb128(value: int) -> bytes:
    """``value`` as unsigned LEB128: what the module rewrites (start sections,
    watched growths) write back into a binary."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class WasmFormatError(Exception):
    """The bytes are not a well-formed module (at ``offset``)."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"{what} at byte {offset:#x}")
        self.offset = offset
        self.what = what


class UnknownOpcode(WasmFormatError):
    """An instruction this decoder does not know, so it cannot vouch for it."""


class Reader:
    """A cursor over ``data[pos:end]``; every read checks its bounds."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else min(end, len(data))

    @property
    def done(self) -> bool:
        return self.pos >= self.end

    def fail(self, what: str) -> WasmFormatError:
        return WasmFormatError(self.pos, what)

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end")
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.fail(f"{n} bytes past the end")
        self.pos += n
        return self.data[self.pos - n: self.pos]

    def peek(self) -> int | None:
        """The next byte, not consumed (None at the end)."""
        return self.data[self.pos] if self.pos < self.end else None

    def leb(self, bits: int, signed: bool = False) -> int:
        """An LEB128 integer of at most ``bits`` bits, read as strictly as the
        engine: the unused bits of a last byte must be zero (or, signed, copies
        of the sign bit)."""
        result = shift = 0
        while True:
            b = self.byte()
            if shift + 7 >= bits:  # the last byte this width allows
                used = bits - shift
                if b & 0x80 or (b >> (used - (1 if signed else 0))) not in (
                        (0, 0x7F >> (used - 1)) if signed else (0,)):
                    raise self.fail(f"LEB128 integer too large for {bits} bits")
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if signed and b & 0x40:
                    result -= 1 << shift
                return result

    def u32(self) -> int:
        return self.leb(32)

    def name(self) -> str:
        at = self.pos
        raw = self.take(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasmFormatError(at, "a name that is not UTF-8") from None

    def sub(self, size: int) -> Reader:
        """A reader over the next ``size`` bytes; this one skips past them."""
        if size > self.end - self.pos:
            raise self.fail(f"a section of {size} bytes runs past the end")
        inner = Reader(self.data, self.pos, self.pos + size)
        self.pos += size
        return inner


# -- types ----------------------------------------------------------------

REF_PREFIXES = (0x63, 0x64)  # (ref null ht), (ref ht): a heap type follows
NUM_TYPES = frozenset({0x7F, 0x7E, 0x7D, 0x7C, 0x7B})  # i32 i64 f32 f64 v128
# abstract heap types, also the one-byte reference types (funcref 0x70, externref
# 0x6f, anyref, eqref, i31ref, structref, arrayref, exnref and the null types)
ABSTRACT_HEAP = frozenset(range(0x69, 0x75))


def skip_heaptype(r: Reader) -> None:
    """An abstract heap type (one byte) or a type index (a non-negative s33)."""
    if r.peek() in ABSTRACT_HEAP:
        r.pos += 1
    elif r.leb(33, signed=True) < 0:
        raise WasmFormatError(r.pos - 1, "invalid heap type")


def skip_valtype(r: Reader) -> None:
    b = r.byte()
    if b in REF_PREFIXES:
        skip_heaptype(r)
    elif b not in NUM_TYPES and b not in ABSTRACT_HEAP:
        raise WasmFormatError(r.pos - 1, f"invalid value type {b:#x}")


def skip_limits(r: Reader) -> tuple[int, int | None, bool]:
    """Limits of a memory or table: (min, max or None, shared)."""
    flags = r.byte()
    if flags & ~0x0F:
        raise r.fail(f"limits flags {flags:#x}")
    wide = 64 if flags & 4 else 32  # memory64 / table64 limits are u64
    lo = r.leb(wide)
    hi = r.leb(wide) if flags & 1 else None
    if flags & 8:
        r.u32()  # custom page size (log2)
    return lo, hi, bool(flags & 2)


def skip_blocktype(r: Reader) -> None:
    """Empty (0x40), one value type, or a type index (a non-negative s33)."""
    b = r.peek()
    if b == 0x40:
        r.pos += 1
    elif b is not None and 0x40 <= b < 0x80:  # one byte with bit 6 set: a value type
        skip_valtype(r)
    elif r.leb(33, signed=True) < 0:
        raise WasmFormatError(r.pos - 1, "invalid block type")


# -- instructions -----------------------------------------------------------


@dataclass(frozen=True)
class Instr:
    """One decoded instruction: where it starts, its name, what memory it writes."""

    offset: int
    name: str
    writes: int | None = None  # the memory index it may write, if any
    depth: int = 0  # nesting after it; -1 once the body's final ``end`` is read


_MVP_NONE = {0x00: "unreachable", 0x01: "nop", 0x05: "else", 0x0B: "end", 0x0F: "return",
             0x1A: "drop", 0x1B: "select", 0xD1: "ref.is_null"}
_MVP_U32 = {0x0C: "br", 0x0D: "br_if", 0x10: "call", 0x12: "return_call", 0x20: "local.get",
            0x21: "local.set", 0x22: "local.tee", 0x23: "global.get", 0x24: "global.set",
            0x25: "table.get", 0x26: "table.set", 0xD2: "ref.func"}
_MVP_U32X2 = {0x11: "call_indirect", 0x13: "return_call_indirect"}
_BLOCKS = {0x02: "block", 0x03: "loop", 0x04: "if"}
_LOADS = ["i32.load", "i64.load", "f32.load", "f64.load", "i32.load8_s", "i32.load8_u",
          "i32.load16_s", "i32.load16_u", "i64.load8_s", "i64.load8_u", "i64.load16_s",
          "i64.load16_u", "i64.load32_s", "i64.load32_u"]  # 0x28..0x35
_STORES = ["i32.store", "i64.store", "f32.store", "f64.store", "i32.store8", "i32.store16",
           "i64.store8", "i64.store16", "i64.store32"]  # 0x36..0x3e
_CONST_BYTES = {0x43: ("f32.const", 4), 0x44: ("f64.const", 8)}
_NUMERIC = range(0x45, 0xC5)  # numeric and sign-extension operators: no immediates


def memarg(r: Reader) -> int:
    """Read a memarg; returns its memory index (bit 6 of the flags: one follows)."""
    flags = r.u32()
    mem = r.u32() if flags & 0x40 else 0
    if flags & ~0x7F:
        raise r.fail("memory alignment flags too large")
    r.leb(64)  # offset
    return mem


def _atomic_names() -> dict[int, str]:
    widths = ["i32.atomic.{}", "i64.atomic.{}", "i32.atomic.{}8_u", "i32.atomic.{}16_u",
              "i64.atomic.{}8_u", "i64.atomic.{}16_u", "i64.atomic.{}32_u"]
    names = {0x10 + i: w.format("load") for i, w in enumerate(widths)}
    names |= {0x17 + i: w.format("store").removesuffix("_u") for i, w in enumerate(widths)}
    rmw = ["add", "sub", "and", "or", "xor", "xchg", "cmpxchg"]
    rmw_widths = ["i32.atomic.rmw.{}", "i64.atomic.rmw.{}", "i32.atomic.rmw8.{}_u",
                  "i32.atomic.rmw16.{}_u", "i64.atomic.rmw8.{}_u", "i64.atomic.rmw16.{}_u",
                  "i64.atomic.rmw32.{}_u"]
    for k, op in enumerate(rmw):
        for j, w in enumerate(rmw_widths):
            names[0x1E + 7 * k + j] = w.format(op)
    return names


ATOMIC = _atomic_names()
ATOMIC[0x00] = "memory.atomic.notify"
ATOMIC[0x01] = "memory.atomic.wait32"
ATOMIC[0x02] = "memory.atomic.wait64"
ATOMIC_WRITES = range(0x17, 0x4F)  # stores, read-modify-writes, compare-exchanges

# 0xfd: SIMD opcodes the engine does not assign (the rest of 0..0x113 exist)
SIMD_GAPS = frozenset({0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB, 0xC2,
                       0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE})
SIMD_LAST = 0x113  # relaxed SIMD ends here
SIMD_STORE_LANE = {0x58: "v128.store8_lane", 0x59: "v128.store16_lane",
                   0x5A: "v128.store32_lane", 0x5B: "v128.store64_lane"}


def _simd(r: Reader, at: int) -> Instr:
    op = r.u32()
    name = f"simd {op:#x}"
    if op == 0x0B:
        return Instr(at, "v128.store", memarg(r))
    if op <= 0x0A or op in (0x5C, 0x5D):
        memarg(r)
    elif op in (0x0C, 0x0D):
        r.take(16)
    elif 0x15 <= op <= 0x22:
        r.byte()  # lane index
    elif 0x54 <= op <= 0x5B:
        mem = memarg(r)
        r.byte()
        if op in SIMD_STORE_LANE:
            return Instr(at, SIMD_STORE_LANE[op], mem)
    elif op > SIMD_LAST or op in SIMD_GAPS:
        raise UnknownOpcode(at, f"unknown instruction 0xfd {op:#x}")
    return Instr(at, name)


def _atomic(r: Reader, at: int) -> Instr:
    op = r.u32()
    if op == 0x03:
        if r.byte() != 0:
            raise r.fail("atomic.fence flags")
        return Instr(at, "atomic.fence")
    if op not in ATOMIC:
        raise UnknownOpcode(at, f"unknown instruction 0xfe {op:#x}")
    mem = memarg(r)
    return Instr(at, ATOMIC[op], mem if op in ATOMIC_WRITES else None)


_FC_NAMES = {8: "memory.init", 9: "data.drop", 10: "memory.copy", 11: "memory.fill",
             12: "table.init", 13: "elem.drop", 14: "table.copy", 15: "table.grow",
             16: "table.size", 17: "table.fill"}


def _misc(r: Reader, at: int) -> Instr:
    op = r.u32()
    if op <= 7:
        return Instr(at, f"trunc_sat {op}")
    if op not in _FC_NAMES:
        raise UnknownOpcode(at, f"unknown instruction 0xfc {op:#x}")
    name = _FC_NAMES[op]
    if op in (8, 10):  # memory.init data mem / memory.copy dst src: writes the 2nd / 1st
        first, second = r.u32(), r.u32()
        return Instr(at, name, second if op == 8 else first)
    if op == 11:
        return Instr(at, name, r.u32())
    if op in (12, 14):
        r.u32()
    r.u32()
    return Instr(at, name)


_PREFIXED = {0xFC: _misc, 0xFD: _simd, 0xFE: _atomic}


def _immediates(r: Reader, op: int, at: int) -> Instr:
    """Read the immediates of single-byte opcode ``op`` (already consumed)."""
    if op in _MVP_NONE:
        return Instr(at, _MVP_NONE[op])
    if op in _NUMERIC:
        return Instr(at, f"numeric {op:#x}")
    if op in _MVP_U32:
        r.u32()
        return Instr(at, _MVP_U32[op])
    if op in _MVP_U32X2:
        r.u32()
        r.u32()
        return Instr(at, _MVP_U32X2[op])
    if 0x28 <= op <= 0x3E:
        mem = memarg(r)
        if op < 0x36:
            return Instr(at, _LOADS[op - 0x28])
        return Instr(at, _STORES[op - 0x36], mem)
    return _other(r, op, at)


def _other(r: Reader, op: int, at: int) -> Instr:
    if op == 0x3F:
        r.u32()
        return Instr(at, "memory.size")
    if op == 0x40:
        return Instr(at, "memory.grow", r.u32())
    if op == 0x41:
        r.leb(32, signed=True)
        return Instr(at, "i32.const")
    if op == 0x42:
        r.leb(64, signed=True)
        return Instr(at, "i64.const")
    if op in _CONST_BYTES:
        name, size = _CONST_BYTES[op]
        r.take(size)
        return Instr(at, name)
    if op == 0x0E:
        for _ in range(r.u32() + 1):
            r.u32()
        return Instr(at, "br_table")
    if op == 0x1C:
        for _ in range(r.u32()):
            skip_valtype(r)
        return Instr(at, "select")
    if op == 0xD0:
        skip_heaptype(r)
        return Instr(at, "ref.null")
    raise UnknownOpcode(at, f"unknown instruction {op:#x}")


def instruction(r: Reader) -> Instr:
    """Decode the instruction at the cursor (depth left at 0: see ``walk``)."""
    at = r.pos
    op = r.byte()
    if op in _BLOCKS:
        skip_blocktype(r)
        return Instr(at, _BLOCKS[op])
    if op in _PREFIXED:
        return _PREFIXED[op](r, at)
    return _immediates(r, op, at)


def walk(r: Reader) -> Iterator[Instr]:
    """Every instruction of one expression, through its final ``end``."""
    frames: list[str] = []  # each open block, loop or if (an if with its else: "else")
    while True:
        ins = instruction(r)
        if ins.name in ("block", "loop", "if"):
            frames.append(ins.name)
        elif ins.name == "else":
            if not frames or frames[-1] != "if":
                raise WasmFormatError(ins.offset, "else outside an if")
            frames[-1] = "else"
        elif ins.name == "end":
            if not frames:
                yield Instr(ins.offset, ins.name, ins.writes, -1)
                return
            frames.pop()
        yield Instr(ins.offset, ins.name, ins.writes, len(frames))
