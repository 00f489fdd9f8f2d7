;; A subscriber that may miss messages: receives on "stream" until it closes
;; (one `recv` at a time, or `recv_batch` with mode 1), checking that sequence
;; numbers only grow, and spinning `delay` iterations after each receive so a
;; lossy one falls behind. `received()` counts what came, `missed()` is what
;; the adapter's `missed(h)` said at the end. `run` returns 0 once the stream
;; closed, -1000 for a sequence number out of order, or the adapter's status.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "missed" (func $missed (param i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "stream")
  (global $got (mut i64) (i64.const 0))
  (global $last (mut i64) (i64.const -1))
  (global $missed (mut i32) (i32.const -1))
  (global $mode (mut i32) (i32.const 0))
  (global $delay (mut i32) (i32.const 0))
  (func (export "configure") (param i32 i32)
    (global.set $mode (local.get 0)) (global.set $delay (local.get 1)))
  (func (export "received") (result i64) (global.get $got))
  (func (export "missed") (result i32) (global.get $missed))
  ;; one message at $p: its sequence number must be above the last one
  (func $check (param $p i32) (result i32) (local $seq i64)
    (local.set $seq (i64.load (local.get $p)))
    (if (i64.le_s (local.get $seq) (global.get $last)) (then (return (i32.const 0))))
    (global.set $last (local.get $seq))
    (global.set $got (i64.add (global.get $got) (i64.const 1)))
    (i32.const 1))
  (func $spin (local $i i32)
    (local.set $i (global.get $delay))
    (block $out (loop $l
      (br_if $out (i32.eqz (local.get $i)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br $l))))
  (func (export "run") (result i32)
    (local $h i32) (local $n i32) (local $p i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 6)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $more
      (if (global.get $mode)
        (then (local.set $n (call $recv_batch (local.get $h) (i32.const 1024) (i32.const 65536)
                                              (i32.const 64))))
        (else (local.set $n (call $recv (local.get $h) (i32.const 1028) (i32.const 256)))
              (if (i32.ge_s (local.get $n) (i32.const 0)) (then
                (i32.store (i32.const 1024) (local.get $n)) (local.set $n (i32.const 1))))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (global.set $missed (call $missed (local.get $h)))
        (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
        (return (local.get $n))))
      (local.set $p (i32.const 1024))
      (block $done (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eqz (call $check (i32.add (local.get $p) (i32.const 4))))
          (then (return (i32.const -1000))))
        (local.set $p (i32.add (local.get $p)
          (i32.and (i32.add (i32.load (local.get $p)) (i32.const 7)) (i32.const -4))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
      (call $spin)
      (br $more))
    (i32.const 0)))
