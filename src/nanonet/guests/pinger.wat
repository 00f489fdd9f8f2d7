;; W1 ping side: sends a message on "ping", waits for the echo on "pong",
;; and records each round trip (ns, from WASI's monotonic clock) as a u32
;; at RTT_BASE. The host reads the samples back. It imports its memory (so
;; its calls reach the adapter directly, with no shim) and re-exports it,
;; because WASI's clock writes its result through the exported memory. One
;; clock read per round: round i ends where round i+1 starts.
;; `pace(interval_ns)` (0: closed loop) sends round i at START + i * interval
;; instead (spinning on the clock until then) and counts its latency from
;; that intended time, so a stall shows in every round that should have gone.
(module
  (import "env" "memory" (memory 64 4096))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (export "memory" (memory 0))
  (data (i32.const 0) "pingpong")
  (global $rounds (mut i32) (i32.const 10000))
  (global $size (mut i32) (i32.const 64))
  (global $warmup (mut i32) (i32.const 1000))
  (global $interval (mut i64) (i64.const 0))
  (global $start (mut i64) (i64.const 0))
  (func (export "pace") (param i64) (global.set $interval (local.get 0)))
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
  (func $clamp (param i64) (result i64)  ;; a u32 sample: 4.29 s at most
    (select (i64.const 0xFFFFFFFF) (local.get 0)
      (i64.gt_u (local.get 0) (i64.const 0xFFFFFFFF))))
  (func (export "run") (result i32)
    (local $ping i32) (local $pong i32) (local $i i32) (local $t0 i64) (local $t1 i64)
    (local $r i32)
    (local.set $ping (call $tunnel (i32.const 0) (i32.const 4)))
    (local.set $pong (call $tunnel (i32.const 4) (i32.const 4)))
    (if (i32.or (i32.lt_s (local.get $ping) (i32.const 0)) (i32.lt_s (local.get $pong) (i32.const 0)))
      (then (return (i32.const -50))))
    (local.set $i (i32.sub (i32.const 0) (global.get $warmup)))
    (local.set $t0 (call $now))
    (block $done (loop $round
      (br_if $done (i32.ge_s (local.get $i) (global.get $rounds)))
      (if (i32.and (i64.ne (global.get $interval) (i64.const 0))
                   (i32.ge_s (local.get $i) (i32.const 0))) (then
        (if (i32.eqz (local.get $i)) (then (global.set $start (local.get $t0))))
        (local.set $t0 (i64.add (global.get $start)
          (i64.mul (i64.extend_i32_u (local.get $i)) (global.get $interval))))
        (block $due (loop $wait
          (br_if $due (i64.ge_u (call $now) (local.get $t0)))
          (br $wait)))))
      (i32.store (i32.const 1024) (local.get $i))
      (local.set $r (call $send (local.get $ping) (i32.const 1024) (global.get $size)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (local.set $r (call $recv (local.get $pong) (i32.const 8192) (i32.const 8192)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (i32.ne (i32.load (i32.const 8192)) (local.get $i)) (then (return (i32.const -60))))
      (local.set $t1 (call $now))
      (if (i32.ge_s (local.get $i) (i32.const 0)) (then
        (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 2)))
          (i32.wrap_i64 (call $clamp (i64.sub (local.get $t1) (local.get $t0)))))))
      (local.set $t0 (local.get $t1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $round)))
    (drop (call $close (local.get $ping)))
    (i32.const 0)))
