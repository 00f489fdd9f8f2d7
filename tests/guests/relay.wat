;; Forwards every batch from "a" to "b" until "a" closes, then closes "b".
;; After TRIGGER messages received by this instance, and right after
;; forwarding a batch (so that batch is forwarded but not yet committed), it
;; runs $fault: the tests substitute one fault per kind for FAULT_BODY. A
;; restarted instance starts counting afresh, so a fault recurs every TRIGGER
;; messages. Imports its memory.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (data (i32.const 0) "ab")
  (global $seen (mut i32) (i32.const 0))
  (func $deep (param $n i32) (result i32)
    (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func $fault
    FAULT_BODY)
  (func (export "run") (result i32) (local $a i32) (local $b i32) (local $n i32) (local $r i32)
    (local.set $a (call $tunnel (i32.const 0) (i32.const 1)))
    (local.set $b (call $tunnel (i32.const 1) (i32.const 1)))
    (loop $more
      (local.set $n (call $recv_batch (local.get $a) (i32.const 1024) (i32.const 32768)
                                      (i32.const 64)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (drop (call $close (local.get $b)))
        (return (local.get $n))))
      (local.set $r (call $send_batch (local.get $b) (i32.const 1024) (local.get $n)))
      (if (i32.ne (local.get $r) (local.get $n)) (then (return (i32.const -300))))
      (global.set $seen (i32.add (global.get $seen) (local.get $n)))
      (if (i32.ge_u (global.get $seen) (i32.const TRIGGER)) (then (call $fault)))
      (br $more))
    (i32.const 0)))
