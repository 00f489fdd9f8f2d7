;; Receives batches on handle 0 with the blocking recv_batch (up to 64 records)
;; and sends each batch on handle 1 with send_batch. On CLOSED closes handle 1
;; and returns 0; returns any other negative status. Imports its memory.
(module
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (func (export "run") (result i32) (local $n i32) (local $r i32)
    (loop $next
      (local.set $n (call $recv_batch (i32.const 0) (i32.const 0) (i32.const 65536)
                                      (i32.const 64)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then
        (drop (call $close (i32.const 1)))
        (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $r (call $send_batch (i32.const 1) (i32.const 0) (local.get $n)))
      (if (i32.ne (local.get $r) (local.get $n)) (then (return (i32.const -100))))
      (br $next))
    (unreachable)))
