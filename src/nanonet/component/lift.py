"""C component values to Python, by their Shape (the table is in values.py).

Each composite is read here rather than by wasmtime-py, so that variants keep
their case names and results say whether they are ``Ok`` or ``Err``. A lifted
value is moved out of its C value, which is emptied (set to ``false``) and
then freed, as wasmtime-py does, so nothing is freed twice.
"""

from __future__ import annotations

from typing import Any

from ..capi import component as cc
from ..errors import WrongType
from .shapes import Shape
from .values import Err, Ok, Some, Variant


def _take(shape: Shape, c: Any) -> Any:
    """Lift ``c`` and leave it empty, for the caller to free its container."""
    value = lift(shape, c)
    c.kind = cc.BOOL
    c.of.boolean = False
    return value


def _unbox(shape: Shape | None, ptr: Any) -> Any:
    """Lift and free a heap-allocated payload (NULL: no payload)."""
    if shape is None or not ptr:
        return None
    value = _take(shape, ptr.contents)
    cc.free_boxed(ptr)
    return value


def lift(shape: Shape, c: Any) -> Any:
    """The Python value of the C value ``c`` of type ``shape``."""
    if shape.prim is not None:
        return shape.prim.convert_from_c(c)
    reader = _READERS.get(shape.kind)
    if reader is None:
        raise WrongType(f"nanonet does not convert {shape.kind} values (resources, streams "
                        "and futures are not supported)")
    return reader(shape, c)


def _list(shape: Shape, c: Any) -> Any:
    element = shape.items[0]
    assert element is not None
    try:
        if shape.is_bytes and (blob := cc.bytes_of_list(c.of.list)) is not None:
            return blob
        items = [_take(element, c.of.list.data[i]) for i in range(c.of.list.size)]
    finally:
        cc.free_list(c.of.list)
    return bytes(items) if shape.is_bytes else items


def _tuple(shape: Shape, c: Any) -> Any:
    try:
        return tuple(_take(s, c.of.tuple.data[i])
                     for i, s in enumerate(shape.items) if s is not None)
    finally:
        cc.free_tuple(c.of.tuple)


def _record(shape: Shape, c: Any) -> Any:
    out: dict[str, Any] = {}
    try:
        for i, (name, inner) in enumerate(zip(shape.names, shape.items, strict=True)):
            assert inner is not None
            out[name] = _take(inner, c.of.record.data[i].val)
    finally:
        cc.free_record(c.of.record)
    return out


def _variant(shape: Shape, c: Any) -> Any:
    case = cc.take_string(c.of.variant.discriminant)
    index = shape.names.index(case)
    return Variant(case, _unbox(shape.items[index], c.of.variant.val))


def _result(shape: Shape, c: Any) -> Any:
    if c.of.result.is_ok:
        return Ok(_unbox(shape.items[0], c.of.result.val))
    return Err(_unbox(shape.items[1], c.of.result.val))


def _option(shape: Shape, c: Any) -> Any:
    inner = shape.items[0]
    assert inner is not None
    if not c.of.option:
        return None
    value = _unbox(inner, c.of.option)
    return Some(value) if inner.kind == "option" else value


def _enum(shape: Shape, c: Any) -> Any:
    return cc.take_string(c.of.enumeration)


def _flags(shape: Shape, c: Any) -> Any:
    names = frozenset(cc.string(c.of.flags.data[i]) for i in range(c.of.flags.size))
    cc.free_flags(c.of.flags)
    return names


_READERS = {"list": _list, "tuple": _tuple, "record": _record, "variant": _variant,
            "result": _result, "option": _option, "enum": _enum, "flags": _flags}
