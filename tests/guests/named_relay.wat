;; Forwards every batch from tunnel "in" to tunnel "out" until "in" closes,
;; then closes "out" and returns the status that ended it. The names are
;; compiled in: a service maps them to its tunnels (names = { in = ..., out = ... }).
;; Without a map, in a mesh with no tunnel "in", tunnel() gives -5 and so does run.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (data (i32.const 0) "inout")
  (func (export "run") (result i32) (local $in i32) (local $out i32) (local $n i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 2)))
    (local.set $out (call $tunnel (i32.const 2) (i32.const 3)))
    (loop $more
      (local.set $n (call $recv_batch (local.get $in) (i32.const 1024) (i32.const 32768)
                                      (i32.const 64)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (drop (call $close (local.get $out)))
        (return (local.get $n))))
      (if (i32.ne (call $send_batch (local.get $out) (i32.const 1024) (local.get $n))
                  (local.get $n))
        (then (return (i32.const -300))))
      (br $more))
    (i32.const 0)))
