;; The logging service of the access-control example: a core nanonet service
;; that takes every access-log record off "access-log" and appends it to
;; "audit", the tunnel the host keeps as the audit trail. Imports its memory.
(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (data (i32.const 0) "access-logaudit")
  (func (export "run") (result i32)
    (local $in i32) (local $out i32) (local $n i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 10)))
    (local.set $out (call $tunnel (i32.const 10) (i32.const 5)))
    (loop $more
      (local.set $n (call $recv (local.get $in) (i32.const 1024) (i32.const 4096)))
      (if (i32.ge_s (local.get $n) (i32.const 0)) (then
        (local.set $n (call $send (local.get $out) (i32.const 1024) (local.get $n)))
        (br_if $more (i32.ge_s (local.get $n) (i32.const 0))))))
    (drop (call $close (local.get $out)))
    (i32.const 0)))
