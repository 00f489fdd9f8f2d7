;; Sends `count` messages on handle 0: message i is [u32 id][u32 i] followed by
;; zero bytes up to `size` (at least 8). Closes its end and returns 0, or
;; returns the first status send gave. Imports its memory.
(module
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (global $id (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 100))
  (global $size (mut i32) (i32.const 8))
  (func (export "configure") (param i32 i32 i32)
    (global.set $id (local.get 0)) (global.set $count (local.get 1))
    (global.set $size (local.get 2)))
  (func (export "run") (result i32) (local $i i32) (local $r i32)
    (i32.store (i32.const 0) (global.get $id))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $count)))
      (i32.store (i32.const 4) (local.get $i))
      (local.set $r (call $send (i32.const 0) (i32.const 0) (global.get $size)))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (drop (call $close (i32.const 0)))
    (i32.const 0)))
