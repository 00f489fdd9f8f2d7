"""The raw-read verifier's decoder against an independent one: wasm-tools.

wasm-tools (the Bytecode Alliance's decoder and printer, as jco ships it) reads
each module in one node process for the whole run. For generated modules,
mutations of the project's own modules and random function bodies:

- a module wasm-tools cannot decode is refused by nanonet's decoder, never
  accepted (nanonet may refuse more: what it cannot read, it cannot vouch for);
- for a module both decode, the writes into memory that nanonet's verifier
  sees (instruction and memory index, function by function, in order) are the
  ones wasm-tools prints, and watching a single memory finds exactly the
  writes into that memory.

Skipped when node or jco's package is not installed. A longer search:
NANONET_FUZZ_SCALE=20 multiplies every test's examples.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonet.errors import NanonetError
from nanonet.policy.verify import inspect
from nanonet.policy.wasmbin import WasmFormatError
from nanonet.policy.wasmmod import scan
from nanonet.policy.wasmscan import writes
from nanonet.toolchain import guestbuild
from test_verify import _sources

SCRIPT = Path(__file__).with_name("wasm_tools_print.mjs")
TRANSPILE = Path("@bytecodealliance") / "jco-transpile" / "dist" / "wasm-tools.js"
ANSWER_TIMEOUT = 60.0


def fuzz(examples: int) -> settings:
    """``examples`` per test, times $NANONET_FUZZ_SCALE (1: the suite's bounded run)."""
    scale = int(os.environ.get("NANONET_FUZZ_SCALE", "1"))
    return settings(max_examples=examples * scale, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Writes = dict[int, list[tuple[str, int]]]  # function index -> (instruction, memory) in order


class Printer:
    """One node process printing many modules with wasm-tools."""

    def __init__(self, node: str, library: Path) -> None:
        self.proc = subprocess.Popen([node, str(SCRIPT), str(library)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.answers: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.answers.put(line)

    def print(self, wasm: bytes) -> tuple[bool, str]:
        """(True, the text) or (False, wasm-tools' error)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(base64.b64encode(wasm).decode() + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.answers.get(timeout=ANSWER_TIMEOUT))
        return bool(answer["ok"]), str(answer.get("text") or answer.get("error"))

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def printer() -> Iterator[Printer]:
    try:
        library = guestbuild.node_modules() / TRANSPILE
        node = guestbuild.node()
    except NanonetError as err:
        pytest.skip(f"no wasm-tools to compare with: {err}")
    if not library.is_file():
        pytest.skip(f"no wasm-tools to compare with: {library} is missing")
    p = Printer(node, library)
    yield p
    p.close()


# -- an encoder of its own (nothing of nanonet's decoder) ----------------------


def uleb(n: int, pad: int = 0) -> bytes:
    """Unsigned LEB128, with ``pad`` redundant bytes (still a valid encoding)."""
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if n == 0 and pad == 0:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)
        if n == 0:
            out += b"\x80" * (pad - 1) + b"\x00"
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def section(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + uleb(len(body)) + body


def module(bodies: list[bytes]) -> bytes:
    """Memory 0 is the raw ring, 1 and 2 the module's own; one passive data segment."""
    name = b"\x0bnanonet:raw\x01t"
    return (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x00\x00"]))
            + section(2, vec([name + b"\x02\x03\x01\x01"]))
            + section(3, vec([b"\x00"] * len(bodies)))
            + section(5, vec([b"\x00\x01", b"\x00\x01"]))
            + section(12, uleb(1))
            + section(10, vec([uleb(len(b)) + b for b in bodies]))
            + section(11, vec([b"\x01\x02ab"])))


def strip_custom(wasm: bytes) -> bytes:
    """``wasm`` without its custom sections (names change how wasm-tools prints)."""
    out, pos = bytearray(wasm[:8]), 8
    while pos < len(wasm):
        start, size, shift = pos, 0, 0
        pos += 1
        while pos < len(wasm):
            b = wasm[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if wasm[start] != 0:
            out += wasm[start:pos + size]
        pos += size
    return bytes(out)


# -- what each side sees ---------------------------------------------------------

FUNC = re.compile(r"^  \(func (?:\$\S+ )?\(;(\d+);\)")
WRITE = re.compile(r"^(?:[if](?:32|64)\.store(?:8|16|32)?|v128\.store(?:(?:8|16|32|64)_lane)?|"
                   r"i(?:32|64)\.atomic\.(?:store|rmw)\S*|memory\.(?:copy|fill|init|grow))$")


def _memory(name: str, args: list[str]) -> int:
    """The memory an instruction writes, from its printed immediates."""
    if name in ("memory.init",) or name.endswith("_lane"):
        return int(args[0]) if len(args) == 2 else 0  # (memory) data / (memory) lane
    return int(args[0]) if args else 0


def printed_writes(text: str) -> Writes:
    out: Writes = {}
    func: int | None = None
    for line in text.splitlines():
        if m := FUNC.match(line):
            func = int(m.group(1))
            out[func] = []
        elif line.startswith("  (") or line == ")":
            func = None
        elif func is not None:
            name, *args = line.split(";;")[0].split()
            if WRITE.match(name):
                out[func].append((name, _memory(name, [a for a in args if "=" not in a])))
    return out


def nanonet_writes(wasm: bytes) -> Writes | None:
    """Every write nanonet's verifier sees, or None if its decoder refuses ``wasm``."""
    try:
        shape = scan(wasm)
        out: Writes = {}
        for i, (start, end) in enumerate(shape.bodies):
            seen = [(w.name, w.writes or 0) for w in writes(wasm, start, end)]
            out[shape.imported_funcs + i] = seen
            for mem in {m for _, m in seen} | {0, 1, 2}:
                watched = [(w.name, w.writes or 0)
                           for w in writes(wasm, start, end, frozenset({mem}))]
                assert watched == [s for s in seen if s[1] == mem]
    except WasmFormatError:
        return None
    return out


def check(printer: Printer, wasm: bytes) -> bool:
    """Compare both decoders on ``wasm``; True if both decoded it."""
    ok, text = printer.print(wasm)
    ours = nanonet_writes(wasm)
    raw, refusal = inspect(wasm)
    if ours is None and raw:
        assert refusal is not None, "the decoder refuses, the verifier accepts"
    if not ok:
        assert ours is None, f"wasm-tools cannot decode it ({text}), nanonet's decoder can"
        return False
    if ours is None:
        return False
    ok, text = printer.print(strip_custom(wasm))
    assert ok, text
    theirs = printed_writes(text)
    assert {f: w for f, w in theirs.items()} == ours
    return True


# -- modules to compare ------------------------------------------------------------

PAD = st.sampled_from([0, 0, 0, 0, 1, 3])


@st.composite
def memarg(draw: st.DrawFn) -> bytes:
    mem = draw(st.integers(0, 2))
    explicit = mem != 0 or draw(st.booleans())
    flags = draw(st.integers(0, 4)) | (0x40 if explicit else 0)
    offset = draw(st.one_of(st.integers(0, 70000), st.integers(0, 2**64 - 1)))
    return (uleb(flags, draw(st.sampled_from([0, 0, 0, 1])))
            + (uleb(mem, draw(PAD)) if explicit else b"") + uleb(offset))


def _prefixed(prefix: int, sub: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda s, pad: bytes([prefix]) + uleb(s, pad), sub, PAD)


SIMD_PLAIN = st.sampled_from([*range(0x0E, 0x15), *range(0x23, 0x54), 0x5E, 0x5F,
                              *range(0x60, 0x80), 0x80, 0x81, 0x9B, 0xB5, 0xFF, 0x100, 0x113])
ATOMIC_MEMARG = st.sampled_from([0, 1, 2, *range(0x10, 0x4F)])
MIDX = st.builds(uleb, st.integers(0, 2), PAD)

INSTRS = st.one_of(
    st.builds(lambda op, m: bytes([op]) + m, st.integers(0x36, 0x3E), memarg()),  # stores
    st.builds(lambda op, m: bytes([op]) + m, st.integers(0x28, 0x35), memarg()),  # loads
    st.builds(lambda n: b"\x41" + sleb(n), st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda n: b"\x42" + sleb(n), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda b: b"\x44" + b, st.binary(min_size=8, max_size=8)),
    st.builds(bytes, st.lists(st.sampled_from([0x01, 0x1A, 0x45, 0x6A, 0xA7, 0xC4]),
                              min_size=1, max_size=3)),
    st.sampled_from([b"\x20\x00", b"\x21\x00", b"\x0d\x00", b"\x3f\x00", b"\x3f\x01"]),
    st.builds(lambda m: b"\x40" + m, MIDX),  # memory.grow
    st.builds(lambda p, m: p + m, _prefixed(0xFE, ATOMIC_MEMARG), memarg()),
    st.just(b"\xfe\x03\x00"),
    st.builds(lambda p, m: p + m, _prefixed(0xFD, st.sampled_from([*range(0x0C), 0x5C])),
              memarg()),  # SIMD loads and v128.store
    st.builds(lambda p, m, lane: p + m + bytes([lane]),
              _prefixed(0xFD, st.integers(0x54, 0x5B)), memarg(), st.integers(0, 15)),
    _prefixed(0xFD, SIMD_PLAIN),
    st.builds(lambda b: b"\xfd\x0c" + b, st.binary(min_size=16, max_size=16)),
    st.builds(lambda p, d, m: p + d + m, _prefixed(0xFC, st.just(8)), MIDX, MIDX),
    st.builds(lambda p, a, b: p + a + b, _prefixed(0xFC, st.just(10)), MIDX, MIDX),
    st.builds(lambda p, m: p + m, _prefixed(0xFC, st.just(11)), MIDX),
    _prefixed(0xFC, st.integers(0, 7)),
)


@st.composite
def body(draw: st.DrawFn) -> bytes:
    """Locals, then instructions nested in blocks, loops and ifs, then the end."""
    out, frames = bytearray(b"\x01\x01\x7f"), []  # one i32 local
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["instr"] * 6 + ["open", "close", "else", "br_table"]))
        if kind == "open":
            op = draw(st.sampled_from([0x02, 0x03, 0x04]))
            out += bytes([op]) + draw(st.sampled_from([b"\x40", b"\x7f", b"\x7b", b"\x00"]))
            frames.append(op)
        elif kind == "close" and frames:
            out.append(0x0B)
            frames.pop()
        elif kind == "else" and frames and frames[-1] == 0x04:
            out.append(0x05)
            frames[-1] = 0
        elif kind == "br_table":
            labels = draw(st.lists(st.integers(0, len(frames)), max_size=4))
            out += b"\x0e" + vec([uleb(x) for x in labels]) + uleb(len(frames))
        else:
            out += draw(INSTRS)
    return bytes(out + b"\x0b" * (len(frames) + 1))


@fuzz(250)
@given(st.lists(body(), min_size=1, max_size=3))
def test_generated_modules_agree_with_wasm_tools(printer: Printer, bodies: list[bytes]) -> None:
    assert check(printer, module(bodies)), "both decoders read every generated module"


def _bases() -> list[bytes]:
    sources = _sources()
    names = ["every_op.wat", "raw_reader.wat", "raw_sneak.wat", "read", "write+read"]
    return [bytes(wasmtime.wat2wasm(sources[n])) for n in names]


BASES = _bases()


@fuzz(400)
@given(st.sampled_from(range(len(BASES))),
       st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255),
                          st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=4))
def test_mutations_of_the_projects_modules_agree_with_wasm_tools(
        printer: Printer, base: int, edits: list[tuple[int, int, str]]) -> None:
    wasm = bytearray(BASES[base])
    for at, value, how in edits:
        at = 8 + at % max(len(wasm) - 8, 1)  # past the header: the sections
        if how == "set":
            wasm[at % len(wasm)] = value
        elif how == "insert":
            wasm.insert(at, value)
        else:
            del wasm[at % len(wasm)]
    check(printer, bytes(wasm))


@fuzz(300)
@given(st.binary(min_size=1, max_size=60))
def test_random_function_bodies_agree_with_wasm_tools(printer: Printer, code: bytes) -> None:
    check(printer, module([b"\x00" + code + b"\x0b"]))
