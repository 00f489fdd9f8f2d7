;; Serves port "rpc": each reply is the byte 'R' followed by the request.
;; After `trap_after` requests taken (if > 0) it traps on the next one
;; without answering it (the supervisor must post it again). A request whose
;; first byte is 'H' (a client with id 72) is taken and never answered.
;; Returns 0 when the port closes, or the first unexpected status.
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "rpc")
  (global $trap_after (mut i64) (i64.const 0))
  (global $served (mut i64) (i64.const 0))
  (func (export "configure") (param i64) (global.set $trap_after (local.get 0)))
  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $r i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      ;; request at 1025, the 'R' at 1024, the call token at 16
      (local.set $n (call $recv (local.get $h) (i32.const 1025) (i32.const 60000) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (global.set $served (i64.add (global.get $served) (i64.const 1)))
      (if (i64.gt_s (global.get $trap_after) (i64.const 0)) (then
        (if (i64.gt_u (global.get $served) (global.get $trap_after)) (then unreachable))))
      (br_if $serve (i32.eq (i32.load8_u (i32.const 1025)) (i32.const 72)))
      (i32.store8 (i32.const 1024) (i32.const 82))
      (local.set $r (call $reply (local.get $h) (i64.load (i32.const 16)) (i32.const 1024)
                      (i32.add (local.get $n) (i32.const 1))))
      (br_if $serve (i32.eq (local.get $r) (i32.const -3)))  ;; a 'R' + 64 bytes: too big
      (if (local.get $r) (then (return (local.get $r))))
      (br $serve))
    (i32.const 0)))
