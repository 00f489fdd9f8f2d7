;; Receives on "t" zero-copy: it maps the ring of "t" raw (nanonet:raw "t",
;; memory 0) and checks each message in place, where it lies in its slot:
;; message i is the u64 i followed by bytes equal to (i & 0xff), `size` bytes
;; long (8 + i % 25 if size is 0), as sender.wat builds it. `mode` picks the
;; ABI form: 0 recv_raw, 1 try_recv_raw (retries on AGAIN, counted in
;; `agains`). Its own memory is memory 1 (exported; the tests swap in an
;; imported one for the other style); every store goes there. Returns the
;; count received, or the first unexpected status, or -1000 (sequence gap),
;; -1001 (wrong length), -1002 (wrong fill byte), -1003 (bad offset).
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_raw" (func $recv_raw (param i32 i32) (result i32)))
  (import "nanonet" "try_recv_raw" (func $try_recv_raw (param i32 i32) (result i32)))
  (import "nanonet:raw" "t" (memory 1 16 shared))
  (memory (export "memory") 2)
  (data (memory 1) (i32.const 0) "t")
  (global $size (mut i32) (i32.const 0))
  (global $mode (mut i32) (i32.const 0))
  (global $got (mut i64) (i64.const 0))
  (global $agains (mut i64) (i64.const 0))
  (func (export "configure") (param i32 i32) (global.set $size (local.get 0))
    (global.set $mode (local.get 1)))
  (func (export "received") (result i64) (global.get $got))
  (func (export "agains") (result i64) (global.get $agains))

  ;; 0 if the message of $len bytes at offset $p of the ring is the next one
  (func $check (param $p i32) (param $len i32) (result i32) (local $i i32) (local $want i32)
    (if (i32.or (i32.lt_u (local.get $p) (i32.const 264)) (i32.and (local.get $p) (i32.const 7)))
      (then (return (i32.const -1003))))
    (if (i64.ne (i64.load 0 (local.get $p)) (global.get $got)) (then (return (i32.const -1000))))
    (local.set $want (if (result i32) (global.get $size) (then (global.get $size))
      (else (i32.add (i32.const 8) (i32.wrap_i64 (i64.rem_u (global.get $got) (i64.const 25)))))))
    (if (i32.ne (local.get $len) (local.get $want)) (then (return (i32.const -1001))))
    (local.set $i (i32.const 8))
    (block $ok (loop $byte
      (br_if $ok (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.ne (i32.load8_u 0 (i32.add (local.get $p) (local.get $i)))
                  (i32.and (i32.wrap_i64 (global.get $got)) (i32.const 255)))
        (then (return (i32.const -1002))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (global.set $got (i64.add (global.get $got) (i64.const 1)))
    (i32.const 0))

  ;; one step: 0 if a message was received and checked, 1 on AGAIN, else a code
  (func $step (param $h i32) (result i32) (local $n i32)
    (local.set $n (if (result i32) (global.get $mode)
      (then (call $try_recv_raw (local.get $h) (i32.const 16)))
      (else (call $recv_raw (local.get $h) (i32.const 16)))))
    (if (i32.eq (local.get $n) (i32.const -2)) (then (return (i32.const 1))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
    (call $check (i32.load 1 (i32.const 16)) (local.get $n)))

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
