;; Forwards every batch from "a" to "b", marking each 8-byte message with its
;; version in the top byte (MARK: 0 or 128), until "a" closes, then closes
;; "b". On YIELD (-8) it returns at once and closes nothing: what it received
;; is committed, and the module that replaces it goes on from there.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (data (i32.const 0) "ab")
  (func $mark (param $n i32) (local $p i32)
    (local.set $p (i32.const 1035))  ;; 1024 + 4 (length) + 7 (the top byte)
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store8 (local.get $p) (i32.or (i32.load8_u (local.get $p)) (i32.const MARK)))
      (local.set $p (i32.add (local.get $p) (i32.const 12)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $each))))
  (func (export "run") (result i32) (local $a i32) (local $b i32) (local $n i32)
    (local.set $a (call $tunnel (i32.const 0) (i32.const 1)))
    (local.set $b (call $tunnel (i32.const 1) (i32.const 1)))
    (loop $more
      (local.set $n (call $recv_batch (local.get $a) (i32.const 1024) (i32.const 32768)
                                      (i32.const 64)))
      (if (i32.eq (local.get $n) (i32.const -8)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (drop (call $close (local.get $b)))
        (return (local.get $n))))
      (call $mark (local.get $n))
      (if (i32.ne (call $send_batch (local.get $b) (i32.const 1024) (local.get $n))
                  (local.get $n))
        (then (return (i32.const -300))))
      (br $more))
    (i32.const 0)))
