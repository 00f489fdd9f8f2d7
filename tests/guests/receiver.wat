;; Receives on "t" until CLOSED, checking that message i is the u64 i
;; followed by bytes equal to (i & 0xff), `size` bytes long (8 + i % 25 if
;; size is 0). `mode` picks the ABI form: 0 recv, 1 recv_batch (up to 256 a
;; call), 2 try_recv, 3 try_recv_batch (both retry on AGAIN, counted in
;; `agains`). Returns the count received, or the first unexpected status, or
;; -1000 (sequence gap), -1001 (wrong length), -1002 (wrong fill byte).
;; Exports its memory; the tests swap in an imported one for the other style.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv_batch" (func $try_recv_batch (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "t")
  (global $size (mut i32) (i32.const 0))
  (global $mode (mut i32) (i32.const 1))
  (global $got (mut i64) (i64.const 0))
  (global $agains (mut i64) (i64.const 0))
  (func (export "configure") (param i32 i32) (global.set $size (local.get 0))
    (global.set $mode (local.get 1)))
  (func (export "received") (result i64) (global.get $got))
  (func (export "agains") (result i64) (global.get $agains))

  ;; 0 if the message of $len bytes at $p is the next one, else an error code
  (func $check (param $p i32) (param $len i32) (result i32) (local $i i32) (local $want i32)
    (if (i64.ne (i64.load (local.get $p)) (global.get $got)) (then (return (i32.const -1000))))
    (local.set $want (if (result i32) (global.get $size) (then (global.get $size))
      (else (i32.add (i32.const 8) (i32.wrap_i64 (i64.rem_u (global.get $got) (i64.const 25)))))))
    (if (i32.ne (local.get $len) (local.get $want)) (then (return (i32.const -1001))))
    (local.set $i (i32.const 8))
    (block $ok (loop $byte
      (br_if $ok (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                  (i32.and (i32.wrap_i64 (global.get $got)) (i32.const 255)))
        (then (return (i32.const -1002))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (global.set $got (i64.add (global.get $got) (i64.const 1)))
    (i32.const 0))

  ;; check $n records [len u32][payload padded to 4] at 1024
  (func $check_batch (param $n i32) (result i32) (local $p i32) (local $len i32) (local $r i32)
    (local.set $p (i32.const 1024))
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $len (i32.load (local.get $p)))
      (local.set $r (call $check (i32.add (local.get $p) (i32.const 4)) (local.get $len)))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $p (i32.add (local.get $p)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  ;; one step: 0 if messages were received and checked, 1 on AGAIN, else a code
  (func $step (param $h i32) (result i32) (local $n i32)
    (local.set $n
      (if (result i32) (i32.eqz (global.get $mode))
        (then (call $recv (local.get $h) (i32.const 1024) (i32.const 4096)))
      (else (if (result i32) (i32.eq (global.get $mode) (i32.const 1))
        (then (call $recv_batch (local.get $h) (i32.const 1024) (i32.const 65536) (i32.const 256)))
      (else (if (result i32) (i32.eq (global.get $mode) (i32.const 2))
        (then (call $try_recv (local.get $h) (i32.const 1024) (i32.const 4096)))
        (else (call $try_recv_batch (local.get $h) (i32.const 1024) (i32.const 65536)
                (i32.const 256)))))))))
    (if (i32.eq (local.get $n) (i32.const -2)) (then (return (i32.const 1))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
    (if (i32.and (global.get $mode) (i32.const 1))
      (then (return (call $check_batch (local.get $n)))))
    (call $check (i32.const 1024) (local.get $n)))

  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $more
      (local.set $r (call $step (local.get $h)))
      (if (i32.eq (local.get $r) (i32.const 1)) (then
        (global.set $agains (i64.add (global.get $agains) (i64.const 1)))
        (br $more)))
      (br_if $more (i32.eqz (local.get $r))))
    (if (i32.eq (local.get $r) (i32.const -1)) (then (return (i32.wrap_i64 (global.get $got)))))
    (local.get $r)))
