;; The producer of producer.wat with a memory of its own, exported (not imported):
;; the other way a guest links to its adapter (runtime/linking.py, the tab's worker.js).
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (global $count (mut i64) (i64.const 1000000))
  (global $size (mut i32) (i32.const 64))
  (func (export "configure") (param i64 i32) (global.set $count (local.get 0)) (global.set $size (local.get 1)))
  (func (export "run") (result i32)
    (local $h i32) (local $seq i64) (local $n i32) (local $p i32) (local $rec i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (local.set $rec (i32.and (i32.add (global.get $size) (i32.const 7)) (i32.const -4)))
    (block $done (loop $batch
      (br_if $done (i64.ge_u (local.get $seq) (global.get $count)))
      ;; build up to 64 records at 1024
      (local.set $n (i32.const 0)) (local.set $p (i32.const 1024))
      (block $full (loop $fill
        (br_if $full (i32.ge_u (local.get $n) (i32.const 64)))
        (br_if $full (i64.ge_u (local.get $seq) (global.get $count)))
        (i32.store (local.get $p) (global.get $size))
        (i64.store offset=4 (local.get $p) (local.get $seq))
        (local.set $seq (i64.add (local.get $seq) (i64.const 1)))
        (local.set $p (i32.add (local.get $p) (local.get $rec)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $fill)))
      (local.set $r (call $send_batch (local.get $h) (i32.const 1024) (local.get $n)))
      (if (i32.ne (local.get $r) (local.get $n)) (then (return (i32.const -100))))
      (br $batch)))
    (drop (call $close (local.get $h)))
    (i32.const 0)))
