"""The echo component (``echo.py``) split in two across a composition, to test
the component -> component path with every kind of value.

``provider_wat()`` exports the echo functions as the interface
``nanonet:test/echo``; ``forwarder_wat()`` imports that interface and
exports the same functions as ``nanonet:test/echo-out``, each forwarding its
arguments to the imported one. Composed (``compose.py``), a value given by the host is lowered into
the forwarder's memory, copied by wasmtime's fused adapter into the
provider's memory, and copied back the same way: each direction crosses
between two linear memories through the canonical ABI.
"""

from __future__ import annotations

from .echo import CORE, NAMED, PAD, TYPES

INTERFACE = "nanonet:test/echo"
OUT = "nanonet:test/echo-out"  # what the forwarder exports: the same functions
RESULT_BYTES = 256  # room for any tuple<T, PAD> of TYPES

FORWARD_CORE = """
  (core module $mm
    (memory (export "mem") 1)
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
      (local.get $p)))
  (core instance $mi (instantiate $mm))
"""

_OPTS = ('(memory (core memory {mem} "mem")) (realloc (core func {mem} "realloc"))'
         " string-encoding=utf8")


def _func(name: str, ty: str) -> str:
    return f'(param "x" {ty}) (param "pad" {PAD}) (result (tuple {ty} {PAD}))'


def provider_wat(types: dict[str, str] | None = None) -> str:
    """The echo functions, exported as one interface instance."""
    types = TYPES if types is None else types
    lines = ["(component"]
    lines += [f"  (type ${n}0 {body})" for n, body in NAMED.items()]
    lines += [f'  (export ${n} "{n}" (type ${n}0))' for n in NAMED]
    lines.append(CORE)
    opts = _OPTS.format(mem="$i")
    for name, ty in types.items():
        lines.append(f'  (func $echo-{name} {_func(name, ty)}\n'
                     f'    (canon lift (core func $i "echo") {opts}))')
    exports = [f'(export "{n}" (type ${n}))' for n in NAMED]
    exports += [f'(export "echo-{n}" (func $echo-{n}))' for n in types]
    lines.append(f"  (instance $e {' '.join(exports)})")
    lines.append(f'  (export "{INTERFACE}" (instance $e)))')
    return "\n".join(lines)


def forwarder_wat(types: dict[str, str] | None = None) -> str:
    """Imports ``nanonet:test/echo`` and exports each of its functions, forwarding."""
    types = TYPES if types is None else types
    decls = [f'(type ${n}0 {body}) (export "{n}" (type ${n} (eq ${n}0)))'
             for n, body in NAMED.items()]
    decls += [f'(export "echo-{n}" (func {_func(n, ty)}))' for n, ty in types.items()]
    lines = ["(component", f'  (import "{INTERFACE}" (instance $e {" ".join(decls)}))']
    for n in NAMED:
        lines.append(f'  (alias export $e "{n}" (type ${n}))')
    lines.append(FORWARD_CORE)
    opts = _OPTS.format(mem="$mi")
    for n in types:
        lines.append(f'  (core func $low-{n} (canon lower (func $e "echo-{n}") {opts}))')
    lines.append(_forward_module(list(types)))
    withs = " ".join(f'(export "echo-{n}" (func $low-{n}))' for n in types)
    lines.append(f'  (core instance $fi (instantiate $f (with "a" (instance $mi))'
                 f" (with \"h\" (instance {withs}))))")
    for n, ty in types.items():
        lines.append(f'  (func $fwd-{n} {_func(n, ty)}\n'
                     f'    (canon lift (core func $fi "fwd-{n}") {opts}))')
    exports = [f'(export "{n}" (type ${n}))' for n in NAMED]
    exports += [f'(export "echo-{n}" (func $fwd-{n}))' for n in types]
    lines.append(f"  (instance $out {' '.join(exports)})")
    lines.append(f'  (export "{OUT}" (instance $out)))')
    return "\n".join(lines)


def _forward_module(names: list[str]) -> str:
    imports = "\n".join(f'    (import "h" "echo-{n}" (func $echo-{n} (param i32 i32)))'
                        for n in names)
    funcs = "\n".join(
        f'    (func (export "fwd-{n}") (param $p i32) (result i32) (local $r i32)\n'
        f"      (local.set $r (call $realloc (i32.const 0) (i32.const 0) (i32.const 8)"
        f" (i32.const {RESULT_BYTES})))\n"
        f"      (call $echo-{n} (local.get $p) (local.get $r))\n"
        "      (local.get $r))" for n in names)
    return ("  (core module $f\n"
            '    (import "a" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))\n'
            f"{imports}\n{funcs})")
