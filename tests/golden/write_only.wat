(module
  (import "guest" "memory" (memory 0))
  (import "t0" "ring" (memory 1 1 shared))

  (global $pos1 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer1 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok1 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin1 (mut i32) (i32.const 128))
  (global $waitat1 (mut i32) (i32.const 128))  ;; the counter a park waits on
  (global $done1 (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes1 (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine1 (param $why i32) (result i32)
    (i32.atomic.store 1 offset=20 (i32.const 0) (local.get $why)) ;; quarantine
    (global.set $ok1 (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify 1 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 1 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const -4))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach1 (result i32) (local $v i64) (local $t i64)
    (if (i32.eq (global.get $ok1) (i32.const 2)) (then (return (i32.const -4))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load 1 offset=0 (i32.const 0)) (i32.const 1313756242)) ;; magic
          (i32.ne (i32.atomic.load 1 offset=4 (i32.const 0)) (i32.const 1))) ;; version
        (i32.or (i32.or
          (i32.ne (i32.atomic.load 1 offset=8 (i32.const 0)) (i32.const 256)) ;; slot_count
          (i32.ne (i32.atomic.load 1 offset=12 (i32.const 0)) (i32.const 128))) ;; slot_size
          (i32.ne (i32.atomic.load 1 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine1 (i32.const 1)))))
    (if (i32.atomic.load 1 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok1 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos1 (i64.atomic.load 1 offset=64 (i32.const 0)))   ;; head: acquire
    (global.set $done1 (global.get $pos1))
    (local.set $v (i64.atomic.load 1 offset=128 (i32.const 0)))  ;; tail: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $waitat1 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 1 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 1 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos1) (local.get $t))
                    (i64.sub (global.get $pos1) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat1 (i32.const 264))))))  ;; park on the tap
    (global.set $peer1 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos1) (global.get $peer1)) (i64.const 256)) (then (return (call $quarantine1 (i32.const 2)))))
    (global.set $ok1 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh1 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 1 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok1 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 1 offset=128 (i32.const 0)))  ;; tail: acquire
    (global.set $waitat1 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 1 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 1 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos1) (local.get $t))
                    (i64.sub (global.get $pos1) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat1 (i32.const 264))))))  ;; park on the tap
    (global.set $peer1 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos1) (global.get $peer1)) (i64.const 256)) (then (return (call $quarantine1 (i32.const 2)))))
    (if (call $ready1) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 1 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer1 (i64.atomic.load 1 offset=128 (i32.const 0))) ;; tail
        (if (i64.gt_u (i64.sub (global.get $pos1) (global.get $peer1)) (i64.const 256)) (then (return (call $quarantine1 (i32.const 2)))))
        (if (call $ready1) (then (return (i32.const 1))))
        (return (call $ended1))))
    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended1 (result i32)
    (select (i32.const -7) (i32.const -1)
            (i32.atomic.load 1 offset=832 (i32.const 0)))) ;; broken

  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait1 (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $spin1))
    (loop $spin
      (local.set $r (call $refresh1))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      (i32.atomic.store 1 offset=196 (i32.const 0) (i32.const 1))  ;; writer_waiting: announce (SC)
      (local.set $r (call $refresh1))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 1 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer1))
      (i64.store 1 offset=88 (i32.const 0) ;; writer_parks
        (i64.add (i64.load 1 offset=88 (i32.const 0)) (i64.const 1))) ;; writer_parks
      (local.set $r (memory.atomic.wait32 1 (global.get $waitat1)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 1 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 50000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 25000000))))
          (global.set $spin1 (select (i32.const 128)
                (i32.shr_u (global.get $spin1) (i32.const 1))
                (i32.lt_u (global.get $spin1) (i32.const 256)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh1))
          (global.set $spin1 (select
            (select (i32.const 128) (i32.shr_u (global.get $spin1) (i32.const 1))
                    (i32.lt_u (global.get $spin1) (i32.const 256)))
            (select (i32.const 128) (i32.shl (global.get $spin1) (i32.const 1))
                    (i32.gt_u (global.get $spin1) (i32.const 64)))
            (i64.ge_u (i64.sub (i64.const 256) (i64.sub (global.get $pos1) (global.get $peer1))) (i64.const 256))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))

  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close1 (result i32)
    (i32.atomic.store 1 offset=16 (i32.const 0) (i32.const 1)) ;; closed
    (drop (memory.atomic.notify 1 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 1 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const 0))

  ;; does the guest's name at $ptr equal the name in this ring's header?
  (func $name_is1 (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load 1 offset=28 (i32.const 0))) ;; name_len
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 32)) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u 1 offset=32 (local.get $i)))) ;; name
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  (func $ready1 (result i32)  ;; a free slot
    (i64.lt_u (i64.sub (global.get $pos1) (global.get $peer1)) (i64.const 256)))

  ;; publish head (release), then wake the reader only if it announced a park
  ;; SYNC POINT with $wait in the reader adapter and park_reader in ring/control.py:
  ;; head is stored before reader_waiting is read; they store the flag, then re-read head
  (func $publish1 (param $bytes i64)
    (i64.atomic.store 1 offset=64 (i32.const 0) (global.get $pos1)) ;; head
    (i64.store 1 offset=72 (i32.const 0) (i64.add (i64.load 1 offset=72 (i32.const 0)) (local.get $bytes))) ;; bytes_in
    (if (i32.atomic.load 1 offset=192 (i32.const 0)) ;; reader_waiting
      (then
        (drop (memory.atomic.notify 1 offset=64 (i32.const 0) (i32.const 1))) ;; head
        (i64.store 1 offset=96 (i32.const 0) (i64.add (i64.load 1 offset=96 (i32.const 0)) (i64.const 1)))))) ;; writer_wakes

  ;; copy one message into the next slot; the caller checked room and size
  (func $put1 (param $ptr i32) (param $len i32) (local $slot i32)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 128) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 255)))))
    (i32.store 1 (local.get $slot) (local.get $len))
    (i32.store 1 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
    (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 0)))
      (if (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs))
        (then (memory.copy 1 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 16)) (then
          (v128.store 1 (local.get $cd) (v128.load 0 (local.get $cs)))
          (block $c16
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 32)))
            (v128.store 1 offset=16 (local.get $cd) (v128.load 0 offset=16 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 48)))
            (v128.store 1 offset=32 (local.get $cd) (v128.load 0 offset=32 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 64)))
            (v128.store 1 offset=48 (local.get $cd) (v128.load 0 offset=48 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 80)))
            (v128.store 1 offset=64 (local.get $cd) (v128.load 0 offset=64 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 96)))
            (v128.store 1 offset=80 (local.get $cd) (v128.load 0 offset=80 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 112)))
            (v128.store 1 offset=96 (local.get $cd) (v128.load 0 offset=96 (local.get $cs))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 16)))
          (v128.store 1 (i32.add (local.get $cd) (local.get $ct)) (v128.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 1 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 1 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 1 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 1 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))))
    (global.set $pos1 (i64.add (global.get $pos1) (i64.const 1))))

  (func $room1 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok1) (i32.const 1))
      (then (local.set $r (call $attach1)) (if (local.get $r) (then (return (local.get $r))))))
    (if (call $ready1) (then
      (if (i32.atomic.load 1 offset=16 (i32.const 0)) ;; closed
        (then (return (call $ended1))))
      (return (i32.const 1))))
    (local.set $r (call $refresh1))
    (if (i32.eq (local.get $r) (i32.const 0)) (then
      (i64.store 1 offset=80 (i32.const 0) (i64.add (i64.load 1 offset=80 (i32.const 0)) (i64.const 1))) ;; full_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait1))))
    (if (i32.and (i32.eq (local.get $r) (i32.const 1))
                 (i32.atomic.load 1 offset=16 (i32.const 0))) ;; closed
      (then (return (call $ended1))))
    (local.get $r))

  (func $close_end1 (result i32) (call $close1))

  (func $send1 (param $block i32) (param $ptr i32) (param $len i32) (result i32) (local $r i32)
    (if (i32.gt_u (local.get $len) (i32.const 120)) (then (return (i32.const -3))))
    (local.set $r (call $room1 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (call $put1 (local.get $ptr) (local.get $len))
    (call $publish1 (i64.extend_i32_u (local.get $len)))
    ;; a writer-only service asked to yield learns it once its message is out
    (select (i32.const -8) (i32.const 0)
            (i32.atomic.load 1 offset=104 (i32.const 0)))) ;; writer_yield

  ;; records [len u32][payload, padded to 4] at $ptr; returns how many were sent
  (func $send_batch1 (param $block i32) (param $ptr i32) (param $count i32) (result i32)
    (local $r i32) (local $n i32) (local $pend i32) (local $len i32) (local $bytes i64)
    (local $free i32) (local $slot i32) (local $cd i32) (local $cs i32) (local $ct i32)
    ;; attach and check closed before the first record, as send does
    (if (local.get $count) (then
      (local.set $r (call $room1 (local.get $block)))
      (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $count)))
      (local.set $len (i32.load (local.get $ptr)))
      (if (i32.gt_u (local.get $len) (i32.const 120)) (then
        (local.set $r (i32.const -3)) (br $done)))
      (if (i32.eqz (local.get $free)) (then
        (if (i32.eqz (call $ready1)) (then
          (if (local.get $pend) (then
            (call $publish1 (local.get $bytes))
            (local.set $bytes (i64.const 0)) (local.set $pend (i32.const 0))))
          (local.set $r (call $room1 (local.get $block)))
          (br_if $done (i32.ne (local.get $r) (i32.const 1)))))
        ;; free slots as $ready counts them: 1..N once it holds
        (local.set $free (i32.wrap_i64 (i64.sub (i64.const 256)
          (i64.sub (global.get $pos1) (global.get $peer1)))))))
      ;; $put, in line
      (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 128) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 255)))))
      (i32.store 1 (local.get $slot) (local.get $len))
      (i32.store 1 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
      (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 4)))
      (if (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs))
        (then (memory.copy 1 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 16)) (then
          (v128.store 1 (local.get $cd) (v128.load 0 (local.get $cs)))
          (block $c16
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 32)))
            (v128.store 1 offset=16 (local.get $cd) (v128.load 0 offset=16 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 48)))
            (v128.store 1 offset=32 (local.get $cd) (v128.load 0 offset=32 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 64)))
            (v128.store 1 offset=48 (local.get $cd) (v128.load 0 offset=48 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 80)))
            (v128.store 1 offset=64 (local.get $cd) (v128.load 0 offset=64 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 96)))
            (v128.store 1 offset=80 (local.get $cd) (v128.load 0 offset=80 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 112)))
            (v128.store 1 offset=96 (local.get $cd) (v128.load 0 offset=96 (local.get $cs))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 16)))
          (v128.store 1 (i32.add (local.get $cd) (local.get $ct)) (v128.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 1 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 1 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 1 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 1 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 1 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))))
      (global.set $pos1 (i64.add (global.get $pos1) (i64.const 1)))
      (local.set $free (i32.sub (local.get $free) (i32.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $pend (i32.add (local.get $pend) (i32.const 1)))
      (br $next)))
    (if (local.get $pend) (then (call $publish1 (local.get $bytes))))
    (if (i32.and (i32.eqz (local.get $n)) (i32.lt_s (local.get $r) (i32.const 0)))
      (then (return (local.get $r))))
    (local.get $n))
  (func (export "send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h0 (br_table $h0 $bad (local.get 0))) (return (call $send1 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h0 (br_table $h0 $bad (local.get 0))) (return (call $send1 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h0 (br_table $h0 $bad (local.get 0))) (return (call $send_batch1 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h0 (br_table $h0 $bad (local.get 0))) (return (call $send_batch1 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "close") (param i32)  (result i32)
    (block $bad (block $h0 (br_table $h0 $bad (local.get 0))) (return (call $close_end1)))
    (i32.const -5))
  (func (export "commit_all")
  )
  (global $asked_ptr (export "asked_ptr") (mut i32) (i32.const 0))
  (global $asked_len (export "asked_len") (mut i32) (i32.const -1))
  (func (export "tunnel") (param i32 i32) (result i32)
    (if (call $name_is1 (local.get 0) (local.get 1)) (then (return (i32.const 0))))
    (global.set $asked_ptr (local.get 0)) (global.set $asked_len (local.get 1))
    (i32.const -5))
)
