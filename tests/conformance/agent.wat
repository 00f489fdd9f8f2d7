;; A guest tunnel end driven by the host, for the conformance suite: it holds
;; one end of tunnel "t" and serves commands read from tunnel "Xcmd", each
;; answered on "Xres" (X is "w" for the writer agent, "r" for the reader; the
;; suite substitutes CMD and RES). `mode` picks the ABI form it exercises:
;; 0 single messages (send/try_send, recv/try_recv), 1 batches
;; (send_batch/try_send_batch, recv_batch/try_recv_batch), 2 raw zero-copy
;; reads (recv_raw/try_recv_raw; the suite splices in the raw imports, which
;; map the ring of "t" as memory $ring, and the raw receive).
;;
;; A command is [op i32][a i32][b i32][batch records...]; the answer is
;; [status i32][count i32][batch records...]. Ops: 1 send and 2 try_send
;; (a records of the command), 3 recv and 4 try_recv (at most a messages,
;; receive buffer b bytes), 5 commit, 6 close. Every memory access names $m:
;; with the raw imports, memory 0 is the ring.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_send" (func $try_send (param i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_send_batch" (func $try_send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "try_recv_batch" (func $try_recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "commit" (func $commit (param i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  ;; RAW_IMPORTS
  (memory $m (export "memory") 3)
  (data (memory $m) (i32.const 0) "t")
  (data (memory $m) (i32.const 8) "CMD")
  (data (memory $m) (i32.const 16) "RES")
  (global $mode (mut i32) (i32.const 0))
  (global $t (mut i32) (i32.const -1))
  (global $status (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (global $records (mut i32) (i32.const 0))
  ;; the command at 1024, its records from 1036; the answer at 65536
  (func (export "configure") (param i32) (global.set $mode (local.get 0)))

  (func $record_next (param $p i32) (result i32)
    (i32.add (i32.add (local.get $p) (i32.const 4))
             (i32.and (i32.add (i32.load $m (local.get $p)) (i32.const 3)) (i32.const -4))))

  ;; one message at a time: $blocking picks send or try_send
  (func $send_each (param $n i32) (param $blocking i32) (local $p i32) (local $r i32)
    (local.set $p (i32.const 1036))
    (block $done (loop $each
      (br_if $done (i32.ge_u (global.get $count) (local.get $n)))
      (local.set $r (if (result i32) (local.get $blocking)
        (then (call $send (global.get $t) (i32.add (local.get $p) (i32.const 4))
                          (i32.load $m (local.get $p))))
        (else (call $try_send (global.get $t) (i32.add (local.get $p) (i32.const 4))
                              (i32.load $m (local.get $p))))))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then (global.set $status (local.get $r)) (br $done)))
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (local.set $p (call $record_next (local.get $p)))
      (br $each))))

  (func $send_op (param $n i32) (param $blocking i32) (local $r i32)
    (if (i32.eqz (global.get $mode)) (then
      (call $send_each (local.get $n) (local.get $blocking))
      (return)))
    (local.set $r (if (result i32) (local.get $blocking)
      (then (call $send_batch (global.get $t) (i32.const 1036) (local.get $n)))
      (else (call $try_send_batch (global.get $t) (i32.const 1036) (local.get $n)))))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (global.set $status (local.get $r)))
      (else (global.set $count (local.get $r)))))

  ;; one receive into the record at $out: its length, or a status
  (func $recv_one (param $out i32) (param $cap i32) (param $blocking i32) (result i32)
    (local $n i32)
    (if (i32.eq (global.get $mode) (i32.const 2))
      (then (return (call $recv_raw_one (local.get $out) (local.get $blocking)))))
    (local.set $n (if (result i32) (local.get $blocking)
      (then (call $recv (global.get $t) (i32.add (local.get $out) (i32.const 4)) (local.get $cap)))
      (else (call $try_recv (global.get $t) (i32.add (local.get $out) (i32.const 4))
                            (local.get $cap)))))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (i32.store $m (local.get $out) (local.get $n))))
    (local.get $n))

  ;; RAW_BODY

  ;; the first receive may block, the rest of the answer is what is there now
  (func $recv_each (param $limit i32) (param $cap i32) (param $blocking i32)
    (local $out i32) (local $r i32)
    (local.set $out (i32.const 65544))
    (block $done (loop $each
      (br_if $done (i32.ge_u (global.get $count) (local.get $limit)))
      (local.set $r (call $recv_one (local.get $out) (local.get $cap)
                      (i32.and (local.get $blocking) (i32.eqz (global.get $count)))))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then (if (i32.eqz (global.get $count)) (then (global.set $status (local.get $r))))
              (br $done)))
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (local.set $out (call $record_next (local.get $out)))
      (br $each))))

  (func $recv_op (param $limit i32) (param $cap i32) (param $blocking i32) (local $r i32)
    (if (i32.ne (global.get $mode) (i32.const 1)) (then
      (call $recv_each (local.get $limit) (local.get $cap) (local.get $blocking))
      (return)))
    (local.set $r (if (result i32) (local.get $blocking)
      (then (call $recv_batch (global.get $t) (i32.const 65544) (local.get $cap)
                              (local.get $limit)))
      (else (call $try_recv_batch (global.get $t) (i32.const 65544) (local.get $cap)
                                  (local.get $limit)))))
    (if (i32.eqz (local.get $r)) (then (local.set $r (i32.const -2))))  ;; empty: AGAIN
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (global.set $status (local.get $r)))
      (else (global.set $count (local.get $r)))))

  (func $dispatch (local $op i32) (local $a i32) (local $b i32)
    (local.set $op (i32.load $m (i32.const 1024)))
    (local.set $a (i32.load $m (i32.const 1028)))
    (local.set $b (i32.load $m (i32.const 1032)))
    (global.set $status (i32.const 0))
    (global.set $count (i32.const 0))
    (global.set $records (i32.const 0))
    (if (i32.le_u (local.get $op) (i32.const 2))
      (then (call $send_op (local.get $a) (i32.eq (local.get $op) (i32.const 1))) (return)))
    (if (i32.le_u (local.get $op) (i32.const 4))
      (then (call $recv_op (local.get $a) (local.get $b) (i32.eq (local.get $op) (i32.const 3)))
            (global.set $records (global.get $count))
            (return)))
    (if (i32.eq (local.get $op) (i32.const 5))
      (then (global.set $status (call $commit (global.get $t))) (return)))
    (if (i32.eq (local.get $op) (i32.const 6))
      (then (global.set $status (call $close (global.get $t))) (return)))
    (global.set $status (i32.const -100)))

  ;; writes the answer's header; its size in bytes, with the records counted
  (func $answer (result i32) (local $p i32) (local $i i32)
    (local.set $p (i32.const 65544))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (global.get $records)))
      (local.set $p (call $record_next (local.get $p)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.store $m (i32.const 65536) (global.get $status))
    (i32.store $m (i32.const 65540) (global.get $count))
    (i32.sub (local.get $p) (i32.const 65536)))

  (func (export "run") (result i32) (local $cmd i32) (local $res i32) (local $n i32)
    (global.set $t (call $tunnel (i32.const 0) (i32.const 1)))
    (local.set $cmd (call $tunnel (i32.const 8) (i32.const 4)))
    (local.set $res (call $tunnel (i32.const 16) (i32.const 4)))
    (if (i32.lt_s (global.get $t) (i32.const 0)) (then (return (i32.const -500))))
    (loop $serve
      (local.set $n (call $recv (local.get $cmd) (i32.const 1024) (i32.const 40000)))
      (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $n) (i32.const 12)) (then (return (i32.const -501))))
      (call $dispatch)
      (if (i32.lt_s (call $send (local.get $res) (i32.const 65536) (call $answer))
                    (i32.const 0))
        (then (return (i32.const -502))))
      (br $serve))
    (i32.const 0)))
