"""A component, written in WAT, that hands back whatever it is given.

It exists to test value conversion against wasmtime's real canonical ABI
with no toolchain at all. Each ``echo-<name>: func(x: T, pad: P) -> tuple<T,
P>`` has 16 padding bytes in ``P``, so its parameters take more than 16 flat
values and are passed in memory, laid out as ``tuple<T, P>``; the result, also
``tuple<T, P>``, is returned in memory too. The same bytes are both, so the
core function is the identity on the pointer: the value goes through a full
lower into the guest's memory and a full lift back out.
"""

from __future__ import annotations

PAD = "(tuple u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8 u8)"

# name -> WIT type in component text format; named types are exported below
NAMED = {
    "rec": '(record (field "id" u64) (field "name" string) (field "tags" (list string)))',
    "var": '(variant (case "a" string) (case "b" string) (case "none") (case "n" u32))',
    "color": '(enum "red" "green" "blue")',
    "perm": '(flags "read" "write" "exec")',
}
TYPES = {
    "bool": "bool", "s8": "s8", "u8": "u8", "s16": "s16", "u16": "u16", "s32": "s32",
    "u32": "u32", "s64": "s64", "u64": "u64", "f32": "f32", "f64": "f64", "char": "char",
    "string": "string", "bytes": "(list u8)", "strings": "(list string)",
    "tuple": "(tuple u32 string f64)", "rec": "$rec", "var": "$var", "color": "$color",
    "opt": "(option string)", "optopt": "(option (option u8))",
    "res": "(result string (error string))", "unit-res": "(result)",
    "perm": "$perm", "vars": "(list $var)",
}

# a bump allocator over one memory, as the canonical ABI's realloc; the core
# modules here and in ``echo_pair.py`` start with it
REALLOC = """    (memory (export "mem") 1)
    (global $top (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $top) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $top (i32.add (local.get $p) (local.get 3)))
      (block $ok
        (br_if $ok (i32.le_u (global.get $top) (i32.shl (memory.size) (i32.const 16))))
        (br_if $ok (i32.ge_s (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16))
                                                   (i32.const 1))) (i32.const 0)))
        (unreachable))
      (local.get $p))"""

CORE = f"""
  (core module $m
{REALLOC}
    (func (export "echo") (param i32) (result i32) (local.get 0)))
  (core instance $i (instantiate $m))
"""


def echo_wat(types: dict[str, str] | None = None) -> str:
    """The component text; ``types`` defaults to one of every kind of value."""
    types = TYPES if types is None else types
    lines = ["(component"]
    for name, body in NAMED.items():
        lines.append(f"  (type ${name}0 {body})")
        lines.append(f'  (export ${name} "{name}" (type ${name}0))')
    lines.append(CORE)
    for name, ty in types.items():
        lines.append(
            f'  (func (export "echo-{name}") (param "x" {ty}) (param "pad" {PAD})'
            f" (result (tuple {ty} {PAD}))\n"
            '    (canon lift (core func $i "echo") (memory (core memory $i "mem"))'
            ' (realloc (core func $i "realloc")) string-encoding=utf8))')
    lines.append(")")
    return "\n".join(lines)
