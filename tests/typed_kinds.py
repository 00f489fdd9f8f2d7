"""WAT relays and hypothesis values for typed tunnels of any WIT kind.

``relay_wat(shape)`` is a component exporting ``transmit(r: T)`` that calls
its import ``send(r: T)`` with the very core values it was given (flat, or
the pointer when the record takes more than 16 core values), so the host's
lowering of ``transmit``'s argument is what reaches the tunnel's glue.
``values(shape)`` draws Python values of ``T`` as the value layer writes them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nanonet.component import canon_layout as lay
from nanonet.component.shapes import Shape
from nanonet.component.values import Err, Ok, Some, Variant
from nanonet.component.wat_types import WatTypes

INTS = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
        "u64": (0, 2**64 - 1), "s8": (-(2**7), 2**7 - 1), "s16": (-(2**15), 2**15 - 1),
        "s32": (-(2**31), 2**31 - 1), "s64": (-(2**63), 2**63 - 1)}


def S(kind: str, names: tuple[str, ...] = (), *items: Shape | None) -> Shape:
    return Shape(kind, names, tuple(items))


REALLOC = """  (core module $mm
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 16))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (if (i32.gt_u (global.get $next) (i32.const 30000)) (then (global.set $next (i32.const 16))))
      (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (local.get $at)))
  (core instance $mi (instantiate $mm))
"""


def relay_wat(shape: Shape) -> str:
    """A component whose ``transmit(r)`` is ``send(r)`` (see the module docstring)."""
    types = WatTypes()
    ref = types.ref(shape)
    flat = lay.flatten(shape)
    core = ["i32"] if len(flat) > lay.MAX_FLAT_PARAMS else list(flat)
    params = " ".join(core)
    gets = " ".join(f"(local.get {i})" for i in range(len(core)))
    return ("(component\n" + types.text() +
            f'  (import "send" (func $send (param "r" {ref})))\n' + REALLOC +
            '  (core func $sendl (canon lower (func $send) (memory (core memory $mi "memory"))))\n'
            "  (core module $m\n"
            f'    (import "h" "send" (func $send (param {params})))\n'
            f'    (func (export "transmit") (param {params}) (call $send {gets})))\n'
            '  (core instance $i (instantiate $m (with "h" (instance (export "send" '
            "(func $sendl))))))\n"
            f'  (func (export "transmit") (param "r" {ref})\n'
            '    (canon lift (core func $i "transmit") (memory (core memory $mi "memory"))\n'
            '                (realloc (core func $mi "realloc")))))')


def values(shape: Shape | None, size: int = 4) -> st.SearchStrategy[Any]:
    """Python values of ``shape``, as the value layer writes them."""
    assert shape is not None
    kind = shape.kind
    if kind in INTS:
        return st.integers(*INTS[kind])
    simple: dict[str, st.SearchStrategy[Any]] = {
        "bool": st.booleans(), "char": st.characters(), "string": st.text(max_size=12),
        "f32": st.floats(width=32, allow_nan=False), "f64": st.floats(allow_nan=False)}
    if kind in simple:
        return simple[kind]
    items = shape.items
    if kind == "list":
        if shape.is_bytes:
            return st.binary(max_size=24)
        return st.lists(values(items[0]), max_size=size)
    if kind == "record":
        return st.fixed_dictionaries({n: values(s) for n, s in zip(shape.names, items,
                                                                    strict=True)})
    if kind == "tuple":
        return st.tuples(*(values(s) for s in items))
    if kind == "enum":
        return st.sampled_from(shape.names)
    if kind == "flags":
        return st.frozensets(st.sampled_from(shape.names))
    if kind == "option":
        inner = values(items[0])
        nested = items[0] is not None and items[0].kind == "option"
        return st.none() | (inner.map(Some) if nested else inner)
    if kind == "result":
        ok, err = items
        return (st.just(Ok()) if ok is None else values(ok).map(Ok)) | (
            st.just(Err()) if err is None else values(err).map(Err))
    return st.one_of(*(_case(n, s) for n, s in zip(shape.names, items, strict=True)))


def _case(name: str, payload: Shape | None) -> st.SearchStrategy[Variant]:
    if payload is None:
        return st.just(Variant(name))
    return st.builds(Variant, st.just(name), values(payload))


def hostile_wat(shape: Shape, core: list[int]) -> str:
    """A component whose ``bad()`` calls ``send`` with the flat core values ``core``
    (whatever they mean), as a faulty or hostile guest may."""
    types = WatTypes()
    ref = types.ref(shape)
    flat = list(lay.flatten(shape))
    assert len(flat) == len(core) <= lay.MAX_FLAT_PARAMS
    args = " ".join(f"({t}.const {v})" for t, v in zip(flat, core, strict=True))
    return ("(component\n" + types.text() +
            f'  (import "send" (func $send (param "r" {ref})))\n' + REALLOC +
            '  (core func $sendl (canon lower (func $send) (memory (core memory $mi "memory"))))\n'
            "  (core module $m\n"
            f'    (import "h" "send" (func $send (param {" ".join(flat)})))\n'
            f'    (func (export "bad") (call $send {args})))\n'
            '  (core instance $i (instantiate $m (with "h" (instance (export "send" '
            "(func $sendl))))))\n"
            '  (func (export "bad") (canon lift (core func $i "bad"))))')
