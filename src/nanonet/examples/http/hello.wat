;; An HTTP service in hand-written WAT: it serves port "api" (docs/http.md).
;; GET /api/NAME answers 200 text/plain "hello from wat: /api/NAME #N", N
;; counting the requests it answered; any other path answers 404. The
;; request form is at REQ (its 12-byte head, then method, path, ...); the
;; reply form is built at OUT: status, one header (content-type), body.
;; On a stream route, a body in parts is answered "hello from wat: N bytes
;; streamed" once its last part came; each mailbox counts at COUNTS. GET
;; /api/download?n=N (a stream route) streams N bytes, byte i being i % 251,
;; in response parts of up to 4095 bytes; GET /api/badpart (a stream route)
;; answers its first next call with a malformed part (its first byte 2),
;; which the ingress aborts. A mailbox's download is at DOWN.
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
  (data (i32.const 256) "/api/download")
  (data (i32.const 272) "/api/badpart")
  (data (i32.const 288) "application/octet-stream")
  (global $count (mut i64) (i64.const 0))
  (global $REQ i32 (i32.const 1024))  ;; up to 4096 bytes of request form
  (global $OUT i32 (i32.const 8192))  ;; the reply form
  (global $BODY i32 (i32.const 8222)) ;; OUT + 4 + 4 + 12 + 10: the body
  (global $COUNTS i32 (i32.const 16384)) ;; per mailbox (token's low bits % 64): bytes so far
  ;; per mailbox, 16 bytes: the bytes left to send (i64; -1: a bad part next), then those sent
  (global $DOWN i32 (i32.const 16896))
  (global $PART i32 (i32.const 4095))  ;; a response part's bytes: 1 + PART fits max_payload

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

  ;; the download of the mailbox whose call token is at 16
  (func $dslot (result i32)
    (i32.add (global.get $DOWN)
             (i32.shl (i32.and (i32.load (i32.const 16)) (i32.const 63)) (i32.const 4))))

  ;; are the n bytes at p the n bytes at lit?
  (func $is (param $p i32) (param $n i32) (param $lit i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (local.get $len)) (then (return (i32.const 0))))
    (block $no
      (loop $cmp
        (br_if $no (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $lit) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 1))

  ;; N of a query "n=N" (at q, n bytes); 0 without one
  (func $query_n (param $q i32) (param $n i32) (result i64) (local $i i32) (local $v i64)
    (local $c i32)
    (if (i32.or (i32.lt_u (local.get $n) (i32.const 2))
                (i32.ne (i32.load16_u (local.get $q)) (i32.const 0x3d6e)))  ;; "n="
      (then (return (i64.const 0))))
    (local.set $i (i32.const 2))
    (block $end
      (loop $digit
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.sub (i32.load8_u (i32.add (local.get $q) (local.get $i)))
                               (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10))
                               (i64.extend_i32_u (local.get $c))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digit)))
    (local.get $v))

  ;; a whole request form on a stream route: a download's (or a bad part's) reply head,
  ;; flagged when parts follow; -1 for any other path ($answer's)
  (func $download (result i32) (local $path i32) (local $n i32) (local $left i64)
    (local.set $path (i32.add (i32.add (global.get $REQ) (i32.const 12))
                              (i32.load8_u offset=1 (global.get $REQ))))
    (local.set $n (i32.load16_u offset=2 (global.get $REQ)))
    (if (call $is (local.get $path) (local.get $n) (i32.const 272) (i32.const 12))
      (then (local.set $left (i64.const -1)))
      (else
        (if (i32.eqz (call $is (local.get $path) (local.get $n) (i32.const 256) (i32.const 13)))
          (then (return (i32.const -1))))
        (local.set $left (call $query_n (i32.add (local.get $path) (local.get $n))
                                        (i32.load16_u offset=4 (global.get $REQ))))))
    (i64.store (call $dslot) (local.get $left))
    (i64.store offset=8 (call $dslot) (i64.const 0))
    ;; 200, flagged (0x8000) when parts follow; content-type application/octet-stream
    (i32.store16 (global.get $OUT)
      (select (i32.const 200) (i32.const 0x80C8) (i64.eqz (local.get $left))))
    (i32.store16 offset=2 (global.get $OUT) (i32.const 1))
    (i32.store16 offset=4 (global.get $OUT) (i32.const 12))
    (i32.store16 offset=6 (global.get $OUT) (i32.const 24))
    (drop (call $put (i32.add (global.get $OUT) (i32.const 8)) (i32.const 64) (i32.const 12)))
    (drop (call $put (i32.add (global.get $OUT) (i32.const 20)) (i32.const 288) (i32.const 24)))
    (i32.const 44))

  ;; a next call: the download's next response part at OUT (more, then its bytes)
  (func $next_part (result i32) (local $s i32) (local $k i32) (local $i i32) (local $b i32)
    (local.set $s (call $dslot))
    (if (i64.eq (i64.load (local.get $s)) (i64.const -1))  ;; /api/badpart: no such "more"
      (then (i64.store (local.get $s) (i64.const 0))
            (i32.store8 (global.get $OUT) (i32.const 2))
            (return (i32.const 1))))
    (local.set $k (select (global.get $PART) (i32.wrap_i64 (i64.load (local.get $s)))
                          (i64.gt_u (i64.load (local.get $s))
                                    (i64.extend_i32_u (global.get $PART)))))
    (local.set $b (i32.wrap_i64 (i64.rem_u (i64.load offset=8 (local.get $s)) (i64.const 251))))
    (block $full
      (loop $fill
        (br_if $full (i32.ge_u (local.get $i) (local.get $k)))
        (i32.store8 offset=1 (i32.add (global.get $OUT) (local.get $i)) (local.get $b))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (if (i32.eq (local.get $b) (i32.const 251)) (then (local.set $b (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (i64.store (local.get $s) (i64.sub (i64.load (local.get $s)) (i64.extend_i32_u (local.get $k))))
    (i64.store offset=8 (local.get $s)
      (i64.add (i64.load offset=8 (local.get $s)) (i64.extend_i32_u (local.get $k))))
    (i32.store8 (global.get $OUT) (i64.ne (i64.load (local.get $s)) (i64.const 0)))
    (i32.add (local.get $k) (i32.const 1)))

  ;; a streamed body's call (docs/http.md, "Streamed bodies"): the reply's
  ;; length, or -1 for a whole request form ($answer's)
  (func $stream (param $n i32) (result i32) (local $kind i32) (local $end i32)
    (local.set $kind (i32.load8_u (global.get $REQ)))
    (if (i32.eq (local.get $kind) (i32.const 0x81))  ;; a request form, body parts follow
      (then (i64.store (call $slot) (i64.extend_i32_u (i32.load offset=8 (global.get $REQ))))
            (return (call $continue))))
    (if (i32.eq (local.get $kind) (i32.const 0x12))  ;; next: the download's next part
      (then (return (call $next_part))))
    (if (i32.eq (local.get $kind) (i32.const 0x13))  ;; abort: the download ends
      (then (i64.store (call $dslot) (i64.const 0))
            (return (i32.const 0))))
    (if (i32.lt_u (local.get $kind) (i32.const 0x10)) (then (return (call $download))))
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
