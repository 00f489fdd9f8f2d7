;; Request/reply bench, client side: calls port "rpc" `rounds` times (after
;; `warmup` calls) with a `size`-byte request carrying the round number, checks
;; that the reply carries it back, and records each round trip (ns, WASI's
;; monotonic clock) as a u32 at RTT_BASE for the host to read. Imports its
;; memory and re-exports it (WASI's clock writes through the exported one).
(module
  (import "env" "memory" (memory 64 4096))
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (export "memory" (memory 0))
  (data (i32.const 0) "rpc")
  (global $rounds (mut i32) (i32.const 10000))
  (global $size (mut i32) (i32.const 64))
  (global $warmup (mut i32) (i32.const 1000))
  (func (export "configure") (param i32 i32 i32)
    (global.set $rounds (local.get 0)) (global.set $size (local.get 1))
    (global.set $warmup (local.get 2))
    (if (i32.gt_u (i32.add (i32.const 65536) (i32.shl (local.get 0) (i32.const 2)))
                  (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (i32.shl (local.get 0) (i32.const 2))
                                                   (i32.const 16)) (i32.const 2)))))))
  (func (export "rtt_base") (result i32) (i32.const 65536))
  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 16)))
    (i64.load (i32.const 16)))
  (func (export "run") (result i32)
    (local $h i32) (local $i i32) (local $t0 i64) (local $t1 i64) (local $r i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (local.set $i (i32.sub (i32.const 0) (global.get $warmup)))
    (local.set $t0 (call $now))
    (block $done (loop $round
      (br_if $done (i32.ge_s (local.get $i) (global.get $rounds)))
      (i32.store (i32.const 1024) (local.get $i))
      (local.set $r (call $call (local.get $h) (i32.const 1024) (global.get $size)
                      (i32.const 8192) (i32.const 8192) (i32.const 10000)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (i32.ne (i32.load (i32.const 8192)) (local.get $i)) (then (return (i32.const -60))))
      (local.set $t1 (call $now))
      (if (i32.ge_s (local.get $i) (i32.const 0)) (then
        (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 2)))
          (i32.wrap_i64 (select (i64.const 0xFFFFFFFF) (i64.sub (local.get $t1) (local.get $t0))
            (i64.gt_u (i64.sub (local.get $t1) (local.get $t0)) (i64.const 0xFFFFFFFF)))))))
      (local.set $t0 (local.get $t1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $round)))
    (i32.const 0)))
