;; W2 stream sink: receives on "stream" until it closes, checking that every
;; message is SIZE bytes and that sequence numbers run 0, 1, 2, ... with none
;; missing. `configure(size)` sets SIZE; `received()` is the count checked.
;; `run` returns 0 when the stream closed cleanly, -1000 on a gap, -1001 on a
;; wrong length, or the adapter's negative status. Also the idle service of
;; W4: with nothing sent it parks in the adapter. Exports its memory (the
;; toolchain default), so it is linked through the shim.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "stream")
  (global $got (mut i64) (i64.const 0))
  (global $size (mut i32) (i32.const 64))
  (func (export "configure") (param i32) (global.set $size (local.get 0)))
  (func (export "received") (result i64) (global.get $got))
  (func (export "run") (result i32)
    (local $h i32) (local $n i32) (local $p i32) (local $len i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 6)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $more
      (local.set $n (call $recv_batch (local.get $h) (i32.const 1024) (i32.const 65536) (i32.const 256)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
        (return (local.get $n))))
      (local.set $p (i32.const 1024))
      (block $done (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $len (i32.load (local.get $p)))
        (if (i32.ne (local.get $len) (global.get $size)) (then (return (i32.const -1001))))
        (if (i64.ne (i64.load offset=4 (local.get $p)) (global.get $got)) (then (return (i32.const -1000))))
        (global.set $got (i64.add (global.get $got) (i64.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
      (br $more))
    (i32.const 0)))
