;; W1 echo side: every message received on "ping" goes back on "pong"
;; until "ping" closes. Imports its memory.
(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (data (i32.const 0) "pingpong")
  (func (export "run") (result i32)
    (local $ping i32) (local $pong i32) (local $n i32)
    (local.set $ping (call $tunnel (i32.const 0) (i32.const 4)))
    (local.set $pong (call $tunnel (i32.const 4) (i32.const 4)))
    (loop $more
      (local.set $n (call $recv (local.get $ping) (i32.const 1024) (i32.const 32768)))
      (if (i32.ge_s (local.get $n) (i32.const 0)) (then
        (local.set $n (call $send (local.get $pong) (i32.const 1024) (local.get $n)))
        (br_if $more (i32.ge_s (local.get $n) (i32.const 0))))))
    (drop (call $close (local.get $pong)))
    (i32.const 0)))
