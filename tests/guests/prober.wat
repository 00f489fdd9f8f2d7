;; Drives tunnel "t" for `calls` calls of one ABI form and tallies what came
;; back, for the corrupt-ring tests. `mode`: 0 try_recv, 1 try_recv_batch,
;; 2 recv, 3 recv_batch, 4 try_send, 5 try_send_batch, 6 send, 7 send_batch.
;; Tally (u32 at 256 + 4 * i): [0] successes, [1..6] statuses -1..-6,
;; [7] any other result, [8] longest message received, [9] messages moved,
;; [10] a result other than CORRUPT after a CORRUPT. `lookup` resolves the
;; handle ahead of `run` (the tests call it before they damage the ring,
;; whose header holds the tunnel's name). Exports its memory.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv_batch" (func $try_recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "try_send" (func $try_send (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_send_batch" (func $try_send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "t")
  ;; four records [len 8][8 bytes] for the batch send
  (data (i32.const 1024) "\08\00\00\00record-0\08\00\00\00record-1\08\00\00\00record-2\08\00\00\00record-3")
  (global $mode (mut i32) (i32.const 0))
  (global $calls (mut i32) (i32.const 100))
  (global $h (mut i32) (i32.const -1))
  (func (export "lookup") (result i32)
    (global.set $h (call $tunnel (i32.const 0) (i32.const 1))) (global.get $h))
  (func (export "configure") (param i32 i32) (global.set $mode (local.get 0))
    (global.set $calls (local.get 1)))

  (func $bump (param $i i32) (param $by i32)
    (i32.store offset=256 (i32.shl (local.get $i) (i32.const 2))
      (i32.add (i32.load offset=256 (i32.shl (local.get $i) (i32.const 2))) (local.get $by))))
  (func $seen_len (param $len i32)
    (if (i32.gt_u (local.get $len) (i32.load offset=288 (i32.const 0)))
      (then (i32.store offset=288 (i32.const 0) (local.get $len)))))

  (func $call (param $h i32) (result i32) (local $m i32)
    (local.set $m (global.get $mode))
    (if (i32.eqz (local.get $m))
      (then (return (call $try_recv (local.get $h) (i32.const 8192) (i32.const 4096)))))
    (if (i32.eq (local.get $m) (i32.const 1)) (then (return
      (call $try_recv_batch (local.get $h) (i32.const 16384) (i32.const 16384) (i32.const 64)))))
    (if (i32.eq (local.get $m) (i32.const 2))
      (then (return (call $recv (local.get $h) (i32.const 8192) (i32.const 4096)))))
    (if (i32.eq (local.get $m) (i32.const 3)) (then (return
      (call $recv_batch (local.get $h) (i32.const 16384) (i32.const 16384) (i32.const 64)))))
    (if (i32.eq (local.get $m) (i32.const 4))
      (then (return (call $try_send (local.get $h) (i32.const 1028) (i32.const 8)))))
    (if (i32.eq (local.get $m) (i32.const 5))
      (then (return (call $try_send_batch (local.get $h) (i32.const 1024) (i32.const 4)))))
    (if (i32.eq (local.get $m) (i32.const 6))
      (then (return (call $send (local.get $h) (i32.const 1028) (i32.const 8)))))
    (call $send_batch (local.get $h) (i32.const 1024) (i32.const 4)))

  ;; a success: note the messages it moved (and their lengths, when received)
  (func $success (param $r i32) (local $p i32) (local $len i32)
    (call $bump (i32.const 0) (i32.const 1))
    (if (i32.eqz (global.get $mode)) (then
      (call $seen_len (local.get $r)) (call $bump (i32.const 9) (i32.const 1)) (return)))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then
      (call $seen_len (local.get $r)) (call $bump (i32.const 9) (i32.const 1)) (return)))
    (if (i32.ge_u (global.get $mode) (i32.const 4)) (then
      (if (i32.and (global.get $mode) (i32.const 1))
        (then (call $bump (i32.const 9) (local.get $r)))
        (else (call $bump (i32.const 9) (i32.const 1))))
      (return)))
    (if (i32.gt_u (local.get $r) (i32.const 64)) (then (call $bump (i32.const 7) (i32.const 1))))
    (call $bump (i32.const 9) (local.get $r))
    (local.set $p (i32.const 16384))
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $r)))
      (local.set $len (i32.load (local.get $p)))
      (call $seen_len (local.get $len))
      (br_if $done (i32.gt_u (local.get $len) (i32.const 16384)))
      (local.set $p (i32.add (local.get $p)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $each))))

  (func (export "run") (result i32) (local $h i32) (local $r i32) (local $i i32)
    (local $corrupt i32)
    (local.set $h (global.get $h))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then
      (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $calls)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $r (call $call (local.get $h)))
      (if (i32.and (local.get $corrupt) (i32.ne (local.get $r) (i32.const -4)))
        (then (call $bump (i32.const 10) (i32.const 1))))
      (if (i32.eq (local.get $r) (i32.const -4)) (then (local.set $corrupt (i32.const 1))))
      (if (i32.ge_s (local.get $r) (i32.const 0)) (then (call $success (local.get $r)) (br $next)))
      (if (i32.ge_s (local.get $r) (i32.const -6)) (then
        (call $bump (i32.sub (i32.const 0) (local.get $r)) (i32.const 1)) (br $next)))
      (call $bump (i32.const 7) (i32.const 1))
      (br $next)))
    (i32.const 0)))
