(module
  (import "guest" "memory" (memory 0))
  (import "t0" "ring" (memory 1 1 shared))
  (import "t1" "ring" (memory 1 1 shared))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (memory $own (export "memory") 1 1)

  (func $now (result i64)
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
    (i64.load 3 (i32.const 0)))

  (global $pos1 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer1 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok1 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin1 (mut i32) (i32.const 2048))
  (global $waitat1 (mut i32) (i32.const 64))  ;; the counter a park waits on
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
          (i32.ne (i32.atomic.load 1 offset=8 (i32.const 0)) (i32.const 4)) ;; slot_count
          (i32.ne (i32.atomic.load 1 offset=12 (i32.const 0)) (i32.const 16))) ;; slot_size
          (i32.ne (i32.atomic.load 1 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine1 (i32.const 1)))))
    (if (i32.atomic.load 1 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok1 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos1 (i64.atomic.load 1 offset=128 (i32.const 0)))   ;; tail: acquire
    (global.set $done1 (global.get $pos1))
    (local.set $v (i64.atomic.load 1 offset=64 (i32.const 0)))  ;; head: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $peer1 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer1) (global.get $pos1)) (i64.const 4)) (then (return (call $quarantine1 (i32.const 2)))))
    (global.set $ok1 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh1 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 1 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok1 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 1 offset=64 (i32.const 0)))  ;; head: acquire
    (global.set $peer1 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer1) (global.get $pos1)) (i64.const 4)) (then (return (call $quarantine1 (i32.const 2)))))
    (if (call $ready1) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 1 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer1 (i64.atomic.load 1 offset=64 (i32.const 0))) ;; head
        (if (i64.gt_u (i64.sub (global.get $peer1) (global.get $pos1)) (i64.const 4)) (then (return (call $quarantine1 (i32.const 2)))))
        (if (call $ready1) (then (return (i32.const 1))))
        (return (call $ended1))))
    (if (i32.atomic.load 1 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
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
      (i32.atomic.store 1 offset=192 (i32.const 0) (i32.const 1))  ;; reader_waiting: announce (SC)
      (local.set $r (call $refresh1))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 1 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer1))
      (i64.store 1 offset=152 (i32.const 0) ;; reader_parks
        (i64.add (i64.load 1 offset=152 (i32.const 0)) (i64.const 1))) ;; reader_parks
      (local.set $r (memory.atomic.wait32 1 (global.get $waitat1)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 1 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 3200000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 1600000000))))
          (global.set $spin1 (select (i32.const 64)
                (i32.shr_u (global.get $spin1) (i32.const 1))
                (i32.lt_u (global.get $spin1) (i32.const 128)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh1))
          (global.set $spin1 (select
            (select (i32.const 64) (i32.shr_u (global.get $spin1) (i32.const 1))
                    (i32.lt_u (global.get $spin1) (i32.const 128)))
            (select (i32.const 65536) (i32.shl (global.get $spin1) (i32.const 1))
                    (i32.gt_u (global.get $spin1) (i32.const 32768)))
            (i64.ge_u (i64.sub (global.get $peer1) (global.get $pos1)) (i64.const 4))))
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

  (func $ready1 (result i32)  ;; a message waiting
    (i64.ne (global.get $pos1) (global.get $peer1)))

  ;; Reading is two-phase: a message received stays uncommitted (its slot is
  ;; not given back) until the next receive, an explicit commit, or a park.
  ;; A reader that traps before committing gets the message again after its
  ;; restart, since a new adapter attaches at the committed tail.
  ;; Commit publishes tail (release), then wakes the writer only if it parked,
  ;; and only once the ring is at most half full: a writer woken for every
  ;; freed slot would park again at once (hysteresis; its wait has a timeout).
  ;; SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
  ;; tail is stored before writer_waiting is read; they store the flag, then re-read tail
  (func $commit1
    (if (i64.eq (global.get $pos1) (global.get $done1)) (then (return)))
    (global.set $done1 (global.get $pos1))
    (i64.atomic.store 1 offset=128 (i32.const 0) (global.get $pos1)) ;; tail
    (i64.store 1 offset=136 (i32.const 0) (i64.add (i64.load 1 offset=136 (i32.const 0)) (global.get $unbytes1))) ;; bytes_out
    (global.set $unbytes1 (i64.const 0))
    (if (i32.and (i32.atomic.load 1 offset=196 (i32.const 0)) ;; writer_waiting
          (i64.le_u (i64.sub (global.get $peer1) (global.get $pos1)) (i64.const 2)))
      (then
        (drop (memory.atomic.notify 1 offset=128 (i32.const 0) (i32.const 1))) ;; tail
        (i64.store 1 offset=160 (i32.const 0) (i64.add (i64.load 1 offset=160 (i32.const 0)) (i64.const 1)))))) ;; reader_wakes

  (func $commit_op1 (result i32)
    (if (i32.eq (global.get $ok1) (i32.const 1)) (then (call $commit1)))
    (i32.const 0))

  (func $close_end1 (result i32)
    (drop (call $commit_op1))
    (call $close1))

  (func $avail1 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok1) (i32.const 1))
      (then (local.set $r (call $attach1)) (if (local.get $r) (then (return (local.get $r))))))
    (call $commit1)  ;; phase two for whatever the previous receive returned
    ;; a hot upgrade's commit point: committed, nothing new taken (one load of
    ;; the line the commit just wrote)
    (if (i32.atomic.load 1 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready1) (then (return (i32.const 1))))
    (local.set $r (call $refresh1))
    (if (i32.eqz (local.get $r)) (then
      (i64.store 1 offset=144 (i32.const 0) (i64.add (i64.load 1 offset=144 (i32.const 0)) (i64.const 1))) ;; empty_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait1))))
    (local.get $r))

  ;; the length of the next message, checked against the slot; or a status
  (func $peek1 (result i32) (local $len i32)
    (local.set $len (i32.load 1 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 3))))))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then (return (call $quarantine1 (i32.const 3)))))
    (local.get $len))

  (func $take1 (param $ptr i32) (param $len i32) (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $cd (i32.add (local.get $ptr) (i32.const 0))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 1 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 1 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 1 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 1 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 1 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 1 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 1 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 1 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos1))
                          (i32.const 1023)))
      (then (call $sample1)))
    (global.set $pos1 (i64.add (global.get $pos1) (i64.const 1))))

  (func $recv1 (param $block i32) (param $ptr i32) (param $cap i32) (result i32) (local $r i32)
    (local.set $r (call $avail1 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek1))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (if (i32.gt_u (local.get $r) (local.get $cap)) (then (return (i32.const -6))))
    (call $take1 (local.get $ptr) (local.get $r))
    (global.set $unbytes1 (i64.add (global.get $unbytes1) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; zero-copy receive, for a guest that maps the ring raw: the message stays
  ;; in its slot (received, not committed, so the writer cannot reuse the slot);
  ;; the u32 at $at gets its payload's offset in the ring memory, the result is
  ;; its length, checked against the slot as recv checks it
  (func $recv_raw1 (param $block i32) (param $at i32) (result i32) (local $r i32)
    (local.set $r (call $avail1 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek1))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (local.get $at) (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 3)))))
    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos1))
                          (i32.const 1023)))
      (then (call $sample1)))
    (global.set $pos1 (i64.add (global.get $pos1) (i64.const 1)))
    (global.set $unbytes1 (i64.add (global.get $unbytes1) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; up to $max records [len u32][payload, padded to 4] into $cap bytes at $ptr
  (func $recv_batch1 (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32)
    (result i32) (local $r i32) (local $n i32) (local $len i32) (local $need i32) (local $bytes i64)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $r (call $avail1 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (return (local.get $r))))
    ;; a batch reader right behind the writer would fetch each slot line while
    ;; the writer still owns it: if few messages wait, let the writer get ahead
    (local.set $n (i32.const 64))
    (block $ahead (loop $lag
      (br_if $ahead (i64.ge_u (i64.sub (global.get $peer1) (global.get $pos1))
                              (i64.const 1)))
      (br_if $ahead (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.set $r (call $refresh1))  ;; re-reads head, with every check
      (br_if $lag (i32.eq (local.get $r) (i32.const 1)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
    (local.set $n (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
      (if (i64.eq (global.get $pos1) (global.get $peer1)) (then  ;; not $ready
        (br_if $done (i32.ne (call $refresh1) (i32.const 1)))))
      ;; $peek, in line: the length read from the slot, checked before any use
      (local.set $len (i32.load 1 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 3))))))
      (if (i32.gt_u (local.get $len) (i32.const 8)) (then
        (local.set $r (call $quarantine1 (i32.const 3))) (br $done)))
      (local.set $need (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4)))
      (if (i32.gt_u (local.get $need) (local.get $cap)) (then
        (local.set $r (i32.const -6)) (br $done)))
      (i32.store (local.get $ptr) (local.get $len))
      ;; $take, in line
      (local.set $cd (i32.add (local.get $ptr) (i32.const 4))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos1)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 1 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 1 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 1 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 1 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 1 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 1 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 1 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 1 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos1))
                          (i32.const 1023)))
      (then (call $sample1)))
      (global.set $pos1 (i64.add (global.get $pos1) (i64.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr) (local.get $need)))
      (local.set $cap (i32.sub (local.get $cap) (local.get $need)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (if (local.get $n) (then
      (global.set $unbytes1 (i64.add (global.get $unbytes1) (local.get $bytes)))
      (return (local.get $n))))
    (local.get $r))

  (func $sample1 (local $e i32) (local $t i64)
    (local.set $e (i32.shl (i32.and (i32.wrap_i64
      (i64.shr_u (global.get $pos1) (i64.const 10))) (i32.const 15)) (i32.const 4)))
    (if (i64.ne (i64.load 1 offset=320 (local.get $e)) (global.get $pos1)) ;; stamps
      (then (return)))  ;; no stamp for this message (yet, or any more): no sample
    (local.set $t (i64.load 1 offset=328 (local.get $e))) ;; stamps ns
    (i64.store 1 offset=584 (local.get $e) (i64.sub (call $now) (local.get $t))) ;; latencies ns
    (i64.store 1 offset=576 (local.get $e) (global.get $pos1))) ;; latencies

  (global $pos2 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer2 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok2 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin2 (mut i32) (i32.const 128))
  (global $waitat2 (mut i32) (i32.const 128))  ;; the counter a park waits on
  (global $done2 (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes2 (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine2 (param $why i32) (result i32)
    (i32.atomic.store 2 offset=20 (i32.const 0) (local.get $why)) ;; quarantine
    (global.set $ok2 (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify 2 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 2 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const -4))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach2 (result i32) (local $v i64) (local $t i64)
    (if (i32.eq (global.get $ok2) (i32.const 2)) (then (return (i32.const -4))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load 2 offset=0 (i32.const 0)) (i32.const 1313756242)) ;; magic
          (i32.ne (i32.atomic.load 2 offset=4 (i32.const 0)) (i32.const 1))) ;; version
        (i32.or (i32.or
          (i32.ne (i32.atomic.load 2 offset=8 (i32.const 0)) (i32.const 64)) ;; slot_count
          (i32.ne (i32.atomic.load 2 offset=12 (i32.const 0)) (i32.const 1008))) ;; slot_size
          (i32.ne (i32.atomic.load 2 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine2 (i32.const 1)))))
    (if (i32.atomic.load 2 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok2 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos2 (i64.atomic.load 2 offset=64 (i32.const 0)))   ;; head: acquire
    (global.set $done2 (global.get $pos2))
    (local.set $v (i64.atomic.load 2 offset=128 (i32.const 0)))  ;; tail: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $waitat2 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 2 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 2 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos2) (local.get $t))
                    (i64.sub (global.get $pos2) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat2 (i32.const 264))))))  ;; park on the tap
    (global.set $peer2 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos2) (global.get $peer2)) (i64.const 64)) (then (return (call $quarantine2 (i32.const 2)))))
    (global.set $ok2 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh2 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 2 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok2 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 2 offset=128 (i32.const 0)))  ;; tail: acquire
    (global.set $waitat2 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 2 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 2 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos2) (local.get $t))
                    (i64.sub (global.get $pos2) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat2 (i32.const 264))))))  ;; park on the tap
    (global.set $peer2 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos2) (global.get $peer2)) (i64.const 64)) (then (return (call $quarantine2 (i32.const 2)))))
    (if (call $ready2) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 2 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer2 (i64.atomic.load 2 offset=128 (i32.const 0))) ;; tail
        (if (i64.gt_u (i64.sub (global.get $pos2) (global.get $peer2)) (i64.const 64)) (then (return (call $quarantine2 (i32.const 2)))))
        (if (call $ready2) (then (return (i32.const 1))))
        (return (call $ended2))))
    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended2 (result i32)
    (select (i32.const -7) (i32.const -1)
            (i32.atomic.load 2 offset=832 (i32.const 0)))) ;; broken

  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait2 (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $spin2))
    (loop $spin
      (local.set $r (call $refresh2))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      (i32.atomic.store 2 offset=196 (i32.const 0) (i32.const 1))  ;; writer_waiting: announce (SC)
      (local.set $r (call $refresh2))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 2 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer2))
      (i64.store 2 offset=88 (i32.const 0) ;; writer_parks
        (i64.add (i64.load 2 offset=88 (i32.const 0)) (i64.const 1))) ;; writer_parks
      (local.set $r (memory.atomic.wait32 2 (global.get $waitat2)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 2 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 50000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 25000000))))
          (global.set $spin2 (select (i32.const 128)
                (i32.shr_u (global.get $spin2) (i32.const 1))
                (i32.lt_u (global.get $spin2) (i32.const 256)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh2))
          (global.set $spin2 (select
            (select (i32.const 128) (i32.shr_u (global.get $spin2) (i32.const 1))
                    (i32.lt_u (global.get $spin2) (i32.const 256)))
            (select (i32.const 128) (i32.shl (global.get $spin2) (i32.const 1))
                    (i32.gt_u (global.get $spin2) (i32.const 64)))
            (i64.ge_u (i64.sub (i64.const 64) (i64.sub (global.get $pos2) (global.get $peer2))) (i64.const 64))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))

  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close2 (result i32)
    (i32.atomic.store 2 offset=16 (i32.const 0) (i32.const 1)) ;; closed
    (drop (memory.atomic.notify 2 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 2 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const 0))

  ;; does the guest's name at $ptr equal the name in this ring's header?
  (func $name_is2 (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load 2 offset=28 (i32.const 0))) ;; name_len
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 32)) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u 2 offset=32 (local.get $i)))) ;; name
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  (func $ready2 (result i32)  ;; a free slot
    (i64.lt_u (i64.sub (global.get $pos2) (global.get $peer2)) (i64.const 64)))

  ;; publish head (release), then wake the reader only if it announced a park
  ;; SYNC POINT with $wait in the reader adapter and park_reader in ring/control.py:
  ;; head is stored before reader_waiting is read; they store the flag, then re-read head
  (func $publish2 (param $bytes i64)
    (i64.atomic.store 2 offset=64 (i32.const 0) (global.get $pos2)) ;; head
    (i64.store 2 offset=72 (i32.const 0) (i64.add (i64.load 2 offset=72 (i32.const 0)) (local.get $bytes))) ;; bytes_in
    (if (i32.atomic.load 2 offset=192 (i32.const 0)) ;; reader_waiting
      (then
        (drop (memory.atomic.notify 2 offset=64 (i32.const 0) (i32.const 1))) ;; head
        (i64.store 2 offset=96 (i32.const 0) (i64.add (i64.load 2 offset=96 (i32.const 0)) (i64.const 1)))))) ;; writer_wakes

  ;; copy one message into the next slot; the caller checked room and size
  (func $put2 (param $ptr i32) (param $len i32) (local $slot i32)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 1008) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 63)))))
    (i32.store 2 (local.get $slot) (local.get $len))
    (i32.store 2 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
    (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 0)))
      (if (i32.or (i32.gt_u (local.get $len) (i32.const 256))
                  (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs)))
        (then (memory.copy 2 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 16)) (then
          (v128.store 2 (local.get $cd) (v128.load 0 (local.get $cs)))
          (block $c16
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 32)))
            (v128.store 2 offset=16 (local.get $cd) (v128.load 0 offset=16 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 48)))
            (v128.store 2 offset=32 (local.get $cd) (v128.load 0 offset=32 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 64)))
            (v128.store 2 offset=48 (local.get $cd) (v128.load 0 offset=48 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 80)))
            (v128.store 2 offset=64 (local.get $cd) (v128.load 0 offset=64 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 96)))
            (v128.store 2 offset=80 (local.get $cd) (v128.load 0 offset=80 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 112)))
            (v128.store 2 offset=96 (local.get $cd) (v128.load 0 offset=96 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 128)))
            (v128.store 2 offset=112 (local.get $cd) (v128.load 0 offset=112 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 144)))
            (v128.store 2 offset=128 (local.get $cd) (v128.load 0 offset=128 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 160)))
            (v128.store 2 offset=144 (local.get $cd) (v128.load 0 offset=144 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 176)))
            (v128.store 2 offset=160 (local.get $cd) (v128.load 0 offset=160 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 192)))
            (v128.store 2 offset=176 (local.get $cd) (v128.load 0 offset=176 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 208)))
            (v128.store 2 offset=192 (local.get $cd) (v128.load 0 offset=192 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 224)))
            (v128.store 2 offset=208 (local.get $cd) (v128.load 0 offset=208 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 240)))
            (v128.store 2 offset=224 (local.get $cd) (v128.load 0 offset=224 (local.get $cs))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 16)))
          (v128.store 2 (i32.add (local.get $cd) (local.get $ct)) (v128.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 2 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 2 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 2 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 2 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))))
    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos2))
                          (i32.const 1023)))
      (then (call $sample2)))
    (global.set $pos2 (i64.add (global.get $pos2) (i64.const 1))))

  (func $room2 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok2) (i32.const 1))
      (then (local.set $r (call $attach2)) (if (local.get $r) (then (return (local.get $r))))))
    (if (call $ready2) (then
      (if (i32.atomic.load 2 offset=16 (i32.const 0)) ;; closed
        (then (return (call $ended2))))
      (return (i32.const 1))))
    (local.set $r (call $refresh2))
    (if (i32.eq (local.get $r) (i32.const 0)) (then
      (i64.store 2 offset=80 (i32.const 0) (i64.add (i64.load 2 offset=80 (i32.const 0)) (i64.const 1))) ;; full_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait2))))
    (if (i32.and (i32.eq (local.get $r) (i32.const 1))
                 (i32.atomic.load 2 offset=16 (i32.const 0))) ;; closed
      (then (return (call $ended2))))
    (local.get $r))

  (func $close_end2 (result i32) (call $close2))

  (func $send2 (param $block i32) (param $ptr i32) (param $len i32) (result i32) (local $r i32)
    (if (i32.gt_u (local.get $len) (i32.const 1000)) (then (return (i32.const -3))))
    (local.set $r (call $room2 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (call $put2 (local.get $ptr) (local.get $len))
    (call $publish2 (i64.extend_i32_u (local.get $len)))
    ;; a writer-only service asked to yield learns it once its message is out
    (select (i32.const -8) (i32.const 0)
            (i32.atomic.load 2 offset=104 (i32.const 0)))) ;; writer_yield

  ;; records [len u32][payload, padded to 4] at $ptr; returns how many were sent
  (func $send_batch2 (param $block i32) (param $ptr i32) (param $count i32) (result i32)
    (local $r i32) (local $n i32) (local $pend i32) (local $len i32) (local $bytes i64)
    (local $free i32) (local $slot i32) (local $cd i32) (local $cs i32) (local $ct i32)
    ;; attach and check closed before the first record, as send does
    (if (local.get $count) (then
      (local.set $r (call $room2 (local.get $block)))
      (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $count)))
      (local.set $len (i32.load (local.get $ptr)))
      (if (i32.gt_u (local.get $len) (i32.const 1000)) (then
        (local.set $r (i32.const -3)) (br $done)))
      (if (i32.eqz (local.get $free)) (then
        (if (i32.eqz (call $ready2)) (then
          (if (local.get $pend) (then
            (call $publish2 (local.get $bytes))
            (local.set $bytes (i64.const 0)) (local.set $pend (i32.const 0))))
          (local.set $r (call $room2 (local.get $block)))
          (br_if $done (i32.ne (local.get $r) (i32.const 1)))))
        ;; free slots as $ready counts them: 1..N once it holds
        (local.set $free (i32.wrap_i64 (i64.sub (i64.const 64)
          (i64.sub (global.get $pos2) (global.get $peer2)))))))
      ;; $put, in line
      (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 1008) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 63)))))
      (i32.store 2 (local.get $slot) (local.get $len))
      (i32.store 2 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
      (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 4)))
      (if (i32.or (i32.gt_u (local.get $len) (i32.const 256))
                  (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs)))
        (then (memory.copy 2 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 16)) (then
          (v128.store 2 (local.get $cd) (v128.load 0 (local.get $cs)))
          (block $c16
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 32)))
            (v128.store 2 offset=16 (local.get $cd) (v128.load 0 offset=16 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 48)))
            (v128.store 2 offset=32 (local.get $cd) (v128.load 0 offset=32 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 64)))
            (v128.store 2 offset=48 (local.get $cd) (v128.load 0 offset=48 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 80)))
            (v128.store 2 offset=64 (local.get $cd) (v128.load 0 offset=64 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 96)))
            (v128.store 2 offset=80 (local.get $cd) (v128.load 0 offset=80 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 112)))
            (v128.store 2 offset=96 (local.get $cd) (v128.load 0 offset=96 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 128)))
            (v128.store 2 offset=112 (local.get $cd) (v128.load 0 offset=112 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 144)))
            (v128.store 2 offset=128 (local.get $cd) (v128.load 0 offset=128 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 160)))
            (v128.store 2 offset=144 (local.get $cd) (v128.load 0 offset=144 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 176)))
            (v128.store 2 offset=160 (local.get $cd) (v128.load 0 offset=160 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 192)))
            (v128.store 2 offset=176 (local.get $cd) (v128.load 0 offset=176 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 208)))
            (v128.store 2 offset=192 (local.get $cd) (v128.load 0 offset=192 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 224)))
            (v128.store 2 offset=208 (local.get $cd) (v128.load 0 offset=208 (local.get $cs)))
            (br_if $c16 (i32.le_u (local.get $len) (i32.const 240)))
            (v128.store 2 offset=224 (local.get $cd) (v128.load 0 offset=224 (local.get $cs))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 16)))
          (v128.store 2 (i32.add (local.get $cd) (local.get $ct)) (v128.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 2 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 2 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 2 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 2 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 2 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))))
    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos2))
                          (i32.const 1023)))
      (then (call $sample2)))
      (global.set $pos2 (i64.add (global.get $pos2) (i64.const 1)))
      (local.set $free (i32.sub (local.get $free) (i32.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $pend (i32.add (local.get $pend) (i32.const 1)))
      (br $next)))
    (if (local.get $pend) (then (call $publish2 (local.get $bytes))))
    (if (i32.and (i32.eqz (local.get $n)) (i32.lt_s (local.get $r) (i32.const 0)))
      (then (return (local.get $r))))
    (local.get $n))

  (func $sample2 (local $e i32)
    (local.set $e (i32.add (i32.const 320) (i32.shl (i32.and
      (i32.wrap_i64 (i64.shr_u (global.get $pos2) (i64.const 10))) (i32.const 15))
      (i32.const 4))))
    (i64.store 2 offset=8 (local.get $e) (call $now))
    (i64.store 2 (local.get $e) (global.get $pos2)))
  (func (export "send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (br $bad)) (return (call $send2 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (br $bad)) (return (call $send2 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (br $bad)) (return (call $send_batch2 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (br $bad)) (return (call $send_batch2 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "recv") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv1 (i32.const 1) (local.get 1) (local.get 2)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv1 (i32.const 0) (local.get 1) (local.get 2)))) (br $bad))
    (i32.const -5))
  (func (export "recv_batch") (param i32) (param i32 i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv_batch1 (i32.const 1) (local.get 1) (local.get 2) (local.get 3)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv_batch") (param i32) (param i32 i32 i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv_batch1 (i32.const 0) (local.get 1) (local.get 2) (local.get 3)))) (br $bad))
    (i32.const -5))
  (func (export "commit") (param i32)  (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $commit_op1))) (br $bad))
    (i32.const -5))
  (func (export "close") (param i32)  (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $close_end1))) (return (call $close_end2)))
    (i32.const -5))
  (func (export "recv_raw") (param i32) (param i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv_raw1 (i32.const 1) (local.get 1)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv_raw") (param i32) (param i32) (result i32)
    (block $bad (block $h1 (block $h0 (br_table $h0 $h1 $bad (local.get 0))) (return (call $recv_raw1 (i32.const 0) (local.get 1)))) (br $bad))
    (i32.const -5))
  (func (export "commit_all")
    (drop (call $commit_op1))
  )
  (global $asked_ptr (export "asked_ptr") (mut i32) (i32.const 0))
  (global $asked_len (export "asked_len") (mut i32) (i32.const -1))
  (func (export "tunnel") (param i32 i32) (result i32)
    (if (call $name_is1 (local.get 0) (local.get 1)) (then (return (i32.const 0))))
    (if (call $name_is2 (local.get 0) (local.get 1)) (then (return (i32.const 1))))
    (global.set $asked_ptr (local.get 0)) (global.set $asked_len (local.get 1))
    (i32.const -5))
)
