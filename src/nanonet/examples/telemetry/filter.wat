;; filter: forwards the readings on "raw" whose value lies in [lo, hi] to
;; "filtered", and drops the rest; closes "filtered" once "raw" is closed and
;; drained. Hand-written WAT that imports its memory. A reading (reading.h) is
;; 24 bytes: sensor u32, seq u32, value i32 (offset 8), reserved u32, t_ns u64.
;; Each batch is filtered in place: kept records slide down over dropped ones,
;; and the kept prefix goes out with one send_batch.
(module
  (import "env" "memory" (memory 2))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (data (i32.const 0) "raw")
  (data (i32.const 16) "filtered")
  (global $BUF i32 (i32.const 1024))
  (global $CAP i32 (i32.const 64512))   ;; up to the end of the first page pair
  (global $READING i32 (i32.const 24))
  (global $lo (mut i32) (i32.const -400))
  (global $hi (mut i32) (i32.const 1250))
  (global $forwarded (mut i64) (i64.const 0))
  (global $dropped (mut i64) (i64.const 0))

  (func (export "configure") (param $lo i32) (param $hi i32)
    (global.set $lo (local.get $lo))
    (global.set $hi (local.get $hi)))
  (func (export "forwarded") (result i64) (global.get $forwarded))
  (func (export "dropped") (result i64) (global.get $dropped))

  ;; does the record at $rec (length $len) carry a value in range?
  (func $keep (param $rec i32) (param $len i32) (result i32) (local $v i32)
    (if (i32.lt_u (local.get $len) (global.get $READING)) (then (return (i32.const 0))))
    (local.set $v (i32.load offset=12 (local.get $rec)))   ;; 4 (length) + 8
    (i32.and (i32.ge_s (local.get $v) (global.get $lo))
             (i32.le_s (local.get $v) (global.get $hi))))

  ;; compact the $n records at BUF to the kept ones; returns how many were kept
  (func $compact (param $n i32) (result i32)
    (local $src i32) (local $dst i32) (local $len i32) (local $size i32) (local $kept i32)
    (local.set $src (global.get $BUF))
    (local.set $dst (global.get $BUF))
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $len (i32.load (local.get $src)))
      (local.set $size (i32.add (i32.const 4)
        (i32.and (i32.add (local.get $len) (i32.const 3)) (i32.const -4))))
      (if (call $keep (local.get $src) (local.get $len))
        (then
          (if (i32.ne (local.get $src) (local.get $dst))
            (then (memory.copy (local.get $dst) (local.get $src) (local.get $size))))
          (local.set $dst (i32.add (local.get $dst) (local.get $size)))
          (local.set $kept (i32.add (local.get $kept) (i32.const 1))))
        (else (global.set $dropped (i64.add (global.get $dropped) (i64.const 1)))))
      (local.set $src (i32.add (local.get $src) (local.get $size)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $each)))
    (local.get $kept))

  (func (export "run") (result i32)
    (local $in i32) (local $out i32) (local $n i32) (local $r i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 3)))
    (local.set $out (call $tunnel (i32.const 16) (i32.const 8)))
    (if (i32.lt_s (local.get $in) (i32.const 0)) (then (return (local.get $in))))
    (if (i32.lt_s (local.get $out) (i32.const 0)) (then (return (local.get $out))))
    (loop $more
      (local.set $n (call $recv_batch (local.get $in) (global.get $BUF) (global.get $CAP)
                                      (i32.const 1024)))
      (if (i32.eq (local.get $n) (i32.const -1))   ;; raw closed and drained
        (then (return (call $close (local.get $out)))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $n (call $compact (local.get $n)))
      (if (local.get $n) (then
        (local.set $r (call $send_batch (local.get $out) (global.get $BUF) (local.get $n)))
        (if (i32.ne (local.get $r) (local.get $n))
          (then (return (select (local.get $r) (i32.const -100)
                                (i32.lt_s (local.get $r) (i32.const 0))))))
        (global.set $forwarded (i64.add (global.get $forwarded)
                                        (i64.extend_i32_u (local.get $n))))))
      (br $more))
    (unreachable)))
