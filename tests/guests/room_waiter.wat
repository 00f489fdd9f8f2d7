;; Sends `count` messages [u32 0][u32 i] on write end 0 with try_send; when
;; the ring is full it waits for room with wait_any on that write end (and
;; counts those waits, `waits`). Closes its end and returns 0, or returns the
;; first unexpected status. Imports its memory.
(module
  (import "nanonet" "try_send" (func $try_send (param i32 i32 i32) (result i32)))
  (import "nanonet" "wait_any" (func $wait_any (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (global $count (mut i32) (i32.const 100))
  (global $waits (mut i32) (i32.const 0))
  (func (export "configure") (param i32) (global.set $count (local.get 0)))
  (func (export "waits") (result i32) (global.get $waits))
  (func (export "run") (result i32) (local $i i32) (local $r i32)
    (i32.store (i32.const 0) (i32.const 0))  ;; the set: handle 0
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $count)))
      (i32.store (i32.const 64) (i32.const 0))
      (i32.store (i32.const 68) (local.get $i))
      (local.set $r (call $try_send (i32.const 0) (i32.const 64) (i32.const 8)))
      (if (i32.eq (local.get $r) (i32.const -2)) (then
        (global.set $waits (i32.add (global.get $waits) (i32.const 1)))
        (local.set $r (call $wait_any (i32.const 0) (i32.const 1) (i32.const -1)))
        (if (i32.ne (local.get $r) (i32.const 1)) (then (return (i32.const -100))))
        (br $next)))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (drop (call $close (i32.const 0)))
    (i32.const 0)))
