;; Receives until the tunnel closes, checking that sequence numbers run
;; 0, 1, 2, ... with none missing; returns the count (or -1 on a gap).
;; Exports its memory (the toolchain default), so it is linked through the shim.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "in")
  (global $got (mut i64) (i64.const 0))
  (func (export "received") (result i64) (global.get $got))
  (func (export "run") (result i32)
    (local $h i32) (local $n i32) (local $p i32) (local $len i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 2)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $more
      (local.set $n (call $recv_batch (local.get $h) (i32.const 1024) (i32.const 65536) (i32.const 256)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.wrap_i64 (global.get $got)))))
        (return (local.get $n))))
      (local.set $p (i32.const 1024))
      (block $done (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $len (i32.load (local.get $p)))
        (if (i64.ne (i64.load offset=4 (local.get $p)) (global.get $got)) (then (return (i32.const -1000))))
        (global.set $got (i64.add (global.get $got) (i64.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
      (br $more))
    (i32.const 0)))
