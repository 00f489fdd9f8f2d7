;; Calls one ABI function on tunnel "t" again and again until it returns a
;; negative status, and returns that status; `done` counts the calls that
;; succeeded. `op`: 0 recv, 1 send (8 bytes), 2 recv_batch, 3 send_batch
;; (one 8-byte record). Imports its memory.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "t")
  (data (i32.const 1024) "\08\00\00\00messages")
  (global $op (mut i32) (i32.const 0))
  (global $done (mut i32) (i32.const 0))
  (func (export "configure") (param i32) (global.set $op (local.get 0)))
  (func (export "done") (result i32) (global.get $done))
  (func $call (param $h i32) (result i32)
    (if (i32.eqz (global.get $op))
      (then (return (call $recv (local.get $h) (i32.const 4096) (i32.const 4096)))))
    (if (i32.eq (global.get $op) (i32.const 1))
      (then (return (call $send (local.get $h) (i32.const 1028) (i32.const 8)))))
    (if (i32.eq (global.get $op) (i32.const 2))
      (then (return (call $recv_batch (local.get $h) (i32.const 4096) (i32.const 8192)
                                      (i32.const 16)))))
    (call $send_batch (local.get $h) (i32.const 1024) (i32.const 1)))
  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (i32.const -100))))
    (loop $again
      (local.set $r (call $call (local.get $h)))
      (if (i32.ge_s (local.get $r) (i32.const 0)) (then
        (global.set $done (i32.add (global.get $done) (i32.const 1)))
        (br $again))))
    (local.get $r)))
