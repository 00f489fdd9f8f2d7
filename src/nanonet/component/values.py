"""Python values to and from the C API's component values, by their Shape.

How WIT values look in Python (both directions, so a value round-trips):

| WIT | Python |
|---|---|
| bool, integers, floats, string | bool, int, float, str |
| char | a one-character str |
| list<u8> / other lists | bytes / list |
| tuple | tuple |
| record | dict of WIT field name to value (lowering also takes snake_case attributes) |
| variant | ``Variant(case, payload)``, always named |
| enum | the case name (str) |
| option<T> | None or the value; ``Some(v)`` only where T is itself an option |
| result<T, E> | ``Ok(v)`` or ``Err(e)`` (payload None where WIT has none) |
| flags | a frozenset of flag names |

Primitives are converted by wasmtime-py's own code; every composite is
converted here so that nothing loses its name on the way (see shapes.py).
The memory ownership rules mirror wasmtime-py's: a lifted value is moved out
of the C value, which is then emptied before it is deleted.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from ..capi import component as cc
from ..errors import WrongType
from .shapes import Shape

ValPtr = Any  # ctypes pointer to wasmtime_component_val_t
Storelike = Any  # wasmtime's Store or a StoreContext; only resources need it


@dataclass(frozen=True)
class Ok:
    value: Any = None


@dataclass(frozen=True)
class Err:
    value: Any = None


@dataclass(frozen=True)
class Variant:
    case: str
    payload: Any = None


@dataclass(frozen=True)
class Some:
    """The present case of an option whose payload is itself an option."""

    value: Any


def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value[name]
    return getattr(value, name.replace("-", "_"))


def _box(store: Storelike, shape: Shape | None, value: Any) -> Any:
    """A heap-allocated C value (or NULL for no payload), as variants hold them."""
    if shape is None:
        return None
    raw = cc.Val()
    lower(store, shape, value, ctypes.pointer(raw))
    return cc.box(raw)


def _case(shape: Shape, value: Any) -> tuple[int, Any]:
    """The case index and payload of a variant, option or result value."""
    if shape.kind == "result":
        if not isinstance(value, Ok | Err):
            raise WrongType(f"expected Ok(...) or Err(...) for {shape.wit()}, got {value!r}")
        return (0 if isinstance(value, Ok) else 1), value.value
    if not isinstance(value, Variant) or value.case not in shape.names:
        raise WrongType(f"expected Variant(case, payload) with case in {list(shape.names)}, "
                        f"got {value!r}")
    return shape.names.index(value.case), value.payload


def _lower_seq(store: Storelike, shapes: list[Shape], values: list[Any], raw: Any) -> None:
    for i, (shape, value) in enumerate(zip(shapes, values, strict=True)):
        lower(store, shape, value, ctypes.pointer(raw.data[i]))


def lower(store: Storelike, shape: Shape, value: Any, ptr: ValPtr) -> None:
    """Write ``value`` of type ``shape`` into the C value at ``ptr``."""
    kind, c = shape.kind, ptr.contents
    if shape.prim is not None:
        shape.prim.convert_to_c(store, value, ptr)
    elif kind == "list":
        _lower_list(store, shape, value, c)
    elif kind == "tuple":
        _lower_tuple(store, shape, value, c)
    elif kind == "record":
        _lower_record(store, shape, value, c)
    elif kind == "option":
        _lower_option(store, shape, value, c)
    elif kind in ("variant", "result"):
        _lower_variant(store, shape, value, c)
    elif kind == "enum":
        if value not in shape.names:
            raise WrongType(f"expected one of {list(shape.names)}, got {value!r}")
        c.kind = cc.ENUM
        c.of.enumeration = cc.new_string(value)
    elif kind == "flags":
        _lower_flags(shape, value, c)
    else:
        raise WrongType(f"nanonet does not convert {kind} values (resources, streams and "
                        "futures are not supported)")


def _lower_list(store: Storelike, shape: Shape, value: Any, c: Any) -> None:
    if shape.is_bytes and not isinstance(value, bytes | bytearray | memoryview):
        raise WrongType(f"expected bytes for list<u8>, got {type(value).__name__}")
    if shape.is_bytes:
        c.kind = cc.LIST
        c.of.list = cc.new_bytes_list(value)
        return
    items = list(value)
    raw = cc.new_list(len(items))
    element = shape.items[0]
    assert element is not None
    _lower_seq(store, [element] * len(items), items, raw)
    c.kind = cc.LIST
    c.of.list = raw


def _lower_tuple(store: Storelike, shape: Shape, value: Any, c: Any) -> None:
    items = list(value)
    if len(items) != len(shape.items):
        raise WrongType(f"expected a tuple of {len(shape.items)}, got {len(items)} values")
    raw = cc.new_tuple(len(items))
    _lower_seq(store, [s for s in shape.items if s is not None], items, raw)
    c.kind = cc.TUPLE
    c.of.tuple = raw


def _lower_record(store: Storelike, shape: Shape, value: Any, c: Any) -> None:
    raw = cc.new_record(len(shape.names))
    for i, (name, inner) in enumerate(zip(shape.names, shape.items, strict=True)):
        assert inner is not None
        lower(store, inner, _field(value, name), ctypes.pointer(raw.data[i].val))
        raw.data[i].name = cc.new_string(name)
    c.kind = cc.RECORD
    c.of.record = raw


def _lower_option(store: Storelike, shape: Shape, value: Any, c: Any) -> None:
    inner = shape.items[0]
    assert inner is not None
    present = value is not None
    if inner.kind == "option" and present:
        if not isinstance(value, Some):
            raise WrongType(f"a present {shape.wit()} is written Some(value), got {value!r}")
        value = value.value
    c.kind = cc.OPTION
    c.of.option = _box(store, inner, value) if present else None


def _lower_variant(store: Storelike, shape: Shape, value: Any, c: Any) -> None:
    index, payload = _case(shape, value)
    boxed = _box(store, shape.items[index], payload)
    if shape.kind == "result":
        c.kind = cc.RESULT
        c.of.result.is_ok = index == 0
        c.of.result.val = boxed
    else:
        c.kind = cc.VARIANT
        c.of.variant.discriminant = cc.new_string(shape.names[index])
        c.of.variant.val = boxed


def _lower_flags(shape: Shape, value: Any, c: Any) -> None:
    names = set(value)
    unknown = names - set(shape.names)
    if unknown:
        raise WrongType(f"unknown flag(s) {sorted(unknown)}; known: {list(shape.names)}")
    raw = cc.new_flags(len(names))
    for i, name in enumerate(sorted(names)):
        raw.data[i] = cc.new_string(name)
    c.kind = cc.FLAGS
    c.of.flags = raw
