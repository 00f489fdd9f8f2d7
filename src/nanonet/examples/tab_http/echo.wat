;; An HTTP echo that serves port "echo" (docs/http.md), in a browser tab or
;; on the host: the same .wasm. Each request is answered 200 text/plain with
;; "METHOD PATH\n" and then the request's body, so every reply says which
;; request it answers; a request form whose lengths do not fit is 400. The
;; request form is at REQ (its 12-byte head: method_len at 1, path_len at 2,
;; body_len at 8; then method, path, query, headers; the body is its last
;; body_len bytes); the reply form is built at OUT.
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 3)
  (data (i32.const 0) "echo")
  (data (i32.const 64) "content-typetext/plain")
  (global $REQ i32 (i32.const 1024))   ;; up to 65536 bytes of request form
  (global $CAP i32 (i32.const 65536))
  (global $OUT i32 (i32.const 66560))  ;; the reply form, up to 64 KiB

  ;; copy n bytes from src to dst; the end of what was written
  (func $put (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))
    (i32.add (local.get $dst) (local.get $n)))

  ;; the reply to the n-byte request at REQ, at OUT; its length
  (func $answer (param $n i32) (result i32)
    (local $m i32) (local $p i32) (local $b i32) (local $end i32)
    (local.set $m (i32.load8_u offset=1 (global.get $REQ)))
    (local.set $p (i32.load16_u offset=2 (global.get $REQ)))
    (local.set $b (i32.load offset=8 (global.get $REQ)))
    (i32.store16 offset=2 (global.get $OUT) (i32.const 1))   ;; one header
    (i32.store16 offset=4 (global.get $OUT) (i32.const 12))  ;; "content-type"
    (i32.store16 offset=6 (global.get $OUT) (i32.const 10))  ;; "text/plain"
    (local.set $end (call $put (i32.add (global.get $OUT) (i32.const 8)) (i32.const 64)
                              (i32.const 22)))
    ;; every length is checked against n before a byte is copied
    (if (i32.or (i32.lt_u (local.get $n) (i32.const 12))
                (i32.or (i32.gt_u (i32.add (i32.add (i32.const 12) (local.get $m)) (local.get $p))
                                  (local.get $n))
                        (i32.gt_u (local.get $b) (local.get $n))))
      (then (i32.store16 (global.get $OUT) (i32.const 400))
            (return (i32.sub (local.get $end) (global.get $OUT)))))
    (i32.store16 (global.get $OUT) (i32.const 200))
    (local.set $end (call $put (local.get $end) (i32.add (global.get $REQ) (i32.const 12))
                              (local.get $m)))
    (i32.store8 (local.get $end) (i32.const 32))  ;; " "
    (local.set $end (call $put (i32.add (local.get $end) (i32.const 1))
                              (i32.add (i32.add (global.get $REQ) (i32.const 12)) (local.get $m))
                              (local.get $p)))
    (i32.store8 (local.get $end) (i32.const 10))  ;; "\n"
    (local.set $end (call $put (i32.add (local.get $end) (i32.const 1))
                              (i32.sub (i32.add (global.get $REQ) (local.get $n)) (local.get $b))
                              (local.get $b)))
    (i32.sub (local.get $end) (global.get $OUT)))

  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $r i32)
    (local.set $h (call $port (i32.const 0) (i32.const 4)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      ;; the call token at 16
      (local.set $n (call $recv (local.get $h) (global.get $REQ) (global.get $CAP) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))  ;; closed
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $r (call $reply (local.get $h) (i64.load (i32.const 16)) (global.get $OUT)
                      (call $answer (local.get $n))))
      ;; a reply over max_payload (-3) is dropped and its caller times out: go on
      (if (i32.and (i32.ne (local.get $r) (i32.const 0)) (i32.ne (local.get $r) (i32.const -3)))
        (then (return (local.get $r))))
      (br $serve))
    (i32.const 0)))
