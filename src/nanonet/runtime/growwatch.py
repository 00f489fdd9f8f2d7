"""Knowing, not guessing, that a guest's ``memory.grow`` was refused.

wasmtime's store limiter refuses a growth past the cap by returning -1 to the
guest, and its C API has no way to make that trap or to tell the host
(``trap_on_grow_failure`` exists only in the Rust API). A guest that then
traps (Rust's allocator aborts with ``unreachable``) looked like any other
trap, and a refused growth of many pages left the memory well below the cap.

So, for a service under a memory cap, each ``memory.grow M`` of the guest is
rewritten into a call to a small function appended to the module: it grows
memory M and, if that returned -1, sets an exported global. After a trap the
host reads the global. Function indices do not change (the function is
appended), so names and calls stay as they were; byte offsets in the code
do change, and ``OffsetMap`` turns the offsets of trap frames back into
offsets of the module as given. A module this decoder cannot read (or one
with GC type groups) is run as it is, and its traps keep their trap code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import wasmtime

from ..host.engine import cache_dir
from ..host.modcache import DiskCache
from ..host.traps import OffsetMap
from ..policy.wasmbin import Reader, WasmFormatError, skip_limits, skip_valtype, walk
from ..policy.wasmbin import uleb128 as _leb
from ..policy.wasmmod import MAGIC

REFUSED = "nanonet:grow-refused"  # the exported global: 1 once a growth was refused
MARK = "nanonet:watched"  # the module name frames carry if the guest had none
_ORDER = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)  # section order in a module
_TYPE, _IMPORT, _FUNC, _MEMORY, _GLOBAL, _EXPORT, _CODE = 1, 2, 3, 5, 6, 7, 10


def _vec(items: list[bytes]) -> bytes:
    return _leb(len(items)) + b"".join(items)


def _name(text: str) -> bytes:
    raw = text.encode()
    return _leb(len(raw)) + raw


@dataclass
class _Module:
    sections: dict[int, bytes]  # id -> payload, for the known sections
    customs: list[tuple[int, bytes]]  # (index among all sections, whole section bytes)
    code_start: int = 0  # payload offset of the code section in the original
    imported_funcs: int = 0
    imported_globals: int = 0
    memory64: list[bool] = field(default_factory=list)


def _read(wasm: bytes) -> _Module:
    r, mod = Reader(wasm, 8), _Module({}, [])
    while not r.done:
        start = r.pos
        section, size = r.byte(), r.u32()
        body = r.sub(size)
        if section == 0:
            mod.customs.append((len(mod.sections) + len(mod.customs), wasm[start: body.end]))
            continue
        if section == _CODE:
            mod.code_start = body.pos
        mod.sections[section] = wasm[body.pos: body.end]
    return mod


def _imports(mod: _Module) -> None:
    r = Reader(mod.sections.get(_IMPORT, b"\0"))
    for _ in range(r.u32()):
        r.name()
        r.name()
        kind = r.byte()
        if kind == 0:
            r.u32()
            mod.imported_funcs += 1
        elif kind == 1:
            skip_valtype(r)
            skip_limits(r)
        elif kind == 2:
            mod.memory64.append(bool(r.data[r.pos] & 4))
            skip_limits(r)
        elif kind == 3:
            skip_valtype(r)
            r.byte()
            mod.imported_globals += 1
        else:
            r.byte()
            r.u32()
    r = Reader(mod.sections.get(_MEMORY, b"\0"))
    for _ in range(r.u32()):
        mod.memory64.append(bool(r.data[r.pos] & 4))
        skip_limits(r)


def _count(payload: bytes | None) -> int:
    return Reader(payload).u32() if payload else 0


def _entries(payload: bytes | None) -> bytes:
    """A vector section's entries, without its count."""
    if not payload:
        return b""
    r = Reader(payload)
    r.u32()
    return payload[r.pos:]


def _append(payload: bytes | None, extra: list[bytes]) -> bytes:
    return _leb(_count(payload) + len(extra)) + _entries(payload) + b"".join(extra)


def _hook(memory: int, is64: bool, global_index: int) -> bytes:
    """grow memory ``memory``; on -1 set the refused global; return the result."""
    ty, const, eq = (0x7E, 0x42, 0x51) if is64 else (0x7F, 0x41, 0x46)
    code = (bytes([0x01, 0x01, ty, 0x20, 0x00, 0x40]) + _leb(memory)
            + bytes([0x22, 0x01, const, 0x7F, eq, 0x04, 0x40, 0x41, 0x01, 0x24])
            + _leb(global_index) + bytes([0x0B, 0x20, 0x01, 0x0B]))
    return _leb(len(code)) + code


@dataclass
class _Sites:
    bodies: list[tuple[int, int, list[tuple[int, int, int]]]]  # start, end, (at, end, memory)
    memories: set[int]


def _sites(code: bytes) -> _Sites:
    r = Reader(code)
    out, memories = [], set()
    for _ in range(r.u32()):
        size = r.u32()
        body = r.sub(size)
        start = body.pos
        for _ in range(body.u32()):
            body.u32()
            skip_valtype(body)
        grows: list[tuple[int, int, int]] = []
        prev = None
        for ins in walk(body):
            if prev is not None:
                grows.append((prev[0], ins.offset, prev[1]))
                prev = None
            if ins.name == "memory.grow":
                prev = (ins.offset, ins.writes or 0)
                memories.add(ins.writes or 0)
        out.append((start, body.end, grows))
    return _Sites(out, memories)


def _code(mod: _Module, sites: _Sites, hooks: dict[int, int], extra: list[bytes],
          offsets: OffsetMap, new_start: int) -> bytes:
    """The code section's payload with every grow site calling its hook."""
    code = mod.sections[_CODE]
    bodies, pos = [], new_start + len(_leb(len(sites.bodies) + len(extra)))
    for start, end, grows in sites.bodies:
        parts, at = [], start
        for g_at, g_end, memory in grows:
            parts += [code[at:g_at], b"\x10" + _leb(hooks[memory])]
            at = g_end
        parts.append(code[at:end])
        payload = b"".join(parts)
        head = _leb(len(payload))
        # breakpoints: the body start and just after each rewritten site
        here, old = pos + len(head), mod.code_start + start
        offsets.point(here, old)
        prev = start
        for g_at, g_end, memory in grows:
            here += g_at - prev
            offsets.point(here, mod.code_start + g_at)  # the call maps to the grow
            here += 1 + len(_leb(hooks[memory]))
            offsets.point(here, mod.code_start + g_end)
            prev = g_end
        bodies.append(head + payload)
        pos += len(head) + len(payload)
    return _vec(bodies + extra)


Customs = list[tuple[int, bytes]]


def _names(customs: Customs, module: str) -> tuple[Customs, str | None]:
    """The custom sections with the name section's module name set to ``module``;
    returns the original module name too."""
    out, original, found = [], None, False
    for index, raw in customs:
        r = Reader(raw, 1)
        r.u32()
        if r.name() != "name":
            out.append((index, raw))
            continue
        found, subs = True, []
        while not r.done:
            kind, size = r.byte(), r.u32()
            sub = r.take(size)
            if kind == 0:
                original = Reader(sub).name()
            else:
                subs.append(bytes([kind]) + _leb(size) + sub)
        name = _name(module if original is None else original)
        payload = _name("name") + b"\x00" + _leb(len(name)) + name + b"".join(subs)
        out.append((index, b"\x00" + _leb(len(payload)) + payload))
    if not found:
        name = _name(module)
        payload = _name("name") + b"\x00" + _leb(len(name)) + name
        out.append((10**9, b"\x00" + _leb(len(payload)) + payload))
    return out, original


def watch(wasm: bytes) -> tuple[bytes, OffsetMap] | None:
    """``wasm`` with its memory growths watched, and the offset map; None if
    it has no ``memory.grow`` or cannot be rewritten."""
    if wasm[:8] != MAGIC + b"\x01\0\0\0":  # a core module, not a component
        return None
    try:
        return _watch(wasm)
    except (WasmFormatError, KeyError, IndexError):
        return None


def _plain_types(payload: bytes | None) -> bool:
    """True if every type is a plain function type (no GC groups, which would
    make the count of entries differ from the count of types)."""
    r = Reader(payload or b"\0")
    for _ in range(r.u32()):
        if r.byte() != 0x60:
            return False
        for _ in range(2):  # params, results
            for _ in range(r.u32()):
                skip_valtype(r)
    return True


def _watch(wasm: bytes) -> tuple[bytes, OffsetMap] | None:
    mod = _read(wasm)
    if _CODE not in mod.sections or not _plain_types(mod.sections.get(_TYPE)):
        return None
    sites = _sites(mod.sections[_CODE])
    if not sites.memories:
        return None
    _imports(mod)
    return _rebuild(wasm, mod, sites)


def _rebuild(wasm: bytes, mod: _Module, sites: _Sites) -> tuple[bytes, OffsetMap]:
    s = mod.sections
    types, funcs = _count(s.get(_TYPE)), mod.imported_funcs + _count(s.get(_FUNC))
    refused = mod.imported_globals + _count(s.get(_GLOBAL))
    order = sorted(sites.memories)
    hooks = {m: funcs + i for i, m in enumerate(order)}
    sig = {False: b"\x60\x01\x7F\x01\x7F", True: b"\x60\x01\x7E\x01\x7E"}
    kinds = sorted({mod.memory64[m] for m in order})
    type_of = {k: types + i for i, k in enumerate(kinds)}
    new = dict(s)
    new[_TYPE] = _append(s.get(_TYPE), [sig[k] for k in kinds])
    new[_FUNC] = _append(s.get(_FUNC), [_leb(type_of[mod.memory64[m]]) for m in order])
    new[_GLOBAL] = _append(s.get(_GLOBAL), [b"\x7F\x01\x41\x00\x0B"])
    new[_EXPORT] = _append(s.get(_EXPORT), [_name(REFUSED) + b"\x03" + _leb(refused)])
    customs, original = _names(mod.customs, MARK)
    offsets = OffsetMap(original or MARK, original)
    out = bytearray(wasm[:8])
    for sid in (i for i in _ORDER if i in new):
        if sid == _CODE:
            hook_bodies = [_hook(m, mod.memory64[m], refused) for m in order]
            # the payload's size prefix length depends on the payload: build twice
            payload = _code(mod, sites, hooks, hook_bodies, OffsetMap("", None), 0)
            start = len(out) + 1 + len(_leb(len(payload)))
            payload = _code(mod, sites, hooks, hook_bodies, offsets, start)
            new[sid] = payload
        out += bytes([sid]) + _leb(len(new[sid])) + new[sid]
    for _, raw in sorted(customs, key=lambda c: c[0]):
        out += raw  # custom sections go last: they never shift code offsets
    return bytes(out), offsets


_WATCHED: dict[bytes, tuple[bytes, OffsetMap] | None] = {}
_FORMAT = "growwatch-1"  # part of the disk cache key: bump when the rewrite changes


def watched(source: bytes) -> tuple[bytes, OffsetMap] | None:
    """``watch`` for a service's module (binary, or WAT text that already
    compiled), once per source: decoding every instruction in Python takes
    seconds for a module of megabytes, so the result is kept in memory for
    restarts and on disk (beside the compiled modules) for the next process."""
    if source not in _WATCHED:
        _WATCHED[source] = _cached(source)
    return _WATCHED[source]


def _cached(source: bytes) -> tuple[bytes, OffsetMap] | None:
    """The rewrite from disk if this user's key vouches for it (the rewritten
    bytes replace the guest's code, so a planted entry must never be used:
    host/modcache.py), else made now and saved."""
    digest = hashlib.sha256(_FORMAT.encode() + source).digest()
    name, disk = f"{digest.hex()[:32]}.rewrite", DiskCache(cache_dir().parent / "watched")
    saved = disk.load(name, digest)
    if saved is not None:
        try:
            return _unpack(saved)
        except (ValueError, TypeError):
            pass  # an older format: rewrite below
    wasm = source if source[:4] == MAGIC else bytes(wasmtime.wat2wasm(source.decode()))
    result = watch(wasm)
    disk.save(name, digest, _pack(result))
    return result


def _pack(result: tuple[bytes, OffsetMap] | None) -> bytes:
    """[meta length u32][meta JSON][rewritten module]: one entry, one MAC."""
    meta = json.dumps(None if result is None else asdict(result[1])).encode()
    return len(meta).to_bytes(4, "little") + meta + (b"" if result is None else result[0])


def _unpack(data: bytes) -> tuple[bytes, OffsetMap] | None:
    size = int.from_bytes(data[:4], "little")
    meta = json.loads(data[4:4 + size])
    return None if meta is None else (data[4 + size:], OffsetMap(**meta))
