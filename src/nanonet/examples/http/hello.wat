;; An HTTP service in hand-written WAT: it serves port "api" (docs/http.md).
;; GET /api/NAME answers 200 text/plain "hello from wat: /api/NAME #N", N
;; counting the requests it answered; any other path answers 404. The
;; request form is at REQ (its 12-byte head, then method, path, ...); the
;; reply form is built at OUT: status, one header (content-type), body.
;; On a stream route, a body in parts is answered "hello from wat: N bytes
;; streamed" once its last part came; each mailbox counts at COUNTS.
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "api")
  (data (i32.const 64) "content-typetext/plain")
  (data (i32.const 96) "hello from wat: ")
  (data (i32.const 128) "not found: ")
  (data (i32.const 144) " bytes streamed\n")
  (global $count (mut i64) (i64.const 0))
  (global $REQ i32 (i32.const 1024))  ;; up to 4096 bytes of request form
  (global $OUT i32 (i32.const 8192))  ;; the reply form
  (global $BODY i32 (i32.const 8222)) ;; OUT + 4 + 4 + 12 + 10: the body
  (global $COUNTS i32 (i32.const 16384)) ;; per mailbox (token's low bits % 64): bytes so far

  ;; copy n bytes from src to dst; the end of what was written
  (func $put (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))
    (i32.add (local.get $dst) (local.get $n)))

  ;; the decimal digits of v at dst; the end of what was written
  (func $digits (param $dst i32) (param $v i64) (result i32) (local $p i32) (local $n i32)
    (local.set $p (i32.const 240))  ;; built backwards from 240 down
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $d (i64.ne (local.get $v) (i64.const 0))))
    (call $put (local.get $dst) (local.get $p) (i32.sub (i32.const 240) (local.get $p))))

  ;; does the path (at p, n bytes) start with "/api/"?
  (func $routed (param $p i32) (param $n i32) (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 5)) (then (return (i32.const 0))))
    (i32.and
      (i32.eq (i32.load (local.get $p)) (i32.const 0x6970612f))  ;; "/api" little-endian
      (i32.eq (i32.load8_u offset=4 (local.get $p)) (i32.const 47))))

  ;; the reply's one header: content-type text/plain
  (func $text_head
    (i32.store16 offset=2 (global.get $OUT) (i32.const 1))   ;; one header
    (i32.store16 offset=4 (global.get $OUT) (i32.const 12))  ;; "content-type"
    (i32.store16 offset=6 (global.get $OUT) (i32.const 10))  ;; "text/plain"
    (drop (call $put (i32.add (global.get $OUT) (i32.const 8)) (i32.const 64) (i32.const 22))))

  ;; the byte count of the mailbox whose call token is at 16
  (func $slot (result i32)
    (i32.add (global.get $COUNTS)
             (i32.shl (i32.and (i32.load (i32.const 16)) (i32.const 63)) (i32.const 3))))

  ;; the continue reply (status 100, no headers): the next body part, please
  (func $continue (result i32)
    (i32.store (global.get $OUT) (i32.const 100))
    (i32.const 4))

  ;; a streamed body's call (docs/http.md, "Streamed bodies"): the reply's
  ;; length, or -1 for a whole request form ($answer's)
  (func $stream (param $n i32) (result i32) (local $kind i32) (local $end i32)
    (local.set $kind (i32.load8_u (global.get $REQ)))
    (if (i32.eq (local.get $kind) (i32.const 0x81))  ;; a request form, body parts follow
      (then (i64.store (call $slot) (i64.extend_i32_u (i32.load offset=8 (global.get $REQ))))
            (return (call $continue))))
    (if (i32.ge_u (local.get $kind) (i32.const 0x12))  ;; next (never asked) or abort
      (then (return (i32.const 0))))
    (if (i32.lt_u (local.get $kind) (i32.const 0x10)) (then (return (i32.const -1))))
    (i64.store (call $slot) (i64.add (i64.load (call $slot))
                                     (i64.extend_i32_u (i32.sub (local.get $n) (i32.const 1)))))
    (if (i32.eq (local.get $kind) (i32.const 0x10)) (then (return (call $continue))))
    (i32.store16 (global.get $OUT) (i32.const 200))  ;; the last part: the answer
    (call $text_head)
    (local.set $end (call $put (global.get $BODY) (i32.const 96) (i32.const 16)))
    (local.set $end (call $digits (local.get $end) (i64.load (call $slot))))
    (local.set $end (call $put (local.get $end) (i32.const 144) (i32.const 16)))
    (i32.sub (local.get $end) (global.get $OUT)))

  ;; the reply to the call at REQ, n bytes; its length
  (func $respond (param $n i32) (result i32) (local $len i32)
    (local.set $len (call $stream (local.get $n)))
    (if (result i32) (i32.ge_s (local.get $len) (i32.const 0))
      (then (local.get $len)) (else (call $answer))))

  ;; build the reply to the request at REQ; its length
  (func $answer (result i32) (local $path i32) (local $n i32) (local $end i32)
    (local.set $path (i32.add (i32.add (global.get $REQ) (i32.const 12))
                              (i32.load8_u offset=1 (global.get $REQ))))
    (local.set $n (i32.load16_u offset=2 (global.get $REQ)))
    (call $text_head)
    (if (call $routed (local.get $path) (local.get $n))
      (then
        (global.set $count (i64.add (global.get $count) (i64.const 1)))
        (i32.store16 (global.get $OUT) (i32.const 200))
        (local.set $end (call $put (global.get $BODY) (i32.const 96) (i32.const 16)))
        (local.set $end (call $put (local.get $end) (local.get $path) (local.get $n)))
        (i32.store16 (local.get $end) (i32.const 0x2320))  ;; " #"
        (local.set $end (call $digits (i32.add (local.get $end) (i32.const 2))
                                      (global.get $count))))
      (else
        (i32.store16 (global.get $OUT) (i32.const 404))
        (local.set $end (call $put (global.get $BODY) (i32.const 128) (i32.const 11)))
        (local.set $end (call $put (local.get $end) (local.get $path) (local.get $n)))))
    (i32.store8 (local.get $end) (i32.const 10))  ;; "\n"
    (i32.sub (i32.add (local.get $end) (i32.const 1)) (global.get $OUT)))

  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $r i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      ;; the call token at 16
      (local.set $n (call $recv (local.get $h) (global.get $REQ) (i32.const 4096) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))  ;; closed
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $r (call $reply (local.get $h) (i64.load (i32.const 16)) (global.get $OUT)
                      (call $respond (local.get $n))))
      ;; a reply dropped (its caller gave up: -1 is never given here) or too big: go on
      (if (i32.and (i32.ne (local.get $r) (i32.const 0)) (i32.ne (local.get $r) (i32.const -3)))
        (then (return (local.get $r))))
      (br $serve))
    (i32.const 0)))
