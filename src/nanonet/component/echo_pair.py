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

from collections.abc import Callable

from .echo import CORE, NAMED, PAD, REALLOC, TYPES

INTERFACE = "nanonet:test/echo"
OUT = "nanonet:test/echo-out"  # what the forwarder exports: the same functions
RESULT_BYTES = 256  # room for any tuple<T, PAD> of TYPES

FORWARD_CORE = f"""
  (core module $mm
{REALLOC})
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
    lines += _lift_all(types, "echo", lambda n: '$i "echo"', opts)
    lines.append(_export_all(types, "echo", "$e", INTERFACE))
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
    lines += _lift_all(types, "fwd", lambda n: f'$fi "fwd-{n}"', opts)
    lines.append(_export_all(types, "fwd", "$out", OUT))
    return "\n".join(lines)


def _lift_all(types: dict[str, str], prefix: str, core: Callable[[str], str],
              opts: str) -> list[str]:
    """``$<prefix>-<name>``: each echo function lifted from its core function."""
    return [f'  (func ${prefix}-{n} {_func(n, ty)}\n'
            f'    (canon lift (core func {core(n)}) {opts}))' for n, ty in types.items()]


def _export_all(types: dict[str, str], prefix: str, instance: str, interface: str) -> str:
    """The named types and the lifted functions as one instance, exported as ``interface``."""
    exports = [f'(export "{n}" (type ${n}))' for n in NAMED]
    exports += [f'(export "echo-{n}" (func ${prefix}-{n}))' for n in types]
    return (f"  (instance {instance} {' '.join(exports)})\n"
            f'  (export "{interface}" (instance {instance})))')


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
