;; Sends `count` messages on "t". Message i is the u64 i followed by bytes
;; equal to (i & 0xff); it is `size` bytes long, or 8 + i % 25 if size is 0.
;; `mode` picks the ABI form: 0 send, 1 send_batch (up to 64 a call),
;; 2 try_send, 3 try_send_batch (both retry on AGAIN, counted in `agains`).
;; With `gate` set, after `gate` messages it waits for one message on "gate".
;; Closes "t" at the end and returns 0, or returns the first unexpected
;; status (or -200 for an impossible count). Imports its memory; the tests
;; swap in an exported one for the other linking style.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_send" (func $try_send (param i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_send_batch" (func $try_send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (data (i32.const 0) "t")
  (data (i32.const 8) "gate")
  (global $count (mut i64) (i64.const 1000))
  (global $size (mut i32) (i32.const 0))
  (global $mode (mut i32) (i32.const 1))
  (global $gate (mut i64) (i64.const -1))
  (global $sent (mut i64) (i64.const 0))
  (global $agains (mut i64) (i64.const 0))
  (func (export "configure") (param i64 i32 i32 i64)
    (global.set $count (local.get 0)) (global.set $size (local.get 1))
    (global.set $mode (local.get 2)) (global.set $gate (local.get 3)))
  (func (export "sent") (result i64) (global.get $sent))
  (func (export "agains") (result i64) (global.get $agains))

  (func $len (param $seq i64) (result i32)
    (if (result i32) (global.get $size)
      (then (global.get $size))
      (else (i32.add (i32.const 8) (i32.wrap_i64 (i64.rem_u (local.get $seq) (i64.const 25)))))))

  ;; message $seq at $p; returns its length
  (func $build (param $p i32) (param $seq i64) (result i32) (local $len i32)
    (local.set $len (call $len (local.get $seq)))
    (i64.store (local.get $p) (local.get $seq))
    (memory.fill (i32.add (local.get $p) (i32.const 8)) (i32.wrap_i64 (local.get $seq))
      (i32.sub (local.get $len) (i32.const 8)))
    (local.get $len))

  ;; records [len u32][payload padded to 4] at 1024, stopping at $end; returns how many
  (func $fill (param $end i64) (result i32) (local $n i32) (local $p i32) (local $seq i64)
    (local $len i32)
    (local.set $p (i32.const 1024)) (local.set $seq (global.get $sent))
    (block $full (loop $more
      (br_if $full (i32.ge_u (local.get $n) (i32.const 64)))
      (br_if $full (i64.ge_u (local.get $seq) (local.get $end)))
      (local.set $len (call $build (i32.add (local.get $p) (i32.const 4)) (local.get $seq)))
      (i32.store (local.get $p) (local.get $len))
      (local.set $p (i32.add (local.get $p)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $seq (i64.add (local.get $seq) (i64.const 1)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $more)))
    (local.get $n))

  ;; one step: returns how many were sent, or a status
  (func $step (param $h i32) (param $end i64) (result i32) (local $n i32) (local $len i32)
    (if (i32.and (global.get $mode) (i32.const 1)) (then
      (local.set $n (call $fill (local.get $end)))
      (if (i32.eq (global.get $mode) (i32.const 1))
        (then (return (call $send_batch (local.get $h) (i32.const 1024) (local.get $n)))))
      (return (call $try_send_batch (local.get $h) (i32.const 1024) (local.get $n)))))
    (local.set $len (call $build (i32.const 1024) (global.get $sent)))
    (if (i32.eqz (global.get $mode)) (then
      (local.set $n (call $send (local.get $h) (i32.const 1024) (local.get $len))))
    (else
      (local.set $n (call $try_send (local.get $h) (i32.const 1024) (local.get $len)))))
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 1)) (else (local.get $n))))

  (func (export "run") (result i32) (local $h i32) (local $g i32) (local $r i32) (local $end i64)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (block $done (loop $more
      (br_if $done (i64.ge_u (global.get $sent) (global.get $count)))
      (if (i64.eq (global.get $sent) (global.get $gate)) (then
        (local.set $g (call $tunnel (i32.const 8) (i32.const 4)))
        (local.set $r (call $recv (local.get $g) (i32.const 4096) (i32.const 4096)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
      (local.set $end (global.get $count))
      (if (i64.lt_u (global.get $sent) (global.get $gate)) (then
        (if (i64.lt_u (global.get $gate) (local.get $end)) (then
          (local.set $end (global.get $gate))))))
      (local.set $r (call $step (local.get $h) (local.get $end)))
      (if (i32.eq (local.get $r) (i32.const -2)) (then
        (global.set $agains (i64.add (global.get $agains) (i64.const 1)))
        (br $more)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (i32.or (i32.eqz (local.get $r)) (i32.gt_u (local.get $r) (i32.const 64)))
        (then (return (i32.const -200))))
      (global.set $sent (i64.add (global.get $sent) (i64.extend_i32_u (local.get $r))))
      (br $more)))
    (drop (call $close (local.get $h)))
    (i32.const 0)))
