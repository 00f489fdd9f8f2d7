"""Two WAT components, a caller and a callee, for measuring and testing the
component -> component path (``compose.py``) with no toolchain.

The callee exports ``nanonet:bench/calc`` (``scale: func(p: point) ->
point`` on a record of two u32) and imports nothing. The caller imports it
and WASI's monotonic clock, and exports ``timed(n) -> list<u64>`` (each of
``n`` calls timed inside Wasm, in ns, by the clock wasmtime itself
implements: no Python in the path) and ``spin(n) -> u32`` (``n`` calls in a
loop, untimed: calls/s). Each has its own linear memory.
"""

from __future__ import annotations

import wasmtime

CALC = "nanonet:bench/calc"
CLOCK = "wasi:clocks/monotonic-clock@0.2.0"

CALLEE = """(component
  (core module $m
    (memory (export "mem") 1)
    (func (export "scale") (param i32 i32) (result i32)
      (i32.store (i32.const 16) (i32.mul (local.get 0) (i32.const 2)))
      (i32.store (i32.const 20) (i32.add (local.get 1) (i32.const 1)))
      (i32.const 16)))
  (core instance $i (instantiate $m))
  (type $point (record (field "x" u32) (field "y" u32)))
  (func $scale (param "p" $point) (result $point)
    (canon lift (core func $i "scale") (memory (core memory $i "mem"))))
  (instance $calc (export "point" (type $point)) (export "scale" (func $scale)))
  (export "nanonet:bench/calc" (instance $calc)))"""

CALLER = """(component
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (export "now" (func (result u64)))))
  (import "nanonet:bench/calc" (instance $calc
    (type $p (record (field "x" u32) (field "y" u32)))
    (export "point" (type $pp (eq $p)))
    (export "scale" (func (param "p" $pp) (result $pp)))))
  (core module $mm (memory (export "mem") 17))
  (core instance $mi (instantiate $mm))
  (core func $now (canon lower (func $clock "now")))
  (core func $scale (canon lower (func $calc "scale") (memory (core memory $mi "mem"))))
  (core module $m
    (import "m" "mem" (memory 17))
    (import "h" "now" (func $now (result i64)))
    (import "h" "scale" (func $scale (param i32 i32 i32)))
    ;; durations from byte 1024 on (at most 131,072 of them); (ptr, len) at 0
    (func (export "timed") (param $n i32) (result i32) (local $i i32) (local $t i64)
      (local.set $n (select (local.get $n) (i32.const 131072)
                            (i32.le_u (local.get $n) (i32.const 131072))))
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $t (call $now))
        (call $scale (local.get $i) (i32.const 7) (i32.const 32))
        (i64.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3)))
                   (i64.sub (call $now) (local.get $t)))
        (if (i32.ne (i32.load (i32.const 32)) (i32.shl (local.get $i) (i32.const 1)))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (local.get $n))
      (i32.const 0))
    (func (export "spin") (param $n i32) (result i32) (local $i i32) (local $sum i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $scale (local.get $i) (i32.const 7) (i32.const 32))
        (local.set $sum (i32.add (local.get $sum) (i32.load (i32.const 36))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (local.get $sum)))
  (core instance $i (instantiate $m (with "m" (instance $mi))
    (with "h" (instance (export "now" (func $now)) (export "scale" (func $scale))))))
  (func (export "timed") (param "n" u32) (result (list u64))
    (canon lift (core func $i "timed") (memory (core memory $mi "mem"))))
  (func (export "spin") (param "n" u32) (result u32) (canon lift (core func $i "spin"))))"""


def callee() -> bytes:
    return bytes(wasmtime.wat2wasm(CALLEE))


def caller() -> bytes:
    return bytes(wasmtime.wat2wasm(CALLER))
