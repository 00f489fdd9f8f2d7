;; The wait-any side of the bench's wake-up row: waits on its read ends
;; 0..n-1 at once (wait_any) and echoes every message of a ready end on write
;; end n. Once any end reports CLOSED, closes end n and returns 0. Imports
;; its memory. `configure(n)` sets how many read ends it waits on (1 to 31).
(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "wait_any" (func $wait_any (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (global $n (mut i32) (i32.const 8))
  (func (export "configure") (param i32) (global.set $n (local.get 0)))

  ;; echo what waits on end $h; 1 once it reports CLOSED, a status on error
  (func $drain (param $h i32) (result i32) (local $r i32)
    (loop $next
      (local.set $r (call $try_recv (local.get $h) (i32.const 1024) (i32.const 60000)))
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $r) (i32.const -1)) (then (return (i32.const 1))))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (local.set $r (call $send (global.get $n) (i32.const 1024) (local.get $r)))
      (if (local.get $r) (then (return (local.get $r))))
      (br $next))
    (unreachable))

  (func (export "run") (result i32) (local $i i32) (local $mask i32) (local $r i32)
    (loop $fill  ;; the set at 0: handles 0..n-1
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (global.get $n))))
    (loop $again
      (local.set $mask (call $wait_any (i32.const 0) (global.get $n) (i32.const -1)))
      (if (i32.lt_s (local.get $mask) (i32.const 0)) (then (return (local.get $mask))))
      (local.set $i (i32.const 0))
      (loop $bit
        (if (i32.and (local.get $mask) (i32.shl (i32.const 1) (local.get $i))) (then
          (local.set $r (call $drain (local.get $i)))
          (if (i32.eq (local.get $r) (i32.const 1)) (then
            (drop (call $close (global.get $n)))
            (return (i32.const 0))))
          (if (local.get $r) (then (return (local.get $r))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $bit (i32.lt_u (local.get $i) (global.get $n))))
      (br $again))
    (unreachable)))
