;; Request/reply bench, server side: every request on port "rpc" is answered
;; with its own bytes, until the port closes. Imports its memory.
(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (data (i32.const 0) "rpc")
  (func (export "run") (result i32) (local $h i32) (local $n i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      (local.set $n (call $recv (local.get $h) (i32.const 1024) (i32.const 32768) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $n (call $reply (local.get $h) (i64.load (i32.const 16)) (i32.const 1024)
                      (local.get $n)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (br $serve))
    (i32.const 0)))
