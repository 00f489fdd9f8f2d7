"""Generated Wasm for one tunnel import: the lowered call -> one ring message.

    fields = tunnel_fields(sig, layout)      # or Unfit: what it cannot carry
    wat = glue_wat(fields, layout, max_payload)

A component's import ``forward: func(stream-id: u32, payload: list<u8>)``
is lowered by the canonical ABI to the core call ``(i32, i32, i32)``: the
number, then the list's pointer and length in the component's own memory.
The glue module takes exactly those parameters, lays the message out in a
scratch memory (memory 1) the way the host path's encoder does
(``wiring.encoder``: numbers little-endian at their width, bool one byte,
char a u32, ``list<u8>`` a u32 length and its bytes) or, for a typed
tunnel, in the record's canonical layout (``typed.RecordLayout``: fixed part,
then the bytes, a span's ``ptr`` counted from the message's start), copies
the bytes out of the component's memory (memory 0) with ``memory.copy``, and
hands the message to the tunnel adapter's ``send`` (ring/adapter.py, the same
code a core guest's messages go through), whose guest memory is the scratch.

What the host path refuses, the glue refuses by trapping: a message over the
tunnel's ``max_payload``, a ``char`` that is not a Unicode scalar value, a
closed or broken tunnel. ``string`` parameters are not served here (the glue
would have to check UTF-8 as the canonical ABI does): such an import keeps
the host path.
"""

from __future__ import annotations

from ..ring.layout import Status
from .graph import Unfit
from .shapes import Shape, Signature
from .typed import RecordLayout

FLAT = {"bool": "i32", "u8": "i32", "s8": "i32", "u16": "i32", "s16": "i32", "u32": "i32",
        "s32": "i32", "char": "i32", "u64": "i64", "s64": "i64", "f32": "f32", "f64": "f64"}
STORE = {"bool": "i32.store8", "u8": "i32.store8", "s8": "i32.store8", "u16": "i32.store16",
         "s16": "i32.store16", "u32": "i32.store", "s32": "i32.store", "char": "i32.store",
         "u64": "i64.store", "s64": "i64.store", "f32": "f32.store", "f64": "f64.store"}
WIDTH = {"bool": 1, "u8": 1, "s8": 1, "u16": 2, "s16": 2, "u32": 4, "s32": 4, "char": 4,
         "u64": 8, "s64": 8, "f32": 4, "f64": 8}
MAX_FLAT_PARAMS = 16  # the canonical ABI passes more than this through memory
BYTES = "bytes"


def _kind(shape: Shape, where: str) -> str:
    if shape.kind in FLAT:
        return shape.kind
    if shape.is_bytes:
        return BYTES
    raise Unfit(f"{where} is {shape.wit()}: the generated tunnel path carries numbers, "
                "bool, char and list<u8> (a string would need a UTF-8 check)")


def tunnel_fields(sig: Signature, layout: RecordLayout | None, who: str) -> list[str]:
    """The kinds of the message's fields, in order, or ``Unfit``."""
    if sig.result is not None:
        raise Unfit(f"{who} returns {sig.result.wit()}; a tunnel import returns nothing")
    if layout is None:
        kinds = [_kind(shape, f"{who}: parameter {name!r}") for name, shape in sig.params]
    else:
        if len(sig.params) != 1 or not layout.matches(sig.params[0][1]):
            raise Unfit(f"{who} does not take the one record its typed tunnel carries")
        kinds = [f.kind for f in layout.fields]
        if "string" in kinds:
            raise Unfit(f"{who}: {layout.describe()} has a string field, which the generated "
                        "path does not check for UTF-8")
    if sum(2 if k == BYTES else 1 for k in kinds) > MAX_FLAT_PARAMS:
        raise Unfit(f"{who} takes more than {MAX_FLAT_PARAMS} core parameters (the canonical "
                    "ABI passes them through memory, which the generated path does not read)")
    return kinds


def _params(kinds: list[str]) -> str:
    types = [t for k in kinds for t in (("i32", "i32") if k == BYTES else (FLAT[k],))]
    return " ".join(f"(param $p{i} {t})" for i, t in enumerate(types))


def _size_check(kinds: list[str], fixed: int, pmax: int) -> str:
    """Trap before writing anything if the message would exceed ``pmax`` (in i64:
    a hostile length cannot wrap the sum)."""
    total, p = f"(i64.const {fixed})", 0
    for k in kinds:
        if k == BYTES:
            total = f"(i64.add {total} (i64.extend_i32_u (local.get $p{p + 1})))"
        p += 2 if k == BYTES else 1
    return f"    (if (i64.gt_u {total} (i64.const {pmax})) (then unreachable))\n"


def _fixed(kind: str, p: int, at: str) -> str:
    value = f"(local.get $p{p})"
    if kind == "bool":
        value = f"(i32.ne {value} (i32.const 0))"
    check = ""
    if kind == "char":  # a Unicode scalar value: below 0x110000 and not a surrogate
        check = (f"    (if (i32.or (i32.ge_u {value} (i32.const 0x110000)) (i32.eq (i32.and "
                 f"{value} (i32.const 0xFFFFF800)) (i32.const 0xD800))) (then unreachable))\n")
    return check + f"    ({STORE[kind]} 1 {at} {value})\n"


def _copy(p: int) -> str:
    """The list's bytes, from the component's memory to the cursor; advance it."""
    return (f"    (memory.copy 1 0 (local.get $at) (local.get $p{p}) (local.get $p{p + 1}))\n"
            f"    (local.set $at (i32.add (local.get $at) (local.get $p{p + 1})))\n")


def _untyped_body(kinds: list[str]) -> str:
    out, p = "", 0
    for k in kinds:
        if k == BYTES:
            out += f"    (i32.store 1 (local.get $at) (local.get $p{p + 1}))\n"
            out += "    (local.set $at (i32.add (local.get $at) (i32.const 4)))\n" + _copy(p)
            p += 2
            continue
        out += _fixed(k, p, "(local.get $at)")
        out += f"    (local.set $at (i32.add (local.get $at) (i32.const {WIDTH[k]})))\n"
        p += 1
    return out


def _typed_body(kinds: list[str], layout: RecordLayout) -> str:
    out, p = f"    (local.set $at (i32.const {layout.size}))\n", 0
    for k, f in zip(kinds, layout.fields, strict=True):
        if k == BYTES:
            out += f"    (i32.store 1 (i32.const {f.offset}) (local.get $at))\n"
            out += f"    (i32.store 1 (i32.const {f.offset + 4}) (local.get $p{p + 1}))\n"
            out += _copy(p)
            p += 2
            continue
        out += _fixed(k, p, f"(i32.const {f.offset})")
        p += 1
    return out


def glue_wat(kinds: list[str], layout: RecordLayout | None, pmax: int) -> str:
    """The glue module: imports the component's memory, the scratch memory and
    the adapter's ``send``; exports ``call`` with the lowered import's type."""
    fixed = layout.size if layout is not None else sum(
        4 if k == BYTES else WIDTH[k] for k in kinds)
    body = _untyped_body(kinds) if layout is None else _typed_body(kinds, layout)
    return ("(module\n"
            '  (import "guest" "memory" (memory 0))\n'
            '  (import "scratch" "memory" (memory 1))\n'
            '  (import "adapter" "send" (func $send (param i32 i32 i32) (result i32)))\n'
            f'  (func (export "call") {_params(kinds)} (local $at i32) (local $r i32)\n'
            + _size_check(kinds, fixed, pmax) + body +
            "    (local.set $r (call $send (i32.const 0) (i32.const 0) (local.get $at)))\n"
            "    ;; closed, broken, quarantined: the host path would raise; this traps\n"
            f"    (if (i32.and (i32.lt_s (local.get $r) (i32.const 0))\n"
            f"                 (i32.ne (local.get $r) (i32.const {int(Status.YIELD)})))\n"
            "      (then unreachable))))\n")


def scratch_pages(pmax: int) -> int:
    """Pages of scratch memory one message of up to ``pmax`` bytes needs."""
    return max(1, -(-pmax // 65536))
