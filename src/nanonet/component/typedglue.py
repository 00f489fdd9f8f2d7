"""Generated Wasm for a typed tunnel's import: one record of any kind -> one message.

    wat = typed_glue_wat(layout.shape, max_payload)

The import ``send: func(r: T)`` is lowered by the canonical ABI to its flat
core values (up to 16) or to one pointer at ``T`` in the component's memory
(memory 0). The glue lays the record out in a scratch memory (memory 1) as
``typed.RecordLayout.encode`` does: the fixed part at offset 0, then each
buffer a pointer names, bump-allocated at its element's alignment in the
order the canonical ABI's ``store`` reaches them, every pointer rewritten to
its offset in the message. Flat values are stored at the fixed part's
offsets (a variant's payload taken back from the joined slots, as the
canonical ABI lifts it); a value in memory is copied whole, then fixed up.
Then the adapter's ``send`` (ring/adapter.py) writes the message.

It checks what the canonical ABI checks when it lifts the value, trapping
where the component runtime would fail the call: a discriminant out of
range, a ``char`` that is no Unicode scalar value, a ``string`` that is not
UTF-8, a pointer past the component's memory or off its alignment, and
a message past the tunnel's ``max_payload`` (nothing is sent then).
Padding between buffers and the fixed part's unused bytes are zeroed, so
no earlier message's bytes leave in a later one.
"""

from __future__ import annotations

from ..ring.layout import Status
from . import canon_layout as lay
from .ringglue import STORE, UTF8
from .shapes import Shape

_LOAD = {1: "i32.load8_u", 2: "i32.load16_u", 4: "i32.load"}
_STORE = {1: "i32.store8", 2: "i32.store16", 4: "i32.store"}
CHAR = """
  (func $char (param $c i32) (result i32)
    (if (i32.or (i32.ge_u (local.get $c) (i32.const 0x110000))
                (i32.eq (i32.and (local.get $c) (i32.const 0xFFFFF800)) (i32.const 0xD800)))
      (then unreachable))
    (local.get $c))
"""


def _alloc(pmax: int) -> str:
    """Bump ``$at`` to ``align``, zero the gap, take ``n`` bytes; trap past ``pmax``."""
    return f"""
  (func $alloc (param $align i32) (param $n i64) (result i32) (local $old i32) (local $a i32)
    (local.set $old (global.get $at))
    (local.set $a (i32.and (i32.add (local.get $old) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $a)) (local.get $n)) (i64.const {pmax}))
      (then unreachable))
    (memory.fill 1 (local.get $old) (i32.const 0) (i32.sub (local.get $a) (local.get $old)))
    (global.set $at (i32.add (local.get $a) (i32.wrap_i64 (local.get $n))))
    (local.get $a))
"""


def needs_fix(shape: Shape) -> bool:
    """Whether a value of ``shape`` copied from the component needs more than the copy:
    a pointer to follow, or a bool, char or discriminant to check."""
    if shape.kind in ("bool", "char", "string", "list", *lay.VARIANTS):
        return True
    return shape.kind in ("record", "tuple") and any(map(needs_fix, lay.fields(shape)))


def _coerce(expr: str, have: str, want: str) -> str:
    """A joined flat slot's value as a case's own flat type (the ABI's lift)."""
    if have == want:
        return expr
    if have == "i64":
        expr = f"(i32.wrap_i64 {expr})" if want in ("i32", "f32") else expr
        if want == "f64":
            return f"(f64.reinterpret_i64 {expr})"
    return f"(f32.reinterpret_i32 {expr})" if want == "f32" else expr


class _Gen:
    """The module's functions, one ``$fN`` per type whose copy needs fixing up."""

    def __init__(self) -> None:
        self.names: dict[int, tuple[Shape, str]] = {}
        self.funcs: list[str] = []
        self.utf8 = self.char = False

    def fix(self, shape: Shape, addr: str) -> str:
        """The call fixing up the value of ``shape`` at scratch address ``addr``."""
        if not needs_fix(shape):
            return ""
        hit = self.names.get(id(shape))
        if hit is None:
            name = f"$f{len(self.names)}"
            self.names[id(shape)] = (shape, name)
            self.funcs.append(f"  (func {name} (param $a i32) (local $p i32) (local $n i32) "
                              f"(local $d i32) (local $i i32)\n{self._fix_body(shape)})\n")
        else:
            name = hit[1]
        return f"    (call {name} {addr})\n"

    def _fix_body(self, shape: Shape) -> str:
        kind, a = shape.kind, "(local.get $a)"
        if kind == "bool":
            return f"    (i32.store8 1 {a} (i32.ne (i32.load8_u 1 {a}) (i32.const 0)))\n"
        if kind == "char":
            self.char = True
            return f"    (drop (call $char (i32.load 1 {a})))\n"
        if kind in ("string", "list"):
            return self._fix_span(shape)
        if kind in ("record", "tuple"):
            return "".join(self.fix(s, f"(i32.add {a} (i32.const {at}))")
                           for s, at in zip(lay.fields(shape), lay.field_offsets(shape),
                                            strict=True))
        p = lay.plan(shape)
        width = lay.discriminant_size(len(p.cases))
        out = (f"    (local.set $d ({_LOAD[width]} 1 {a}))\n"
               f"    (if (i32.ge_u (local.get $d) (i32.const {len(p.cases)})) "
               "(then unreachable))\n")
        for k, case in enumerate(p.cases):
            call = "" if case is None else self.fix(case, f"(i32.add {a} (i32.const {p.payload}))")
            if call:
                out += f"    (if (i32.eq (local.get $d) (i32.const {k})) (then\n{call}    ))\n"
        return out

    def _fix_span(self, shape: Shape) -> str:
        """Copy a string's or list's buffer into the message; point at it there."""
        elem = shape.items[0] if shape.kind == "list" else Shape("u8")
        assert elem is not None
        width, align = lay.size(elem), lay.alignment(elem)
        out = ("    (local.set $p (i32.load 1 (local.get $a)))\n"
               "    (local.set $n (i32.load 1 (i32.add (local.get $a) (i32.const 4))))\n")
        if shape.kind == "string":
            self.utf8 = True
            out += "    (call $utf8 (local.get $p) (local.get $n))\n"
        if align > 1:
            out += (f"    (if (i32.and (local.get $p) (i32.const {align - 1})) "
                    "(then unreachable))\n")
        out += (f"    (local.set $d (call $alloc (i32.const {align}) (i64.mul (i64.extend_i32_u "
                f"(local.get $n)) (i64.const {width}))))\n"
                f"    (memory.copy 1 0 (local.get $d) (local.get $p) (i32.mul (local.get $n) "
                f"(i32.const {width})))\n"
                "    (i32.store 1 (local.get $a) (local.get $d))\n")
        each = self.fix(elem, f"(i32.add (local.get $d) (i32.mul (local.get $i) "
                              f"(i32.const {width})))")
        if each:
            out += ("    (block $done (loop $next\n"
                    "      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))\n"
                    f"  {each}"
                    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
                    "      (br $next)))\n")
        return out

    def store_flat(self, shape: Shape, slots: list[tuple[str, str]], off: int) -> str:
        """Store ``shape``'s flat values (``(expr, core type)``, consumed from the
        front of ``slots``) at offset ``off`` of the message."""
        kind, at = shape.kind, f"(i32.const {off})"
        if kind in STORE:
            expr = slots.pop(0)[0]
            if kind == "bool":
                expr = f"(i32.ne {expr} (i32.const 0))"
            elif kind == "char":
                self.char, expr = True, f"(call $char {expr})"
            return f"    ({STORE[kind]} 1 {at} {expr})\n"
        if kind in ("string", "list"):
            ptr, n = slots.pop(0)[0], slots.pop(0)[0]
            return (f"    (i32.store 1 {at} {ptr})\n"
                    f"    (i32.store 1 (i32.const {off + 4}) {n})\n" + self.fix(shape, at))
        if kind in ("record", "tuple"):
            return "".join(self.store_flat(s, slots, off + o)
                           for s, o in zip(lay.fields(shape), lay.field_offsets(shape),
                                           strict=True))
        if kind == "flags":
            width = lay.flag_bytes(len(shape.names))
            return f"    ({_STORE[width]} 1 {at} {slots.pop(0)[0]})\n" if width else ""
        return self._store_variant(shape, slots, off)

    def _store_variant(self, shape: Shape, slots: list[tuple[str, str]], off: int) -> str:
        p = lay.plan(shape)
        disc = slots.pop(0)[0]
        joined = [slots.pop(0) for _ in p.flat[1:]]
        width = lay.discriminant_size(len(p.cases))
        out = (f"    (if (i32.ge_u {disc} (i32.const {len(p.cases)})) (then unreachable))\n"
               f"    ({_STORE[width]} 1 (i32.const {off}) {disc})\n")
        for k, case in enumerate(p.cases):
            if case is None:
                continue
            mine = [(_coerce(e, t, want), want) for (e, t), want in
                    zip(joined, lay.flatten(case), strict=False)]
            body = self.store_flat(case, mine, off + p.payload)
            if body:
                out += f"    (if (i32.eq {disc} (i32.const {k})) (then\n{body}    ))\n"
        return out


def typed_glue_wat(shape: Shape, pmax: int) -> str:
    """The glue module: imports the component's memory, the scratch memory and
    the adapter's ``send``; exports ``call`` with the lowered import's type."""
    gen, size = _Gen(), lay.size(shape)
    flat = lay.flatten(shape)
    if len(flat) > lay.MAX_FLAT_PARAMS:
        params = "(param $p0 i32)"
        align = lay.alignment(shape)
        body = (f"    (if (i32.and (local.get $p0) (i32.const {align - 1})) (then unreachable))\n"
                f"    (memory.copy 1 0 (i32.const 0) (local.get $p0) (i32.const {size}))\n"
                + gen.fix(shape, "(i32.const 0)"))
    else:
        params = " ".join(f"(param $p{i} {t})" for i, t in enumerate(flat))
        body = gen.store_flat(shape, [(f"(local.get $p{i})", t) for i, t in enumerate(flat)], 0)
    head = "    unreachable\n" if size > pmax else ""
    return ("(module\n"
            '  (import "guest" "memory" (memory 0))\n'
            '  (import "scratch" "memory" (memory 1))\n'
            '  (import "adapter" "send" (func $send (param i32 i32 i32) (result i32)))\n'
            "  (global $at (mut i32) (i32.const 0))\n"
            + _alloc(pmax) + (UTF8 if gen.utf8 else "") + (CHAR if gen.char else "")
            + "".join(gen.funcs) +
            f'  (func (export "call") {params} (local $r i32)\n' + head +
            f"    (memory.fill 1 (i32.const 0) (i32.const 0) (i32.const {min(size, pmax)}))\n"
            f"    (global.set $at (i32.const {size}))\n" + body +
            "    (local.set $r (call $send (i32.const 0) (i32.const 0) (global.get $at)))\n"
            "    ;; closed, broken, quarantined: the host path would raise; this traps\n"
            "    (if (i32.and (i32.lt_s (local.get $r) (i32.const 0))\n"
            "                 (i32.ne (local.get $r) "
            f"(i32.const {int(Status.YIELD)})))\n"
            "      (then unreachable))))\n")
