"""Scanning function bodies for writes into given memories, at C speed.

The verifier must decode every instruction of every body (one immediate read
wrong would shift every later instruction and could hide a store), and a
Python loop per instruction costs microseconds: 27 s for a 4 MB module. Here a
compiled regular expression, built once per set of watched memories, consumes
every run of instructions that cannot write a watched memory and are not block
structure. Each of its alternatives is one instruction in its shortest form,
with its immediates spelled out exactly (LEB128 integers bounded as the engine
bounds them), so the runs it consumes decode the same way in any decoder.

Whatever a run stops at (``block``/``loop``/``if``/``else``/``end``, a write
into a watched memory, an overlong or rare encoding, an unknown opcode, a
malformed byte) goes to the full decoder in ``wasmbin`` (``instruction``),
which stays the reference: the fast form accepts only encodings that the full
decoder reads to the same length and that write no watched memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .wasmbin import ATOMIC_WRITES, SIMD_GAPS, SIMD_LAST, Instr, Reader, instruction, skip_valtype

Watch = frozenset[int] | None  # memory indices to report; None: every write

BLOCK_OPS = (0x02, 0x03, 0x04)
SIMPLE_BLOCKTYPES = frozenset({0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F})
OPENERS = frozenset({"block", "loop", "if"})

# LEB128 integers as the engine reads them: the unused bits of a last byte are zero
# (unsigned) or copies of the sign bit (signed)
U32 = rb"(?:[\x80-\xff]{0,3}[\x00-\x7f]|[\x80-\xff]{4}[\x00-\x0f])"
S32 = rb"(?:[\x80-\xff]{0,3}[\x00-\x7f]|[\x80-\xff]{4}[\x00-\x07\x78-\x7f])"
S64 = rb"(?:[\x80-\xff]{0,8}[\x00-\x7f]|[\x80-\xff]{9}[\x00\x7f])"
U64 = rb"(?:[\x80-\xff]{0,8}[\x00-\x7f]|[\x80-\xff]{9}[\x00\x01])"
ANY = rb"[\x00-\xff]"
# a memarg whose flags take one byte: bit 6 says a memory index follows
MEMARG = rb"(?:[\x00-\x3f]|[\x40-\x7f]" + U32 + rb")" + U64


def _class(values: set[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(values)) + b"]"


def _safe_memarg(watch: Watch) -> bytes | None:
    """A memarg naming, in one byte, a memory that is not watched (None if none is)."""
    if watch is None:
        return None
    unwatched = set(range(0x80)) - watch
    forms = [rb"[\x00-\x3f]"] if 0 in unwatched else []  # no index: memory 0
    if unwatched:
        forms.append(rb"[\x40-\x7f]" + _class(unwatched))
    return b"(?:" + b"|".join(forms) + b")" + U64 if forms else None


def _simd_plain() -> list[bytes]:
    """SIMD (after 0xfd) forms that write no memory: no immediates, loads, lanes."""
    no_imm = set(range(0x0E, 0x15)) | set(range(0x23, 0x54)) | set(range(0x5E, 0x80))
    long_ops = [v for v in range(0x80, SIMD_LAST + 1) if v not in SIMD_GAPS]
    forms = [_class(no_imm),
             rb"[\x00-\x0a\x5c\x5d]" + MEMARG,  # loads
             rb"[\x0c\x0d]" + ANY + b"{16}",  # v128.const, i8x16.shuffle
             rb"[\x15-\x22]" + ANY,  # lane index
             rb"[\x54-\x57]" + MEMARG + ANY]  # load lane
    for high in sorted({v >> 7 for v in long_ops}):
        lows = {(v & 0x7F) | 0x80 for v in long_ops if v >> 7 == high}
        forms.append(_class(lows) + b"\\x%02x" % high)
    return forms


def _plain(watch: Watch) -> list[bytes]:
    """Every fast form: no block structure, no write into a watched memory.

    The most frequent forms come first (the engine tries them in order), and
    each prefix is tried once, its forms grouped behind it."""
    safe = _safe_memarg(watch)
    forms = [rb"[\x0c\x0d\x10\x12\x20-\x26\x3f\xd2]" + U32,  # locals, calls, branches
             rb"[\x00\x01\x0f\x1a\x1b\xd1\x45-\xc4]",  # no immediates
             rb"\x41" + S32, rb"[\x28-\x35]" + MEMARG]  # i32.const, loads
    if safe is not None:
        forms.append(rb"[\x36-\x3e]" + safe)  # stores
    forms += [rb"[\x11\x13]" + U32 + U32, rb"\x42" + S64,
              rb"\x43" + ANY + b"{4}", rb"\x44" + ANY + b"{8}"]
    misc = [rb"[\x00-\x07]", rb"[\x09\x0d\x0f-\x11]" + U32, rb"[\x0c\x0e]" + U32 + U32]
    atomic = [rb"\x03\x00", rb"[\x00-\x02\x10-\x16]" + MEMARG]
    simd = _simd_plain()
    if safe is not None:
        atomic.append(_class(set(ATOMIC_WRITES)) + safe)
        simd += [rb"\x0b" + safe, rb"[\x58-\x5b]" + safe + ANY]
    if watch is not None and (unwatched := set(range(0x80)) - watch):
        idx = _class(unwatched)  # memory.copy, memory.fill, memory.init into unwatched
        misc += [rb"\x0a" + idx + rb"[\x00-\x7f]", rb"\x0b" + idx, rb"\x08" + U32 + idx]
    for prefix, group in ((rb"\xfd", simd), (rb"\xfc", misc), (rb"\xfe", atomic)):
        forms.append(prefix + b"(?:" + b"|".join(group) + b")")
    return forms


@lru_cache(maxsize=32)
def _runs(watch: Watch) -> re.Pattern[bytes]:
    return re.compile(b"(?:" + b"|".join(_plain(watch)) + b")*+")  # possessive: no backtracking


def writes(data: bytes, start: int, end: int, watch: Watch = None) -> Iterator[Instr]:
    """Every write into a watched memory in the body at ``data[start:end]``.

    Raises ``WasmFormatError`` (or ``UnknownOpcode``) where the body cannot be
    decoded, including bytes after its final ``end``."""
    r = Reader(data, start, end)
    for _ in range(r.u32()):  # local declarations
        r.u32()
        skip_valtype(r)
    run = _runs(watch).match
    pos, frames = r.pos, bytearray()  # the opcode of each open block, loop or if
    while True:
        pos = run(data, pos, end).end()  # type: ignore[union-attr]  # a star always matches
        op = data[pos] if pos < end else -1
        if op == 0x0B:
            pos += 1
            if not frames:
                break
            frames.pop()
        elif op in BLOCK_OPS and pos + 1 < end and data[pos + 1] in SIMPLE_BLOCKTYPES:
            frames.append(op)
            pos += 2
        elif op == 0x05:
            if not frames or frames[-1] != 0x04:
                raise Reader(data, pos, end).fail("else outside an if")
            frames[-1] = 0x05
            pos += 1
        else:
            r.pos = pos
            ins = instruction(r)
            if ins.name in OPENERS:
                frames.append(data[pos])
            pos = r.pos
            if ins.writes is not None and (watch is None or ins.writes in watch):
                yield ins
    if pos != end:
        raise Reader(data, pos, end).fail("bytes after the final end of a function body")
