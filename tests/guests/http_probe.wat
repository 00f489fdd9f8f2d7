;; An HTTP probe serving port "api" (docs/http.md): by the path's first
;; letter after "/", "t" traps, "s" takes the request and never answers, "b"
;; answers 3 bytes (no reply form); any other answers 200, no headers, with
;; the whole request form as the body (so a test can check the encoder).
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "api")
  (data (i32.const 32) "bad")
  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $r i32) (local $c i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      (local.set $n (call $recv (local.get $h) (i32.const 1024) (i32.const 4096) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      ;; the path's second byte: REQ + 12 + method_len + 1
      (local.set $c (i32.load8_u offset=1037 (i32.load8_u (i32.const 1025))))
      (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable))  ;; "t"
      (br_if $serve (i32.eq (local.get $c) (i32.const 115)))          ;; "s"
      (if (i32.eq (local.get $c) (i32.const 98)) (then                ;; "b"
        (local.set $r (call $reply (local.get $h) (i64.load (i32.const 16)) (i32.const 32)
                        (i32.const 3))))
      (else
        (i32.store16 (i32.const 8192) (i32.const 200))
        (i32.store16 (i32.const 8194) (i32.const 0))
        (memory.copy (i32.const 8196) (i32.const 1024) (local.get $n))
        (local.set $r (call $reply (local.get $h) (i64.load (i32.const 16)) (i32.const 8192)
                        (i32.add (local.get $n) (i32.const 4))))))
      (if (i32.and (i32.ne (local.get $r) (i32.const 0)) (i32.ne (local.get $r) (i32.const -1)))
        (then (return (local.get $r))))
      (br $serve))
    (i32.const 0)))
