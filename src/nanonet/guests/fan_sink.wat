;; The reader of the bench's fan-in row: receives batches (up to 64 records)
;; on handle 0, a fan-in tunnel read as one handle, until CLOSED, counting
;; the messages (`received`). Returns 0, or the first other status. Imports
;; its memory.
(module
  (import "env" "memory" (memory 2))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (global $received (mut i64) (i64.const 0))
  (func (export "received") (result i64) (global.get $received))
  (func (export "run") (result i32) (local $n i32)
    (loop $next
      (local.set $n (call $recv_batch (i32.const 0) (i32.const 0) (i32.const 65536)
                                      (i32.const 64)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (global.set $received (i64.add (global.get $received) (i64.extend_i32_u (local.get $n))))
      (br $next))
    (unreachable)))
