;; Receives on "t" until CLOSED under at-least-once delivery: message i must
;; start with the u64 i; a message may repeat one already seen (a redelivery
;; after a restart upstream), but a new one must be exactly the next
;; (no gap, nothing out of order). Returns 0, or -1000 on a gap.
;; `next` is the next new sequence number (= how many distinct were seen),
;; `dups` counts repeats. Exports its memory.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "t")
  (global $next (mut i64) (i64.const 0))
  (global $dups (mut i64) (i64.const 0))
  (func (export "next") (result i64) (global.get $next))
  (func (export "dups") (result i64) (global.get $dups))
  (func (export "run") (result i32) (local $h i32) (local $n i32) (local $p i32) (local $s i64)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (loop $more
      (local.set $n (call $recv_batch (local.get $h) (i32.const 1024) (i32.const 65536)
                                      (i32.const 256)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
      (local.set $p (i32.const 1024))
      (block $done (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i64.load offset=4 (local.get $p)))
        (if (i64.eq (local.get $s) (global.get $next))
          (then (global.set $next (i64.add (global.get $next) (i64.const 1))))
          (else (if (i64.lt_u (local.get $s) (global.get $next))
            (then (global.set $dups (i64.add (global.get $dups) (i64.const 1))))
            (else (return (i32.const -1000))))))
        (local.set $p (i32.add (local.get $p)
          (i32.and (i32.add (i32.load (local.get $p)) (i32.const 7)) (i32.const -4))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
      (br $more))
    (i32.const 0)))
