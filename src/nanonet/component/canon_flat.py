"""WIT values as flat core values, and whole signatures across the core API.

    core = lower_params(cx, sig, args)          # <= 16 flat values, else one pointer
    value = lift_result(cx, sig.result, raw)    # one flat value, else from the return area

Flat values follow ``definitions.py``: a variant is its case index then its
payload's values coerced to the joined slot types (an f32 in an i32 slot
travels as its bits, an i32 in an i64 slot zero-extended) and zeros after;
flags are i32 words. Parameters beyond ``MAX_FLAT_PARAMS`` and results
beyond ``MAX_FLAT_RESULTS`` go through memory as a tuple (``canon_mem``).
Integers here are unsigned; ``signed`` turns them into what the core API
takes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import wasmtime

from ..errors import WrongType
from . import canon_layout as lay
from .canon_mem import (
    Cx,
    case_of,
    char_of,
    check_case,
    field,
    flag_bits,
    flag_names,
    lift_list,
    lift_string,
    load,
    lower_list,
    one_char,
    store,
)
from .shapes import Shape, Signature
from .values import Err, Ok, Some, Variant

_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "s8": 8, "s16": 16, "s32": 32, "s64": 64}
_MASK = {"i32": 0xFFFF_FFFF, "i64": (1 << 64) - 1}


def _f32_bits(x: float) -> int:
    return int(struct.unpack("<I", struct.pack("<f", x))[0])


def _f64_bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def _coerce_in(value: Any, have: str, want: str) -> Any:
    """A payload's flat value into its joined slot (lowering)."""
    if have == want:
        return value
    if have == "f32":
        return _f32_bits(value)
    if have == "f64":
        return _f64_bits(value)
    return value  # i32 into i64: already unsigned


def _coerce_out(value: Any, have: str, want: str) -> Any:
    """A joined slot's value as the payload's own flat type (lifting)."""
    if have == want:
        return value
    if want == "i32":
        return value & 0xFFFF_FFFF
    if want == "f32":
        return float(struct.unpack("<f", struct.pack("<I", value & 0xFFFF_FFFF))[0])
    return float(struct.unpack("<d", struct.pack("<Q", value))[0])


def _int(kind: str, value: Any) -> int:
    """An integer as its flat slot holds it: a signed one sign-extended to the
    slot's width (s8 -1 is i32 0xFFFFFFFF), then as unsigned."""
    bits = _BITS[kind]
    lo = -(1 << (bits - 1)) if kind[0] == "s" else 0
    if not isinstance(value, int) or not lo <= value < lo + (1 << bits):
        raise WrongType(f"expected an integer in the range of {kind}, got {value!r}")
    return value & (0xFFFF_FFFF if bits <= 32 else (1 << 64) - 1)


def lower_flat(cx: Cx, shape: Shape, value: Any) -> list[Any]:
    """``value`` as unsigned ints and floats, one per ``flatten(shape)`` slot."""
    kind = shape.kind
    if kind in _BITS:
        return [_int(kind, value)]
    if kind in ("f32", "f64"):
        return [float(value)]
    if kind == "char":
        return [ord(one_char(value))]
    if kind == "bool":
        return [int(bool(value))]
    if kind in ("string", "list"):
        return list(lower_list(cx, shape, value))
    if kind in ("record", "tuple"):
        values = [field(value, n) for n in shape.names] if kind == "record" else list(value)
        inner = lay.plan(shape).fields
        if len(values) != len(inner):
                raise WrongType(f"expected a tuple of {len(inner)}, got {len(values)} values")
        return [f for s, v in zip(inner, values, strict=True) for f in lower_flat(cx, s, v)]
    if kind in lay.VARIANTS:
        return _lower_variant(cx, shape, value)
    if kind == "flags":
        bits = flag_bits(shape, value)
        return [bits >> (32 * i) & 0xFFFF_FFFF for i in range(len(lay.flatten(shape)))]
    raise WrongType(f"nanonet does not convert {kind} values")


def _lower_variant(cx: Cx, shape: Shape, value: Any) -> list[Any]:
    index, payload = case_of(shape, value)
    p = lay.plan(shape)
    joined = p.flat[1:]
    case = p.cases[index]
    out: list[Any] = [index]
    if case is not None:
        have = lay.plan(case).flat
        out += [_coerce_in(v, h, w) for v, h, w in zip(lower_flat(cx, case, payload), have,
                                                         joined, strict=False)]
    return out + [0.0 if t in ("f32", "f64") else 0 for t in joined[len(out) - 1:]]


def lift_flat(cx: Cx, shape: Shape, values: Iterator[Any]) -> Any:
    """The value of type ``shape`` from its flat values (unsigned ints, floats)."""
    kind = shape.kind
    if kind in _BITS:
        raw = next(values) & ((1 << _BITS[kind]) - 1)
        bits = _BITS[kind]
        return raw - (1 << bits) if kind[0] == "s" and raw >= 1 << (bits - 1) else raw
    if kind in ("f32", "f64"):
        return float(next(values))
    if kind == "bool":
        return next(values) != 0
    if kind == "char":
        return char_of(next(values))
    if kind in ("string", "list"):
        ptr, length = next(values), next(values)
        if kind == "string":
            return lift_string(cx, ptr, length)
        assert shape.items[0] is not None
        return lift_list(cx, shape.items[0], ptr, length)
    if kind in ("record", "tuple"):
        got = [lift_flat(cx, s, values) for s in lay.plan(shape).fields]
        return dict(zip(shape.names, got, strict=True)) if kind == "record" else tuple(got)
    if kind in lay.VARIANTS:
        return _lift_variant(cx, shape, values)
    if kind == "flags":
        words = [next(values) for _ in lay.flatten(shape)]
        return flag_names(shape, sum(w << (32 * i) for i, w in enumerate(words)))
    raise TypeError(f"nanonet does not convert {kind} values")


def _lift_variant(cx: Cx, shape: Shape, values: Iterator[Any]) -> Any:
    index = check_case(shape, next(values))
    p = lay.plan(shape)
    joined = p.flat[1:]
    slots = [next(values) for _ in joined]
    case = p.cases[index]
    payload = None
    if case is not None:
        have = iter([_coerce_out(v, j, w) for v, j, w in zip(slots, joined, lay.plan(case).flat,
                                                               strict=False)])
        payload = lift_flat(cx, case, have)
    if shape.kind == "enum":
        return shape.names[index]
    if shape.kind == "option":
        inner = shape.items[0]
        wrap = inner is not None and inner.kind == "option" and index == 1
        return None if index == 0 else Some(payload) if wrap else payload
    if shape.kind == "result":
        return Ok(payload) if index == 0 else Err(payload)
    return Variant(shape.names[index], payload)


@lay.per_object
def params_tuple(sig: Signature) -> Shape:
    """The parameters as one tuple, as the ABI lays them out in memory."""
    return Shape("tuple", items=tuple(s for _, s in sig.params))


@lay.per_object
def flat_params(sig: Signature) -> tuple[str, ...]:
    return lay.flatten(params_tuple(sig))


def signed(kinds: tuple[str, ...], values: list[Any]) -> list[Any]:
    """Unsigned flat ints as the signed ones the core API takes."""
    out = []
    for kind, value in zip(kinds, values, strict=True):
        if kind in _MASK and value > _MASK[kind] >> 1:
            value -= _MASK[kind] + 1
        out.append(value)
    return out


def unsigned(kinds: tuple[str, ...], values: list[Any]) -> list[Any]:
    return [v & _MASK[k] if k in _MASK else v for k, v in zip(kinds, values, strict=True)]


def in_memory(cx: Cx, shape: Shape, value: Any) -> int:
    """``value`` stored in fresh guest memory (its ``realloc``, one write): the pointer."""
    buf = bytearray(lay.size(shape))
    ptr = cx.alloc(lay.alignment(shape), len(buf))
    store(cx, shape, value, buf, 0)
    cx.write(ptr, buf)
    return ptr


def lower_params(cx: Cx, sig: Signature, args: tuple[Any, ...]) -> list[Any]:
    """The core arguments of an export called with ``args`` (signed, as the core API takes)."""
    kinds = flat_params(sig)
    whole = params_tuple(sig)
    if len(kinds) > lay.MAX_FLAT_PARAMS:
        return signed(("i32",), [in_memory(cx, whole, args)])
    return signed(kinds, lower_flat(cx, whole, args))


def load_at(cx: Cx, shape: Shape, ptr: int, what: str) -> Any:
    """The value of type ``shape`` stored at ``ptr`` (one read), checked as the runtime does."""
    ptr &= 0xFFFF_FFFF
    if ptr % lay.alignment(shape):
        raise wasmtime.WasmtimeError(f"{what} pointer not aligned")
    data = cx.read(ptr, lay.size(shape), f"{what} pointer out of bounds of memory")
    return load(cx, shape, data, 0)


def lift_result(cx: Cx, shape: Shape, raw: Any) -> Any:
    """An export's result from the core result ``raw``: flat, or at the pointer it is."""
    kinds = lay.flatten(shape)
    if len(kinds) > lay.MAX_FLAT_RESULTS:
        return load_at(cx, shape, raw, "return")
    return lift_flat(cx, shape, iter(unsigned(kinds, [raw])))


def lift_params(cx: Cx, sig: Signature, core: list[Any]) -> list[Any]:
    """A lowered import's arguments from its core parameters (the return pointer left off)."""
    kinds = flat_params(sig)
    whole = params_tuple(sig)
    if len(kinds) > lay.MAX_FLAT_PARAMS:
        return list(load_at(cx, whole, core[0], "argument"))
    return list(lift_flat(cx, whole, iter(unsigned(kinds, core[:len(kinds)]))))


def store_result(cx: Cx, shape: Shape, value: Any, retptr: int) -> None:
    """A lowered import's result written at the return pointer the guest gave (one write)."""
    retptr &= 0xFFFF_FFFF
    if retptr % lay.alignment(shape):
        raise wasmtime.WasmtimeError("return pointer not aligned")
    buf = bytearray(lay.size(shape))
    store(cx, shape, value, buf, 0)
    if retptr + len(buf) > cx._mem().data_len(cx.store):
        raise wasmtime.WasmtimeError("return pointer out of bounds of memory")
    cx.write(retptr, buf)


def core_types(sig: Signature) -> tuple[list[str], list[str]]:
    """A lowered import's core parameter and result types."""
    params = list(flat_params(sig))
    if len(params) > lay.MAX_FLAT_PARAMS:
        params = ["i32"]
    results = [] if sig.result is None else list(lay.flatten(sig.result))
    if len(results) > lay.MAX_FLAT_RESULTS:
        return [*params, "i32"], []
    return params, results
