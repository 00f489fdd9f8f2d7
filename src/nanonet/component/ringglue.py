"""Generated Wasm for one tunnel import: the lowered call -> one ring message.

    fields = tunnel_fields(sig, layout)      # or Unfit: what it cannot carry
    wat = glue_wat(fields, layout, max_payload)

A component's import ``forward: func(stream-id: u32, payload: list<u8>)``
is lowered by the canonical ABI to the core call ``(i32, i32, i32)``: the
number, then the list's pointer and length in the component's own memory.
The glue module takes exactly those parameters, lays the message out in a
scratch memory (memory 1) the way the host path's encoder does
(``wiring.encoder``: numbers little-endian at their width, bool one byte,
char a u32, ``string`` and ``list<u8>`` a u32 length and the bytes) or, for a typed
tunnel, in the record's canonical layout (``typed.RecordLayout``: fixed part,
then the bytes, a span's ``ptr`` counted from the message's start), copies
the bytes out of the component's memory (memory 0) with ``memory.copy``, and
hands the message to the tunnel adapter's ``send`` (ring/adapter.py, the same
code a core guest's messages go through), whose guest memory is the scratch.

What the host path refuses, the glue refuses by trapping: a message over the
tunnel's ``max_payload``, a ``char`` that is not a Unicode scalar value, a
``string`` that is not well-formed UTF-8 (checked as the canonical ABI
checks a string it lifts), a closed or broken tunnel.
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
STRING = "string"
SPANS = (BYTES, STRING)  # a (ptr, len) pair in the component's memory

# Trap unless bytes [p, p+n) of memory 0 are well-formed UTF-8 (RFC 3629: no
# overlong forms, no surrogates, nothing above U+10FFFF), as the canonical ABI
# checks a string it lifts. A read past the memory traps too.
UTF8 = """
  (func $utf8 (param $p i32) (param $n i32)
    (local $i i32) (local $b i32) (local $k i32) (local $lo i32) (local $hi i32) (local $j i32)
    (block $ok (loop $next
      (br_if $ok (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $b (i32.load8_u 0 (i32.add (local.get $p) (local.get $i))))
      (local.set $lo (i32.const 0x80))
      (local.set $hi (i32.const 0xBF))
      (local.set $k (i32.const 1))
      (if (i32.ge_u (local.get $b) (i32.const 0x80)) (then
        (if (i32.lt_u (local.get $b) (i32.const 0xC2)) (then unreachable))
        (local.set $k (i32.const 2))
        (if (i32.ge_u (local.get $b) (i32.const 0xE0)) (then
          (local.set $k (i32.const 3))
          (if (i32.eq (local.get $b) (i32.const 0xE0)) (then (local.set $lo (i32.const 0xA0))))
          (if (i32.eq (local.get $b) (i32.const 0xED)) (then (local.set $hi (i32.const 0x9F))))))
        (if (i32.ge_u (local.get $b) (i32.const 0xF0)) (then
          (if (i32.gt_u (local.get $b) (i32.const 0xF4)) (then unreachable))
          (local.set $k (i32.const 4))
          (local.set $lo (select (i32.const 0x90) (i32.const 0x80)
                                 (i32.eq (local.get $b) (i32.const 0xF0))))
          (local.set $hi (select (i32.const 0x8F) (i32.const 0xBF)
                                 (i32.eq (local.get $b) (i32.const 0xF4))))))))
      (if (i32.gt_u (local.get $k) (i32.sub (local.get $n) (local.get $i))) (then unreachable))
      (if (i32.gt_u (local.get $k) (i32.const 1)) (then
        (local.set $b (i32.load8_u 0 (i32.add (local.get $p)
                                              (i32.add (local.get $i) (i32.const 1)))))
        (if (i32.or (i32.lt_u (local.get $b) (local.get $lo))
                    (i32.gt_u (local.get $b) (local.get $hi)))
          (then unreachable))
        (local.set $j (i32.const 2))
        (block $done (loop $cont
          (br_if $done (i32.ge_u (local.get $j) (local.get $k)))
          (local.set $b (i32.load8_u 0 (i32.add (local.get $p)
                                                (i32.add (local.get $i) (local.get $j)))))
          (if (i32.ne (i32.and (local.get $b) (i32.const 0xC0)) (i32.const 0x80))
            (then unreachable))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $cont)))))
      (local.set $i (i32.add (local.get $i) (local.get $k)))
      (br $next))))
"""


def _kind(shape: Shape, where: str) -> str:
    if shape.kind in FLAT:
        return shape.kind
    if shape.is_bytes:
        return BYTES
    if shape.kind == STRING:
        return STRING
    raise Unfit(f"{where} is {shape.wit()}: the generated tunnel path carries numbers, "
                "bool, char, string and list<u8>")


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
    if sum(2 if k in SPANS else 1 for k in kinds) > MAX_FLAT_PARAMS:
        raise Unfit(f"{who} takes more than {MAX_FLAT_PARAMS} core parameters (the canonical "
                    "ABI passes them through memory, which the generated path does not read)")
    return kinds


def _params(kinds: list[str]) -> str:
    types = [t for k in kinds for t in (("i32", "i32") if k in SPANS else (FLAT[k],))]
    return " ".join(f"(param $p{i} {t})" for i, t in enumerate(types))


def _size_check(kinds: list[str], fixed: int, pmax: int) -> str:
    """Trap before writing anything if the message would exceed ``pmax`` (in i64:
    a hostile length cannot wrap the sum)."""
    total, p = f"(i64.const {fixed})", 0
    for k in kinds:
        if k in SPANS:
            total = f"(i64.add {total} (i64.extend_i32_u (local.get $p{p + 1})))"
        p += 2 if k in SPANS else 1
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


def _copy(p: int, kind: str) -> str:
    """The span's bytes (a string's checked first), from the component's memory
    to the cursor; advance it."""
    ptr, n = f"(local.get $p{p})", f"(local.get $p{p + 1})"
    check = f"    (call $utf8 {ptr} {n})\n" if kind == STRING else ""
    return check + (f"    (memory.copy 1 0 (local.get $at) {ptr} {n})\n"
                    f"    (local.set $at (i32.add (local.get $at) {n}))\n")


def _untyped_body(kinds: list[str]) -> str:
    out, p = "", 0
    for k in kinds:
        if k in SPANS:
            out += f"    (i32.store 1 (local.get $at) (local.get $p{p + 1}))\n"
            out += "    (local.set $at (i32.add (local.get $at) (i32.const 4)))\n" + _copy(p, k)
            p += 2
            continue
        out += _fixed(k, p, "(local.get $at)")
        out += f"    (local.set $at (i32.add (local.get $at) (i32.const {WIDTH[k]})))\n"
        p += 1
    return out


def _typed_body(kinds: list[str], layout: RecordLayout) -> str:
    out, p = f"    (local.set $at (i32.const {layout.size}))\n", 0
    for k, f in zip(kinds, layout.fields, strict=True):
        if k in SPANS:
            out += f"    (i32.store 1 (i32.const {f.offset}) (local.get $at))\n"
            out += f"    (i32.store 1 (i32.const {f.offset + 4}) (local.get $p{p + 1}))\n"
            out += _copy(p, k)
            p += 2
            continue
        out += _fixed(k, p, f"(i32.const {f.offset})")
        p += 1
    return out


def glue_wat(kinds: list[str], layout: RecordLayout | None, pmax: int) -> str:
    """The glue module: imports the component's memory, the scratch memory and
    the adapter's ``send``; exports ``call`` with the lowered import's type."""
    fixed = layout.size if layout is not None else sum(
        4 if k in SPANS else WIDTH[k] for k in kinds)
    body = _untyped_body(kinds) if layout is None else _typed_body(kinds, layout)
    return ("(module\n"
            '  (import "guest" "memory" (memory 0))\n'
            '  (import "scratch" "memory" (memory 1))\n'
            '  (import "adapter" "send" (func $send (param i32 i32 i32) (result i32)))\n'
            + (UTF8 if STRING in kinds else "") +
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
