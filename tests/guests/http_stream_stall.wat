;; A stream-route probe serving port "api" (docs/http.md, "Streamed bodies"):
;; it never answers a request form whose body parts follow (an upload stalls
;; at once) nor a next-part call (a download stalls after its head and first
;; part "x"). A whole request form for a path starting "/d" answers a
;; streamed 200 (status 0x80C8, body "x"); any other path, and any body part
;; or abort call, answers 200 "ok".
(module
  (import "nanonet" "port" (func $port (param i32 i32) (result i32)))
  (import "nanonet" "serve_recv" (func $recv (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "serve_reply" (func $reply (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "api")
  (data (i32.const 32) "\c8\80\00\00x")  ;; 200 | more follow, no headers, body "x"
  (data (i32.const 48) "\c8\00\00\00ok") ;; 200, no headers, body "ok"

  ;; the reply's (address << 8 | length) for the call at 1024; 0: no answer
  (func $choose (result i32) (local $kind i32)
    (local.set $kind (i32.load8_u (i32.const 1024)))
    (if (i32.or (i32.eq (local.get $kind) (i32.const 0x81)) (i32.eq (local.get $kind) (i32.const 0x12)))
      (then (return (i32.const 0))))
    (if (i32.and (i32.eq (local.get $kind) (i32.const 1))
                 (i32.eq (i32.load8_u offset=1037 (i32.load8_u (i32.const 1025))) (i32.const 100)))
      (then (return (i32.const 0x2005))))  ;; "/d...": the streamed 200 at 32, 5 bytes
    (i32.const 0x3006))                    ;; "ok" at 48, 6 bytes

  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $r i32)
    (local.set $h (call $port (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (loop $serve
      (local.set $n (call $recv (local.get $h) (i32.const 1024) (i32.const 4096) (i32.const 16)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $r (call $choose))
      (if (local.get $r)
        (then (drop (call $reply (local.get $h) (i64.load (i32.const 16))
                       (i32.shr_u (local.get $r) (i32.const 8))
                       (i32.and (local.get $r) (i32.const 255))))))
      (br $serve))
    (i32.const 0)))
