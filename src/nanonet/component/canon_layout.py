"""Where a WIT value sits: its size, alignment and flat core types.

    size(shape), alignment(shape), flatten(shape)   # ("i32", "i64", ...)

The canonical ABI's rules (CanonicalABI.md, ``definitions.py``), computed
once per type and kept: a tuple is a record with unnamed fields; an enum,
option and result are variants (``cases``); a variant is its discriminant
(u8, u16 or u32 by the number of cases) followed by the payload of the
largest case at the largest case alignment; flags are 1, 2 or 4 bytes and
one i32 in core values (at most 32 flags, as wasmtime's validator and
``definitions.py`` require; more would take one i32 word per 32, the
layout before that limit). A variant's flat form joins the
flat types of its cases slot by slot (equal: kept; i32 with f32: i32;
otherwise i64).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .shapes import Shape

MAX_FLAT_PARAMS = 16
MAX_FLAT_RESULTS = 1

_PRIM = {"bool": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "s32": 4, "u32": 4,
         "f32": 4, "char": 4, "s64": 8, "u64": 8, "f64": 8}
_FLAT = {"bool": "i32", "s8": "i32", "u8": "i32", "s16": "i32", "u16": "i32", "s32": "i32",
         "u32": "i32", "char": "i32", "s64": "i64", "u64": "i64", "f32": "f32", "f64": "f64"}
VARIANTS = ("variant", "enum", "option", "result")
_K = TypeVar("_K")
_T = TypeVar("_T")


def per_object(fn: Callable[[_K], _T]) -> Callable[[_K], _T]:
    """``fn`` computed once per argument object (a Shape holding wasmtime-py's
    type object is not hashable; the object itself is kept, so its id stays its own)."""
    memo: dict[int, tuple[_K, _T]] = {}

    @functools.wraps(fn)
    def cached(key: _K) -> _T:
        hit = memo.get(id(key))
        if hit is None or hit[0] is not key:
            hit = memo[id(key)] = (key, fn(key))
        return hit[1]

    return cached


def align_to(offset: int, align: int) -> int:
    """``offset`` rounded up to a multiple of ``align``."""
    return -(-offset // align) * align


@per_object
def fields(shape: Shape) -> tuple[Shape, ...]:
    """A record's or tuple's field types, in order."""
    return tuple(s for s in shape.items if s is not None)


@per_object
def cases(shape: Shape) -> tuple[Shape | None, ...]:
    """A variant-like type's case payloads (None: no payload), as the ABI orders them."""
    if shape.kind == "enum":
        return (None,) * len(shape.names)
    if shape.kind == "option":
        return (None, shape.items[0])
    return shape.items


def discriminant_size(count: int) -> int:
    """Bytes of a variant's discriminant: by its number of cases."""
    return 1 if count <= 256 else 2 if count <= 65536 else 4


def flag_bytes(count: int) -> int:
    """Bytes of a flags value of ``count`` flags in memory."""
    if count == 0:
        return 0
    return 1 if count <= 8 else 2 if count <= 16 else 4 * math.ceil(count / 32)


@per_object
def alignment(shape: Shape) -> int:
    """The alignment of ``shape`` in memory."""
    kind = shape.kind
    if kind in _PRIM:
        return _PRIM[kind]
    if kind in ("string", "list"):
        return 4
    if kind in ("record", "tuple"):
        return max((alignment(s) for s in fields(shape)), default=1)
    if kind in VARIANTS:
        return max(discriminant_size(len(cases(shape))), case_alignment(shape))
    if kind == "flags":
        return min(flag_bytes(len(shape.names)), 4) or 1
    raise TypeError(f"the canonical ABI here has no layout for {shape.wit()}")


@per_object
def case_alignment(shape: Shape) -> int:
    """The largest alignment among a variant's payloads (1 if none)."""
    return max((alignment(s) for s in cases(shape) if s is not None), default=1)


@per_object
def field_offsets(shape: Shape) -> tuple[int, ...]:
    """Where each field of a record or tuple starts."""
    out, at = [], 0
    for inner in fields(shape):
        at = align_to(at, alignment(inner))
        out.append(at)
        at += size(inner)
    return tuple(out)


@per_object
def payload_offset(shape: Shape) -> int:
    """Where a variant's payload starts: after the discriminant, aligned."""
    return align_to(discriminant_size(len(cases(shape))), case_alignment(shape))


@per_object
def size(shape: Shape) -> int:
    """The size of ``shape`` in memory, padded to its alignment."""
    kind = shape.kind
    if kind in _PRIM:
        return _PRIM[kind]
    if kind in ("string", "list"):
        return 8
    if kind in ("record", "tuple"):
        inner = fields(shape)
        end = field_offsets(shape)[-1] + size(inner[-1]) if inner else 0
        return align_to(end, alignment(shape))
    if kind in VARIANTS:
        largest = max((size(s) for s in cases(shape) if s is not None), default=0)
        return align_to(payload_offset(shape) + largest, alignment(shape))
    if kind == "flags":
        return flag_bytes(len(shape.names))
    raise TypeError(f"the canonical ABI here has no layout for {shape.wit()}")


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


@per_object
def flatten(shape: Shape) -> tuple[str, ...]:
    """The core types ``shape`` takes as flat values."""
    kind = shape.kind
    if kind in _FLAT:
        return (_FLAT[kind],)
    if kind in ("string", "list"):
        return ("i32", "i32")
    if kind in ("record", "tuple"):
        return tuple(t for s in fields(shape) for t in flatten(s))
    if kind in VARIANTS:
        joined: list[str] = []
        for payload in cases(shape):
            for i, t in enumerate(flatten(payload) if payload is not None else ()):
                joined[i:i + 1] = [t if i >= len(joined) else _join(joined[i], t)]
        return ("i32", *joined)
    if kind == "flags":
        return ("i32",) * math.ceil(len(shape.names) / 32)
    raise TypeError(f"the canonical ABI here has no layout for {shape.wit()}")


def carried(shape: Shape | None) -> bool:
    """Whether this layer lowers and lifts ``shape`` (no resources, streams, futures)."""
    if shape is None:
        return True
    if shape.kind.startswith("<"):
        return False
    return all(carried(s) for s in shape.items)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything lowering or lifting one type looks up, fetched in one lookup."""

    size: int
    align: int
    flat: tuple[str, ...]
    fields: tuple[Shape, ...]
    offsets: tuple[int, ...]
    cases: tuple[Shape | None, ...]
    disc: str  # the discriminant's struct format ("B", "H" or "I"), variants only
    payload: int  # where a variant's payload starts


@per_object
def plan(shape: Shape) -> Plan:
    """The layout of ``shape`` in one object (see ``Plan``)."""
    record = shape.kind in ("record", "tuple")
    variant = shape.kind in VARIANTS
    count = len(cases(shape)) if variant else 0
    return Plan(size(shape), alignment(shape), flatten(shape),
                fields(shape) if record else (), field_offsets(shape) if record else (),
                cases(shape) if variant else (),
                {1: "<B", 2: "<H", 4: "<I"}[discriminant_size(count)] if variant else "",
                payload_offset(shape) if variant else 0)
