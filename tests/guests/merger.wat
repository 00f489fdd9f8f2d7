;; Waits on read ends 0..n-1 at once (wait_any) and forwards every message to
;; write end n. An end that reports CLOSED leaves the set; once every one has,
;; closes end n and returns 0. Returns any other negative status it meets
;; (wait_any's AGAIN after `timeout_ms` included). Counts its wait_any calls
;; (`waits`) and the ready ends they reported (`ready`). A message whose
;; first u32 is all ones traps it (a poison message). Imports its memory.
(module
  (import "nanonet" "wait_any" (func $wait_any (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (global $n (mut i32) (i32.const 8))
  (global $timeout (mut i32) (i32.const -1))
  (global $alive (mut i32) (i32.const 0))   ;; bit h: end h not closed yet
  (global $waits (mut i64) (i64.const 0))
  (global $ready (mut i64) (i64.const 0))
  (func (export "configure") (param i32 i32)
    (global.set $n (local.get 0)) (global.set $timeout (local.get 1)))
  (func (export "waits") (result i64) (global.get $waits))
  (func (export "ready") (result i64) (global.get $ready))

  ;; the set at 0: every alive handle; returns how many
  (func $build (result i32) (local $h i32) (local $k i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $h) (global.get $n)))
      (if (i32.and (global.get $alive) (i32.shl (i32.const 1) (local.get $h))) (then
        (i32.store (i32.shl (local.get $k) (i32.const 2)) (local.get $h))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $each)))
    (local.get $k))

  ;; forward up to 64 messages of end $h; a negative status if one came
  (func $drain (param $h i32) (result i32) (local $i i32) (local $r i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const 64)))
      (local.set $r (call $try_recv (local.get $h) (i32.const 1024) (i32.const 4096)))
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $r) (i32.const -1)) (then
        (global.set $alive (i32.xor (global.get $alive) (i32.shl (i32.const 1) (local.get $h))))
        (return (i32.const 0))))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      ;; a poison message (first u32 all ones) traps it
      (if (i32.eq (i32.load (i32.const 1024)) (i32.const -1)) (then unreachable))
      (local.set $r (call $send (global.get $n) (i32.const 1024) (local.get $r)))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "run") (result i32) (local $k i32) (local $mask i32) (local $i i32) (local $r i32)
    (global.set $alive (i32.sub (i32.shl (i32.const 1) (global.get $n)) (i32.const 1)))
    (loop $again
      (local.set $k (call $build))
      (if (i32.eqz (local.get $k)) (then
        (drop (call $close (global.get $n)))
        (return (i32.const 0))))
      (global.set $waits (i64.add (global.get $waits) (i64.const 1)))
      (local.set $mask (call $wait_any (i32.const 0) (local.get $k) (global.get $timeout)))
      (if (i32.lt_s (local.get $mask) (i32.const 0)) (then (return (local.get $mask))))
      (local.set $i (i32.const 0))
      (block $done (loop $bit
        (br_if $done (i32.ge_u (local.get $i) (local.get $k)))
        (if (i32.and (local.get $mask) (i32.shl (i32.const 1) (local.get $i))) (then
          (global.set $ready (i64.add (global.get $ready) (i64.const 1)))
          (local.set $r (call $drain (i32.load (i32.shl (local.get $i) (i32.const 2)))))
          (if (local.get $r) (then (return (local.get $r))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bit)))
      (br $again))
    (unreachable)))
