;; Calls port "rpc" `count` times; request i is [id u32][i u32] followed by
;; (i % 40) bytes of (i & 0xff). Every reply must be 'R' + the request.
;; Returns the number of bad replies, or -1000 + status for an unexpected
;; status; `trap_at` (if > 0) traps after that many calls, with a call
;; posted and not answered (a client killed mid-call). Timeouts are counted
;; in `timeouts` and retried.
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "rpc")
  (global $count (mut i32) (i32.const 1000))
  (global $id (mut i32) (i32.const 0))
  (global $trap_at (mut i32) (i32.const 0))
  (global $timeout (mut i32) (i32.const 10000))
  (global $timeouts (mut i32) (i32.const 0))
  (func (export "configure") (param i32 i32 i32 i32)
    (global.set $count (local.get 0)) (global.set $id (local.get 1))
    (global.set $trap_at (local.get 2)) (global.set $timeout (local.get 3)))
  (func (export "timeouts") (result i32) (global.get $timeouts))
  ;; request i at 1024; its length
  (func $build (param $i i32) (result i32) (local $k i32) (local $n i32)
    (i32.store (i32.const 1024) (global.get $id))
    (i32.store (i32.const 1028) (local.get $i))
    (local.set $n (i32.rem_u (local.get $i) (i32.const 40)))
    (memory.fill (i32.const 1032) (local.get $i) (local.get $n))
    (i32.add (i32.const 8) (local.get $n)))
  ;; does the reply at 4096 (length $r) say 'R' + the request of length $n?
  (func $bad (param $r i32) (param $n i32) (result i32) (local $k i32)
    (if (i32.ne (local.get $r) (i32.add (local.get $n) (i32.const 1))) (then (return (i32.const 1))))
    (if (i32.ne (i32.load8_u (i32.const 4096)) (i32.const 82)) (then (return (i32.const 1))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
      (if (i32.ne (i32.load8_u (i32.add (i32.const 4097) (local.get $k)))
                  (i32.load8_u (i32.add (i32.const 1024) (local.get $k))))
        (then (return (i32.const 1))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $each)))
    (i32.const 0))
  (func (export "run") (result i32) (local $h i32) (local $i i32) (local $n i32) (local $r i32)
    (local $bad i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (block $end (loop $each
      (br_if $end (i32.ge_u (local.get $i) (global.get $count)))
      (if (i32.and (i32.ne (global.get $trap_at) (i32.const 0))
                   (i32.eq (local.get $i) (global.get $trap_at))) (then unreachable))
      (local.set $n (call $build (local.get $i)))
      (local.set $r (call $call (local.get $h) (i32.const 1024) (local.get $n) (i32.const 4096)
                      (i32.const 8192) (global.get $timeout)))
      (if (i32.eq (local.get $r) (i32.const -9)) (then
        (global.set $timeouts (i32.add (global.get $timeouts) (i32.const 1)))
        (br $each)))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then (return (i32.add (i32.const -1000) (local.get $r)))))
      (local.set $bad (i32.add (local.get $bad) (call $bad (local.get $r) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (local.get $bad)))
