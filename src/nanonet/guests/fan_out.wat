;; A far node's share of a pub-sub tunnel: reads the one bridged copy on "in"
;; (a plain ring the bridge writes) and writes each batch, whole and in order,
;; on "out" (the node's own pub-sub ring, read by its local subscribers, each
;; with its policy). On CLOSED it closes "out" and returns 0. On BROKEN (the
;; far writer gone for good, "in" drained) it traps, so that its supervisor
;; breaks "out" and the subscribers see the break after every message; any
;; other negative status is returned. Messages up to 1 MiB - 4 bytes (the buffer).
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 17))
  (data (i32.const 0) "inout")
  (func (export "run") (result i32) (local $in i32) (local $out i32) (local $n i32) (local $r i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 2)))
    (if (i32.lt_s (local.get $in) (i32.const 0)) (then (return (local.get $in))))
    (local.set $out (call $tunnel (i32.const 2) (i32.const 3)))
    (if (i32.lt_s (local.get $out) (i32.const 0)) (then (return (local.get $out))))
    (loop $next
      (local.set $n (call $recv_batch (local.get $in) (i32.const 1024) (i32.const 1048576)
                                      (i32.const 256)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then
        (drop (call $close (local.get $out)))
        (return (i32.const 0))))
      (if (i32.eq (local.get $n) (i32.const -7)) (then unreachable))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $r (call $send_batch (local.get $out) (i32.const 1024) (local.get $n)))
      (if (i32.ne (local.get $r) (local.get $n)) (then (return (i32.const -100))))
      (br $next))
    (unreachable)))
