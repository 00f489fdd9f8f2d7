(module
  (import "guest" "memory" (memory 0))
  (import "t0" "ring" (memory 1 1 shared))
  (import "t1" "ring" (memory 1 1 shared))
  (import "t2" "ring" (memory 1 1 shared))
  (import "t3" "ring" (memory 1 1 shared))
  (import "t4" "ring" (memory 1 1 shared))
  (import "bell" "memory" (memory 1 1 shared))

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

  ;; wait_any: 1 if read end 1 has a message (or has ended: closed, broken or
  ;; corrupt, which the next receive reports), 0 if not yet, or YIELD
  (func $wa_poll1 (result i32) (local $r i32)
    (if (i32.ne (global.get $ok1) (i32.const 1))
      (then (if (call $attach1) (then (return (i32.const 1))))))
    (call $commit1)  ;; parking gives back what the last receive returned
    (if (i32.atomic.load 1 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready1) (then (return (i32.const 1))))
    (local.set $r (call $refresh1))
    (if (i32.eq (local.get $r) (i32.const -8)) (then (return (local.get $r))))
    (i32.ne (local.get $r) (i32.const 0)))

  (func $wa_flag1 (param $v i32)
    (i32.atomic.store 1 offset=192 (i32.const 0) (local.get $v))) ;; reader_waiting

  (global $pos2 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer2 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok2 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin2 (mut i32) (i32.const 2048))
  (global $waitat2 (mut i32) (i32.const 64))  ;; the counter a park waits on
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
          (i32.ne (i32.atomic.load 2 offset=8 (i32.const 0)) (i32.const 4)) ;; slot_count
          (i32.ne (i32.atomic.load 2 offset=12 (i32.const 0)) (i32.const 16))) ;; slot_size
          (i32.ne (i32.atomic.load 2 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine2 (i32.const 1)))))
    (if (i32.atomic.load 2 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok2 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos2 (i64.atomic.load 2 offset=128 (i32.const 0)))   ;; tail: acquire
    (global.set $done2 (global.get $pos2))
    (local.set $v (i64.atomic.load 2 offset=64 (i32.const 0)))  ;; head: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $peer2 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer2) (global.get $pos2)) (i64.const 4)) (then (return (call $quarantine2 (i32.const 2)))))
    (global.set $ok2 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh2 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 2 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok2 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 2 offset=64 (i32.const 0)))  ;; head: acquire
    (global.set $peer2 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer2) (global.get $pos2)) (i64.const 4)) (then (return (call $quarantine2 (i32.const 2)))))
    (if (call $ready2) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 2 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer2 (i64.atomic.load 2 offset=64 (i32.const 0))) ;; head
        (if (i64.gt_u (i64.sub (global.get $peer2) (global.get $pos2)) (i64.const 4)) (then (return (call $quarantine2 (i32.const 2)))))
        (if (call $ready2) (then (return (i32.const 1))))
        (return (call $ended2))))
    (if (i32.atomic.load 2 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
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
      (i32.atomic.store 2 offset=192 (i32.const 0) (i32.const 1))  ;; reader_waiting: announce (SC)
      (local.set $r (call $refresh2))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 2 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer2))
      (i64.store 2 offset=152 (i32.const 0) ;; reader_parks
        (i64.add (i64.load 2 offset=152 (i32.const 0)) (i64.const 1))) ;; reader_parks
      (local.set $r (memory.atomic.wait32 2 (global.get $waitat2)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 2 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 3200000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 1600000000))))
          (global.set $spin2 (select (i32.const 64)
                (i32.shr_u (global.get $spin2) (i32.const 1))
                (i32.lt_u (global.get $spin2) (i32.const 128)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh2))
          (global.set $spin2 (select
            (select (i32.const 64) (i32.shr_u (global.get $spin2) (i32.const 1))
                    (i32.lt_u (global.get $spin2) (i32.const 128)))
            (select (i32.const 65536) (i32.shl (global.get $spin2) (i32.const 1))
                    (i32.gt_u (global.get $spin2) (i32.const 32768)))
            (i64.ge_u (i64.sub (global.get $peer2) (global.get $pos2)) (i64.const 4))))
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

  (func $ready2 (result i32)  ;; a message waiting
    (i64.ne (global.get $pos2) (global.get $peer2)))

  ;; Reading is two-phase: a message received stays uncommitted (its slot is
  ;; not given back) until the next receive, an explicit commit, or a park.
  ;; A reader that traps before committing gets the message again after its
  ;; restart, since a new adapter attaches at the committed tail.
  ;; Commit publishes tail (release), then wakes the writer only if it parked,
  ;; and only once the ring is at most half full: a writer woken for every
  ;; freed slot would park again at once (hysteresis; its wait has a timeout).
  ;; SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
  ;; tail is stored before writer_waiting is read; they store the flag, then re-read tail
  (func $commit2
    (if (i64.eq (global.get $pos2) (global.get $done2)) (then (return)))
    (global.set $done2 (global.get $pos2))
    (i64.atomic.store 2 offset=128 (i32.const 0) (global.get $pos2)) ;; tail
    (i64.store 2 offset=136 (i32.const 0) (i64.add (i64.load 2 offset=136 (i32.const 0)) (global.get $unbytes2))) ;; bytes_out
    (global.set $unbytes2 (i64.const 0))
    (if (i32.and (i32.atomic.load 2 offset=196 (i32.const 0)) ;; writer_waiting
          (i64.le_u (i64.sub (global.get $peer2) (global.get $pos2)) (i64.const 2)))
      (then
        (drop (memory.atomic.notify 2 offset=128 (i32.const 0) (i32.const 1))) ;; tail
        (i64.store 2 offset=160 (i32.const 0) (i64.add (i64.load 2 offset=160 (i32.const 0)) (i64.const 1)))))) ;; reader_wakes

  (func $commit_op2 (result i32)
    (if (i32.eq (global.get $ok2) (i32.const 1)) (then (call $commit2)))
    (i32.const 0))

  (func $close_end2 (result i32)
    (drop (call $commit_op2))
    (call $close2))

  (func $avail2 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok2) (i32.const 1))
      (then (local.set $r (call $attach2)) (if (local.get $r) (then (return (local.get $r))))))
    (call $commit2)  ;; phase two for whatever the previous receive returned
    ;; a hot upgrade's commit point: committed, nothing new taken (one load of
    ;; the line the commit just wrote)
    (if (i32.atomic.load 2 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready2) (then (return (i32.const 1))))
    (local.set $r (call $refresh2))
    (if (i32.eqz (local.get $r)) (then
      (i64.store 2 offset=144 (i32.const 0) (i64.add (i64.load 2 offset=144 (i32.const 0)) (i64.const 1))) ;; empty_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait2))))
    (local.get $r))

  ;; the length of the next message, checked against the slot; or a status
  (func $peek2 (result i32) (local $len i32)
    (local.set $len (i32.load 2 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 3))))))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then (return (call $quarantine2 (i32.const 3)))))
    (local.get $len))

  (func $take2 (param $ptr i32) (param $len i32) (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $cd (i32.add (local.get $ptr) (i32.const 0))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 2 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 2 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 2 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 2 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 2 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 2 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 2 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 2 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (global.set $pos2 (i64.add (global.get $pos2) (i64.const 1))))

  (func $recv2 (param $block i32) (param $ptr i32) (param $cap i32) (result i32) (local $r i32)
    (local.set $r (call $avail2 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek2))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (if (i32.gt_u (local.get $r) (local.get $cap)) (then (return (i32.const -6))))
    (call $take2 (local.get $ptr) (local.get $r))
    (global.set $unbytes2 (i64.add (global.get $unbytes2) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; zero-copy receive, for a guest that maps the ring raw: the message stays
  ;; in its slot (received, not committed, so the writer cannot reuse the slot);
  ;; the u32 at $at gets its payload's offset in the ring memory, the result is
  ;; its length, checked against the slot as recv checks it
  (func $recv_raw2 (param $block i32) (param $at i32) (result i32) (local $r i32)
    (local.set $r (call $avail2 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek2))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (local.get $at) (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 3)))))
    (global.set $pos2 (i64.add (global.get $pos2) (i64.const 1)))
    (global.set $unbytes2 (i64.add (global.get $unbytes2) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; up to $max records [len u32][payload, padded to 4] into $cap bytes at $ptr
  (func $recv_batch2 (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32)
    (result i32) (local $r i32) (local $n i32) (local $len i32) (local $need i32) (local $bytes i64)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $r (call $avail2 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (return (local.get $r))))
    ;; a batch reader right behind the writer would fetch each slot line while
    ;; the writer still owns it: if few messages wait, let the writer get ahead
    (local.set $n (i32.const 64))
    (block $ahead (loop $lag
      (br_if $ahead (i64.ge_u (i64.sub (global.get $peer2) (global.get $pos2))
                              (i64.const 1)))
      (br_if $ahead (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.set $r (call $refresh2))  ;; re-reads head, with every check
      (br_if $lag (i32.eq (local.get $r) (i32.const 1)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
    (local.set $n (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
      (if (i64.eq (global.get $pos2) (global.get $peer2)) (then  ;; not $ready
        (br_if $done (i32.ne (call $refresh2) (i32.const 1)))))
      ;; $peek, in line: the length read from the slot, checked before any use
      (local.set $len (i32.load 2 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 3))))))
      (if (i32.gt_u (local.get $len) (i32.const 8)) (then
        (local.set $r (call $quarantine2 (i32.const 3))) (br $done)))
      (local.set $need (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4)))
      (if (i32.gt_u (local.get $need) (local.get $cap)) (then
        (local.set $r (i32.const -6)) (br $done)))
      (i32.store (local.get $ptr) (local.get $len))
      ;; $take, in line
      (local.set $cd (i32.add (local.get $ptr) (i32.const 4))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos2)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 2 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 2 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 2 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 2 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 2 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 2 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 2 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 2 (i32.add (local.get $cs) (local.get $ct))))))))))))
      (global.set $pos2 (i64.add (global.get $pos2) (i64.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr) (local.get $need)))
      (local.set $cap (i32.sub (local.get $cap) (local.get $need)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (if (local.get $n) (then
      (global.set $unbytes2 (i64.add (global.get $unbytes2) (local.get $bytes)))
      (return (local.get $n))))
    (local.get $r))

  ;; wait_any: 1 if read end 2 has a message (or has ended: closed, broken or
  ;; corrupt, which the next receive reports), 0 if not yet, or YIELD
  (func $wa_poll2 (result i32) (local $r i32)
    (if (i32.ne (global.get $ok2) (i32.const 1))
      (then (if (call $attach2) (then (return (i32.const 1))))))
    (call $commit2)  ;; parking gives back what the last receive returned
    (if (i32.atomic.load 2 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready2) (then (return (i32.const 1))))
    (local.set $r (call $refresh2))
    (if (i32.eq (local.get $r) (i32.const -8)) (then (return (local.get $r))))
    (i32.ne (local.get $r) (i32.const 0)))

  (func $wa_flag2 (param $v i32)
    (i32.atomic.store 2 offset=192 (i32.const 0) (local.get $v))) ;; reader_waiting

  (global $pos3 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer3 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok3 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin3 (mut i32) (i32.const 2048))
  (global $waitat3 (mut i32) (i32.const 64))  ;; the counter a park waits on
  (global $done3 (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes3 (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine3 (param $why i32) (result i32)
    (i32.atomic.store 3 offset=20 (i32.const 0) (local.get $why)) ;; quarantine
    (global.set $ok3 (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify 3 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 3 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const -4))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach3 (result i32) (local $v i64) (local $t i64)
    (if (i32.eq (global.get $ok3) (i32.const 2)) (then (return (i32.const -4))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load 3 offset=0 (i32.const 0)) (i32.const 1313756242)) ;; magic
          (i32.ne (i32.atomic.load 3 offset=4 (i32.const 0)) (i32.const 1))) ;; version
        (i32.or (i32.or
          (i32.ne (i32.atomic.load 3 offset=8 (i32.const 0)) (i32.const 4)) ;; slot_count
          (i32.ne (i32.atomic.load 3 offset=12 (i32.const 0)) (i32.const 16))) ;; slot_size
          (i32.ne (i32.atomic.load 3 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine3 (i32.const 1)))))
    (if (i32.atomic.load 3 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok3 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos3 (i64.atomic.load 3 offset=128 (i32.const 0)))   ;; tail: acquire
    (global.set $done3 (global.get $pos3))
    (local.set $v (i64.atomic.load 3 offset=64 (i32.const 0)))  ;; head: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $peer3 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer3) (global.get $pos3)) (i64.const 4)) (then (return (call $quarantine3 (i32.const 2)))))
    (global.set $ok3 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh3 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 3 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok3 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 3 offset=64 (i32.const 0)))  ;; head: acquire
    (global.set $peer3 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer3) (global.get $pos3)) (i64.const 4)) (then (return (call $quarantine3 (i32.const 2)))))
    (if (call $ready3) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 3 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer3 (i64.atomic.load 3 offset=64 (i32.const 0))) ;; head
        (if (i64.gt_u (i64.sub (global.get $peer3) (global.get $pos3)) (i64.const 4)) (then (return (call $quarantine3 (i32.const 2)))))
        (if (call $ready3) (then (return (i32.const 1))))
        (return (call $ended3))))
    (if (i32.atomic.load 3 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended3 (result i32)
    (select (i32.const -7) (i32.const -1)
            (i32.atomic.load 3 offset=832 (i32.const 0)))) ;; broken

  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait3 (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $spin3))
    (loop $spin
      (local.set $r (call $refresh3))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      (i32.atomic.store 3 offset=192 (i32.const 0) (i32.const 1))  ;; reader_waiting: announce (SC)
      (local.set $r (call $refresh3))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 3 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer3))
      (i64.store 3 offset=152 (i32.const 0) ;; reader_parks
        (i64.add (i64.load 3 offset=152 (i32.const 0)) (i64.const 1))) ;; reader_parks
      (local.set $r (memory.atomic.wait32 3 (global.get $waitat3)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 3 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 3200000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 1600000000))))
          (global.set $spin3 (select (i32.const 64)
                (i32.shr_u (global.get $spin3) (i32.const 1))
                (i32.lt_u (global.get $spin3) (i32.const 128)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh3))
          (global.set $spin3 (select
            (select (i32.const 64) (i32.shr_u (global.get $spin3) (i32.const 1))
                    (i32.lt_u (global.get $spin3) (i32.const 128)))
            (select (i32.const 65536) (i32.shl (global.get $spin3) (i32.const 1))
                    (i32.gt_u (global.get $spin3) (i32.const 32768)))
            (i64.ge_u (i64.sub (global.get $peer3) (global.get $pos3)) (i64.const 4))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))

  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close3 (result i32)
    (i32.atomic.store 3 offset=16 (i32.const 0) (i32.const 1)) ;; closed
    (drop (memory.atomic.notify 3 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 3 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const 0))

  ;; does the guest's name at $ptr equal the name in this ring's header?
  (func $name_is3 (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load 3 offset=28 (i32.const 0))) ;; name_len
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 32)) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u 3 offset=32 (local.get $i)))) ;; name
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  (func $ready3 (result i32)  ;; a message waiting
    (i64.ne (global.get $pos3) (global.get $peer3)))

  ;; Reading is two-phase: a message received stays uncommitted (its slot is
  ;; not given back) until the next receive, an explicit commit, or a park.
  ;; A reader that traps before committing gets the message again after its
  ;; restart, since a new adapter attaches at the committed tail.
  ;; Commit publishes tail (release), then wakes the writer only if it parked,
  ;; and only once the ring is at most half full: a writer woken for every
  ;; freed slot would park again at once (hysteresis; its wait has a timeout).
  ;; SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
  ;; tail is stored before writer_waiting is read; they store the flag, then re-read tail
  (func $commit3
    (if (i64.eq (global.get $pos3) (global.get $done3)) (then (return)))
    (global.set $done3 (global.get $pos3))
    (i64.atomic.store 3 offset=128 (i32.const 0) (global.get $pos3)) ;; tail
    (i64.store 3 offset=136 (i32.const 0) (i64.add (i64.load 3 offset=136 (i32.const 0)) (global.get $unbytes3))) ;; bytes_out
    (global.set $unbytes3 (i64.const 0))
    (if (i32.and (i32.atomic.load 3 offset=196 (i32.const 0)) ;; writer_waiting
          (i64.le_u (i64.sub (global.get $peer3) (global.get $pos3)) (i64.const 2)))
      (then
        (drop (memory.atomic.notify 3 offset=128 (i32.const 0) (i32.const 1))) ;; tail
        (i64.store 3 offset=160 (i32.const 0) (i64.add (i64.load 3 offset=160 (i32.const 0)) (i64.const 1)))))) ;; reader_wakes

  (func $commit_op3 (result i32)
    (if (i32.eq (global.get $ok3) (i32.const 1)) (then (call $commit3)))
    (i32.const 0))

  (func $close_end3 (result i32)
    (drop (call $commit_op3))
    (call $close3))

  (func $avail3 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok3) (i32.const 1))
      (then (local.set $r (call $attach3)) (if (local.get $r) (then (return (local.get $r))))))
    (call $commit3)  ;; phase two for whatever the previous receive returned
    ;; a hot upgrade's commit point: committed, nothing new taken (one load of
    ;; the line the commit just wrote)
    (if (i32.atomic.load 3 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready3) (then (return (i32.const 1))))
    (local.set $r (call $refresh3))
    (if (i32.eqz (local.get $r)) (then
      (i64.store 3 offset=144 (i32.const 0) (i64.add (i64.load 3 offset=144 (i32.const 0)) (i64.const 1))) ;; empty_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait3))))
    (local.get $r))

  ;; the length of the next message, checked against the slot; or a status
  (func $peek3 (result i32) (local $len i32)
    (local.set $len (i32.load 3 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos3)) (i32.const 3))))))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then (return (call $quarantine3 (i32.const 3)))))
    (local.get $len))

  (func $take3 (param $ptr i32) (param $len i32) (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $cd (i32.add (local.get $ptr) (i32.const 0))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos3)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 3 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 3 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 3 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 3 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 3 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 3 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 3 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 3 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (global.set $pos3 (i64.add (global.get $pos3) (i64.const 1))))

  (func $recv3 (param $block i32) (param $ptr i32) (param $cap i32) (result i32) (local $r i32)
    (local.set $r (call $avail3 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek3))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (if (i32.gt_u (local.get $r) (local.get $cap)) (then (return (i32.const -6))))
    (call $take3 (local.get $ptr) (local.get $r))
    (global.set $unbytes3 (i64.add (global.get $unbytes3) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; zero-copy receive, for a guest that maps the ring raw: the message stays
  ;; in its slot (received, not committed, so the writer cannot reuse the slot);
  ;; the u32 at $at gets its payload's offset in the ring memory, the result is
  ;; its length, checked against the slot as recv checks it
  (func $recv_raw3 (param $block i32) (param $at i32) (result i32) (local $r i32)
    (local.set $r (call $avail3 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek3))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (local.get $at) (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos3)) (i32.const 3)))))
    (global.set $pos3 (i64.add (global.get $pos3) (i64.const 1)))
    (global.set $unbytes3 (i64.add (global.get $unbytes3) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; up to $max records [len u32][payload, padded to 4] into $cap bytes at $ptr
  (func $recv_batch3 (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32)
    (result i32) (local $r i32) (local $n i32) (local $len i32) (local $need i32) (local $bytes i64)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $r (call $avail3 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (return (local.get $r))))
    ;; a batch reader right behind the writer would fetch each slot line while
    ;; the writer still owns it: if few messages wait, let the writer get ahead
    (local.set $n (i32.const 64))
    (block $ahead (loop $lag
      (br_if $ahead (i64.ge_u (i64.sub (global.get $peer3) (global.get $pos3))
                              (i64.const 1)))
      (br_if $ahead (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.set $r (call $refresh3))  ;; re-reads head, with every check
      (br_if $lag (i32.eq (local.get $r) (i32.const 1)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
    (local.set $n (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
      (if (i64.eq (global.get $pos3) (global.get $peer3)) (then  ;; not $ready
        (br_if $done (i32.ne (call $refresh3) (i32.const 1)))))
      ;; $peek, in line: the length read from the slot, checked before any use
      (local.set $len (i32.load 3 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos3)) (i32.const 3))))))
      (if (i32.gt_u (local.get $len) (i32.const 8)) (then
        (local.set $r (call $quarantine3 (i32.const 3))) (br $done)))
      (local.set $need (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4)))
      (if (i32.gt_u (local.get $need) (local.get $cap)) (then
        (local.set $r (i32.const -6)) (br $done)))
      (i32.store (local.get $ptr) (local.get $len))
      ;; $take, in line
      (local.set $cd (i32.add (local.get $ptr) (i32.const 4))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos3)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 3 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 3 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 3 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 3 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 3 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 3 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 3 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 3 (i32.add (local.get $cs) (local.get $ct))))))))))))
      (global.set $pos3 (i64.add (global.get $pos3) (i64.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr) (local.get $need)))
      (local.set $cap (i32.sub (local.get $cap) (local.get $need)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (if (local.get $n) (then
      (global.set $unbytes3 (i64.add (global.get $unbytes3) (local.get $bytes)))
      (return (local.get $n))))
    (local.get $r))

  ;; wait_any: 1 if read end 3 has a message (or has ended: closed, broken or
  ;; corrupt, which the next receive reports), 0 if not yet, or YIELD
  (func $wa_poll3 (result i32) (local $r i32)
    (if (i32.ne (global.get $ok3) (i32.const 1))
      (then (if (call $attach3) (then (return (i32.const 1))))))
    (call $commit3)  ;; parking gives back what the last receive returned
    (if (i32.atomic.load 3 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready3) (then (return (i32.const 1))))
    (local.set $r (call $refresh3))
    (if (i32.eq (local.get $r) (i32.const -8)) (then (return (local.get $r))))
    (i32.ne (local.get $r) (i32.const 0)))

  (func $wa_flag3 (param $v i32)
    (i32.atomic.store 3 offset=192 (i32.const 0) (local.get $v))) ;; reader_waiting

  (global $pos4 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer4 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok4 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin4 (mut i32) (i32.const 2048))
  (global $waitat4 (mut i32) (i32.const 64))  ;; the counter a park waits on
  (global $done4 (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes4 (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine4 (param $why i32) (result i32)
    (i32.atomic.store 4 offset=20 (i32.const 0) (local.get $why)) ;; quarantine
    (global.set $ok4 (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify 4 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 4 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const -4))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach4 (result i32) (local $v i64) (local $t i64)
    (if (i32.eq (global.get $ok4) (i32.const 2)) (then (return (i32.const -4))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load 4 offset=0 (i32.const 0)) (i32.const 1313756242)) ;; magic
          (i32.ne (i32.atomic.load 4 offset=4 (i32.const 0)) (i32.const 1))) ;; version
        (i32.or (i32.or
          (i32.ne (i32.atomic.load 4 offset=8 (i32.const 0)) (i32.const 4)) ;; slot_count
          (i32.ne (i32.atomic.load 4 offset=12 (i32.const 0)) (i32.const 16))) ;; slot_size
          (i32.ne (i32.atomic.load 4 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine4 (i32.const 1)))))
    (if (i32.atomic.load 4 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok4 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos4 (i64.atomic.load 4 offset=128 (i32.const 0)))   ;; tail: acquire
    (global.set $done4 (global.get $pos4))
    (local.set $v (i64.atomic.load 4 offset=64 (i32.const 0)))  ;; head: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $peer4 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer4) (global.get $pos4)) (i64.const 4)) (then (return (call $quarantine4 (i32.const 2)))))
    (global.set $ok4 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh4 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 4 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok4 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 4 offset=64 (i32.const 0)))  ;; head: acquire
    (global.set $peer4 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $peer4) (global.get $pos4)) (i64.const 4)) (then (return (call $quarantine4 (i32.const 2)))))
    (if (call $ready4) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 4 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer4 (i64.atomic.load 4 offset=64 (i32.const 0))) ;; head
        (if (i64.gt_u (i64.sub (global.get $peer4) (global.get $pos4)) (i64.const 4)) (then (return (call $quarantine4 (i32.const 2)))))
        (if (call $ready4) (then (return (i32.const 1))))
        (return (call $ended4))))
    (if (i32.atomic.load 4 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended4 (result i32)
    (select (i32.const -7) (i32.const -1)
            (i32.atomic.load 4 offset=832 (i32.const 0)))) ;; broken

  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait4 (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $spin4))
    (loop $spin
      (local.set $r (call $refresh4))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      (i32.atomic.store 4 offset=192 (i32.const 0) (i32.const 1))  ;; reader_waiting: announce (SC)
      (local.set $r (call $refresh4))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 4 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer4))
      (i64.store 4 offset=152 (i32.const 0) ;; reader_parks
        (i64.add (i64.load 4 offset=152 (i32.const 0)) (i64.const 1))) ;; reader_parks
      (local.set $r (memory.atomic.wait32 4 (global.get $waitat4)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 4 offset=192 (i32.const 0) (i32.const 0)) ;; reader_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 3200000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 1600000000))))
          (global.set $spin4 (select (i32.const 64)
                (i32.shr_u (global.get $spin4) (i32.const 1))
                (i32.lt_u (global.get $spin4) (i32.const 128)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh4))
          (global.set $spin4 (select
            (select (i32.const 64) (i32.shr_u (global.get $spin4) (i32.const 1))
                    (i32.lt_u (global.get $spin4) (i32.const 128)))
            (select (i32.const 65536) (i32.shl (global.get $spin4) (i32.const 1))
                    (i32.gt_u (global.get $spin4) (i32.const 32768)))
            (i64.ge_u (i64.sub (global.get $peer4) (global.get $pos4)) (i64.const 4))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))

  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close4 (result i32)
    (i32.atomic.store 4 offset=16 (i32.const 0) (i32.const 1)) ;; closed
    (drop (memory.atomic.notify 4 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 4 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const 0))

  ;; does the guest's name at $ptr equal the name in this ring's header?
  (func $name_is4 (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load 4 offset=28 (i32.const 0))) ;; name_len
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 32)) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u 4 offset=32 (local.get $i)))) ;; name
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  (func $ready4 (result i32)  ;; a message waiting
    (i64.ne (global.get $pos4) (global.get $peer4)))

  ;; Reading is two-phase: a message received stays uncommitted (its slot is
  ;; not given back) until the next receive, an explicit commit, or a park.
  ;; A reader that traps before committing gets the message again after its
  ;; restart, since a new adapter attaches at the committed tail.
  ;; Commit publishes tail (release), then wakes the writer only if it parked,
  ;; and only once the ring is at most half full: a writer woken for every
  ;; freed slot would park again at once (hysteresis; its wait has a timeout).
  ;; SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
  ;; tail is stored before writer_waiting is read; they store the flag, then re-read tail
  (func $commit4
    (if (i64.eq (global.get $pos4) (global.get $done4)) (then (return)))
    (global.set $done4 (global.get $pos4))
    (i64.atomic.store 4 offset=128 (i32.const 0) (global.get $pos4)) ;; tail
    (i64.store 4 offset=136 (i32.const 0) (i64.add (i64.load 4 offset=136 (i32.const 0)) (global.get $unbytes4))) ;; bytes_out
    (global.set $unbytes4 (i64.const 0))
    (if (i32.and (i32.atomic.load 4 offset=196 (i32.const 0)) ;; writer_waiting
          (i64.le_u (i64.sub (global.get $peer4) (global.get $pos4)) (i64.const 2)))
      (then
        (drop (memory.atomic.notify 4 offset=128 (i32.const 0) (i32.const 1))) ;; tail
        (i64.store 4 offset=160 (i32.const 0) (i64.add (i64.load 4 offset=160 (i32.const 0)) (i64.const 1)))))) ;; reader_wakes

  (func $commit_op4 (result i32)
    (if (i32.eq (global.get $ok4) (i32.const 1)) (then (call $commit4)))
    (i32.const 0))

  (func $close_end4 (result i32)
    (drop (call $commit_op4))
    (call $close4))

  (func $avail4 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok4) (i32.const 1))
      (then (local.set $r (call $attach4)) (if (local.get $r) (then (return (local.get $r))))))
    (call $commit4)  ;; phase two for whatever the previous receive returned
    ;; a hot upgrade's commit point: committed, nothing new taken (one load of
    ;; the line the commit just wrote)
    (if (i32.atomic.load 4 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready4) (then (return (i32.const 1))))
    (local.set $r (call $refresh4))
    (if (i32.eqz (local.get $r)) (then
      (i64.store 4 offset=144 (i32.const 0) (i64.add (i64.load 4 offset=144 (i32.const 0)) (i64.const 1))) ;; empty_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait4))))
    (local.get $r))

  ;; the length of the next message, checked against the slot; or a status
  (func $peek4 (result i32) (local $len i32)
    (local.set $len (i32.load 4 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos4)) (i32.const 3))))))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then (return (call $quarantine4 (i32.const 3)))))
    (local.get $len))

  (func $take4 (param $ptr i32) (param $len i32) (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $cd (i32.add (local.get $ptr) (i32.const 0))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos4)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 4 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 4 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 4 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 4 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 4 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 4 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 4 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 4 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (global.set $pos4 (i64.add (global.get $pos4) (i64.const 1))))

  (func $recv4 (param $block i32) (param $ptr i32) (param $cap i32) (result i32) (local $r i32)
    (local.set $r (call $avail4 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek4))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (if (i32.gt_u (local.get $r) (local.get $cap)) (then (return (i32.const -6))))
    (call $take4 (local.get $ptr) (local.get $r))
    (global.set $unbytes4 (i64.add (global.get $unbytes4) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; zero-copy receive, for a guest that maps the ring raw: the message stays
  ;; in its slot (received, not committed, so the writer cannot reuse the slot);
  ;; the u32 at $at gets its payload's offset in the ring memory, the result is
  ;; its length, checked against the slot as recv checks it
  (func $recv_raw4 (param $block i32) (param $at i32) (result i32) (local $r i32)
    (local.set $r (call $avail4 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek4))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (local.get $at) (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos4)) (i32.const 3)))))
    (global.set $pos4 (i64.add (global.get $pos4) (i64.const 1)))
    (global.set $unbytes4 (i64.add (global.get $unbytes4) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; up to $max records [len u32][payload, padded to 4] into $cap bytes at $ptr
  (func $recv_batch4 (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32)
    (result i32) (local $r i32) (local $n i32) (local $len i32) (local $need i32) (local $bytes i64)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $r (call $avail4 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then
      (if (i32.eq (local.get $r) (i32.const -2)) (then (return (i32.const 0))))
      (return (local.get $r))))
    ;; a batch reader right behind the writer would fetch each slot line while
    ;; the writer still owns it: if few messages wait, let the writer get ahead
    (local.set $n (i32.const 64))
    (block $ahead (loop $lag
      (br_if $ahead (i64.ge_u (i64.sub (global.get $peer4) (global.get $pos4))
                              (i64.const 1)))
      (br_if $ahead (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.set $r (call $refresh4))  ;; re-reads head, with every check
      (br_if $lag (i32.eq (local.get $r) (i32.const 1)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
    (local.set $n (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
      (if (i64.eq (global.get $pos4) (global.get $peer4)) (then  ;; not $ready
        (br_if $done (i32.ne (call $refresh4) (i32.const 1)))))
      ;; $peek, in line: the length read from the slot, checked before any use
      (local.set $len (i32.load 4 (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos4)) (i32.const 3))))))
      (if (i32.gt_u (local.get $len) (i32.const 8)) (then
        (local.set $r (call $quarantine4 (i32.const 3))) (br $done)))
      (local.set $need (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4)))
      (if (i32.gt_u (local.get $need) (local.get $cap)) (then
        (local.set $r (i32.const -6)) (br $done)))
      (i32.store (local.get $ptr) (local.get $len))
      ;; $take, in line
      (local.set $cd (i32.add (local.get $ptr) (i32.const 4))) (local.set $cs (i32.add (i32.add (i32.const 1024) (i32.const 8)) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos4)) (i32.const 3)))))
      (if (i32.lt_u (i32.add (local.get $cd) (local.get $len)) (local.get $cd))
        (then (memory.copy 0 4 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 0 (local.get $cd) (i64.load 4 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 0 (i32.add (local.get $cd) (local.get $ct)) (i64.load 4 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 0 (local.get $cd) (i32.load 4 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load 4 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 0 (local.get $cd) (i32.load8_u 4 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 4 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 0 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 4 (i32.add (local.get $cs) (local.get $ct))))))))))))
      (global.set $pos4 (i64.add (global.get $pos4) (i64.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr) (local.get $need)))
      (local.set $cap (i32.sub (local.get $cap) (local.get $need)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (if (local.get $n) (then
      (global.set $unbytes4 (i64.add (global.get $unbytes4) (local.get $bytes)))
      (return (local.get $n))))
    (local.get $r))

  ;; wait_any: 1 if read end 4 has a message (or has ended: closed, broken or
  ;; corrupt, which the next receive reports), 0 if not yet, or YIELD
  (func $wa_poll4 (result i32) (local $r i32)
    (if (i32.ne (global.get $ok4) (i32.const 1))
      (then (if (call $attach4) (then (return (i32.const 1))))))
    (call $commit4)  ;; parking gives back what the last receive returned
    (if (i32.atomic.load 4 offset=176 (i32.const 0)) ;; reader_yield
      (then (return (i32.const -8))))
    (if (call $ready4) (then (return (i32.const 1))))
    (local.set $r (call $refresh4))
    (if (i32.eq (local.get $r) (i32.const -8)) (then (return (local.get $r))))
    (i32.ne (local.get $r) (i32.const 0)))

  (func $wa_flag4 (param $v i32)
    (i32.atomic.store 4 offset=192 (i32.const 0) (local.get $v))) ;; reader_waiting

  (global $pos5 (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer5 (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok5 (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin5 (mut i32) (i32.const 128))
  (global $waitat5 (mut i32) (i32.const 128))  ;; the counter a park waits on
  (global $done5 (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes5 (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine5 (param $why i32) (result i32)
    (i32.atomic.store 5 offset=20 (i32.const 0) (local.get $why)) ;; quarantine
    (global.set $ok5 (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify 5 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 5 offset=128 (i32.const 0) (i32.const -1))) ;; tail
    (i32.const -4))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach5 (result i32) (local $v i64) (local $t i64)
    (if (i32.eq (global.get $ok5) (i32.const 2)) (then (return (i32.const -4))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load 5 offset=0 (i32.const 0)) (i32.const 1313756242)) ;; magic
          (i32.ne (i32.atomic.load 5 offset=4 (i32.const 0)) (i32.const 1))) ;; version
        (i32.or (i32.or
          (i32.ne (i32.atomic.load 5 offset=8 (i32.const 0)) (i32.const 4)) ;; slot_count
          (i32.ne (i32.atomic.load 5 offset=12 (i32.const 0)) (i32.const 16))) ;; slot_size
          (i32.ne (i32.atomic.load 5 offset=24 (i32.const 0)) (i32.const 1024)))) ;; header_size
      (then (return (call $quarantine5 (i32.const 1)))))
    (if (i32.atomic.load 5 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok5 (i32.const 2)) (return (i32.const -4))))
    (global.set $pos5 (i64.atomic.load 5 offset=64 (i32.const 0)))   ;; head: acquire
    (global.set $done5 (global.get $pos5))
    (local.set $v (i64.atomic.load 5 offset=128 (i32.const 0)))  ;; tail: acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
    (global.set $waitat5 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 5 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 5 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos5) (local.get $t))
                    (i64.sub (global.get $pos5) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat5 (i32.const 264))))))  ;; park on the tap
    (global.set $peer5 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos5) (global.get $peer5)) (i64.const 4)) (then (return (call $quarantine5 (i32.const 2)))))
    (global.set $ok5 (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh5 (result i32) (local $v i64) (local $t i64)
    (if (i32.atomic.load 5 offset=20 (i32.const 0)) ;; quarantine
      (then (global.set $ok5 (i32.const 2)) (return (i32.const -4))))
    (local.set $v (i64.atomic.load 5 offset=128 (i32.const 0)))  ;; tail: acquire
    (global.set $waitat5 (i32.const 128))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load 5 offset=256 (i32.const 0)) (then ;; tap_mode
      (local.set $t (i64.atomic.load 5 offset=264 (i32.const 0)))  ;; tap_tail: acquire
      (if (i64.gt_u (i64.sub (global.get $pos5) (local.get $t))
                    (i64.sub (global.get $pos5) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat5 (i32.const 264))))))  ;; park on the tap
    (global.set $peer5 (local.get $v))
    (if (i64.gt_u (i64.sub (global.get $pos5) (global.get $peer5)) (i64.const 4)) (then (return (call $quarantine5 (i32.const 2)))))
    (if (call $ready5) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load 5 offset=16 (i32.const 0)) ;; closed
      (then
        (global.set $peer5 (i64.atomic.load 5 offset=128 (i32.const 0))) ;; tail
        (if (i64.gt_u (i64.sub (global.get $pos5) (global.get $peer5)) (i64.const 4)) (then (return (call $quarantine5 (i32.const 2)))))
        (if (call $ready5) (then (return (i32.const 1))))
        (return (call $ended5))))
    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended5 (result i32)
    (select (i32.const -7) (i32.const -1)
            (i32.atomic.load 5 offset=832 (i32.const 0)))) ;; broken

  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait5 (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $spin5))
    (loop $spin
      (local.set $r (call $refresh5))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      (i32.atomic.store 5 offset=196 (i32.const 0) (i32.const 1))  ;; writer_waiting: announce (SC)
      (local.set $r (call $refresh5))                                       ;; then re-check
      (if (local.get $r) (then
        (i32.atomic.store 5 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
        (return (local.get $r))))
      (local.set $seen (global.get $peer5))
      (i64.store 5 offset=88 (i32.const 0) ;; writer_parks
        (i64.add (i64.load 5 offset=88 (i32.const 0)) (i64.const 1))) ;; writer_parks
      (local.set $r (memory.atomic.wait32 5 (global.get $waitat5)
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      (i32.atomic.store 5 offset=196 (i32.const 0) (i32.const 0)) ;; writer_waiting
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const 50000000) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const 25000000))))
          (global.set $spin5 (select (i32.const 128)
                (i32.shr_u (global.get $spin5) (i32.const 1))
                (i32.lt_u (global.get $spin5) (i32.const 256)))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh5))
          (global.set $spin5 (select
            (select (i32.const 128) (i32.shr_u (global.get $spin5) (i32.const 1))
                    (i32.lt_u (global.get $spin5) (i32.const 256)))
            (select (i32.const 128) (i32.shl (global.get $spin5) (i32.const 1))
                    (i32.gt_u (global.get $spin5) (i32.const 64)))
            (i64.ge_u (i64.sub (i64.const 4) (i64.sub (global.get $pos5) (global.get $peer5))) (i64.const 4))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))

  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close5 (result i32)
    (i32.atomic.store 5 offset=16 (i32.const 0) (i32.const 1)) ;; closed
    (drop (memory.atomic.notify 5 offset=64 (i32.const 0) (i32.const -1))) ;; head
    (drop (memory.atomic.notify 5 offset=128 (i32.const 0) (i32.const -1))) ;; tail
        (call $bell_ring (i32.const 128))
    (i32.const 0))

  ;; does the guest's name at $ptr equal the name in this ring's header?
  (func $name_is5 (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load 5 offset=28 (i32.const 0))) ;; name_len
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 32)) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u 5 offset=32 (local.get $i)))) ;; name
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))

  (func $ready5 (result i32)  ;; a free slot
    (i64.lt_u (i64.sub (global.get $pos5) (global.get $peer5)) (i64.const 4)))

  ;; publish head (release), then wake the reader only if it announced a park
  ;; SYNC POINT with $wait in the reader adapter and park_reader in ring/control.py:
  ;; head is stored before reader_waiting is read; they store the flag, then re-read head
  (func $publish5 (param $bytes i64)
    (i64.atomic.store 5 offset=64 (i32.const 0) (global.get $pos5)) ;; head
    (i64.store 5 offset=72 (i32.const 0) (i64.add (i64.load 5 offset=72 (i32.const 0)) (local.get $bytes))) ;; bytes_in
    (if (i32.atomic.load 5 offset=192 (i32.const 0)) ;; reader_waiting
      (then
        (drop (memory.atomic.notify 5 offset=64 (i32.const 0) (i32.const 1))) ;; head
        (call $bell_ring (i32.const 128))
        (i64.store 5 offset=96 (i32.const 0) (i64.add (i64.load 5 offset=96 (i32.const 0)) (i64.const 1)))))) ;; writer_wakes

  ;; copy one message into the next slot; the caller checked room and size
  (func $put5 (param $ptr i32) (param $len i32) (local $slot i32)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos5)) (i32.const 3)))))
    (i32.store 5 (local.get $slot) (local.get $len))
    (i32.store 5 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
    (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 0)))
      (if (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs))
        (then (memory.copy 5 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 5 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 5 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 5 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 5 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))
    (global.set $pos5 (i64.add (global.get $pos5) (i64.const 1))))

  (func $room5 (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok5) (i32.const 1))
      (then (local.set $r (call $attach5)) (if (local.get $r) (then (return (local.get $r))))))
    (if (call $ready5) (then
      (if (i32.atomic.load 5 offset=16 (i32.const 0)) ;; closed
        (then (return (call $ended5))))
      (return (i32.const 1))))
    (local.set $r (call $refresh5))
    (if (i32.eq (local.get $r) (i32.const 0)) (then
      (i64.store 5 offset=80 (i32.const 0) (i64.add (i64.load 5 offset=80 (i32.const 0)) (i64.const 1))) ;; full_count
      (if (i32.eqz (local.get $block)) (then (return (i32.const -2))))
      (local.set $r (call $wait5))))
    (if (i32.and (i32.eq (local.get $r) (i32.const 1))
                 (i32.atomic.load 5 offset=16 (i32.const 0))) ;; closed
      (then (return (call $ended5))))
    (local.get $r))

  (func $close_end5 (result i32) (call $close5))

  (func $send5 (param $block i32) (param $ptr i32) (param $len i32) (result i32) (local $r i32)
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then (return (i32.const -3))))
    (local.set $r (call $room5 (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (call $put5 (local.get $ptr) (local.get $len))
    (call $publish5 (i64.extend_i32_u (local.get $len)))
    ;; a writer-only service asked to yield learns it once its message is out
    (select (i32.const -8) (i32.const 0)
            (i32.atomic.load 5 offset=104 (i32.const 0)))) ;; writer_yield

  ;; records [len u32][payload, padded to 4] at $ptr; returns how many were sent
  (func $send_batch5 (param $block i32) (param $ptr i32) (param $count i32) (result i32)
    (local $r i32) (local $n i32) (local $pend i32) (local $len i32) (local $bytes i64)
    (local $free i32) (local $slot i32) (local $cd i32) (local $cs i32) (local $ct i32)
    ;; attach and check closed before the first record, as send does
    (if (local.get $count) (then
      (local.set $r (call $room5 (local.get $block)))
      (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $count)))
      (local.set $len (i32.load (local.get $ptr)))
      (if (i32.gt_u (local.get $len) (i32.const 8)) (then
        (local.set $r (i32.const -3)) (br $done)))
      (if (i32.eqz (local.get $free)) (then
        (if (i32.eqz (call $ready5)) (then
          (if (local.get $pend) (then
            (call $publish5 (local.get $bytes))
            (local.set $bytes (i64.const 0)) (local.set $pend (i32.const 0))))
          (local.set $r (call $room5 (local.get $block)))
          (br_if $done (i32.ne (local.get $r) (i32.const 1)))))
        ;; free slots as $ready counts them: 1..N once it holds
        (local.set $free (i32.wrap_i64 (i64.sub (i64.const 4)
          (i64.sub (global.get $pos5) (global.get $peer5)))))))
      ;; $put, in line
      (local.set $slot (i32.add (i32.const 1024) (i32.mul (i32.const 16) (i32.and (i32.wrap_i64 (global.get $pos5)) (i32.const 3)))))
      (i32.store 5 (local.get $slot) (local.get $len))
      (i32.store 5 offset=4 (local.get $slot) (i32.const 0)) ;; slot flags
      (local.set $cd (i32.add (local.get $slot) (i32.const 8))) (local.set $cs (i32.add (local.get $ptr) (i32.const 4)))
      (if (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs))
        (then (memory.copy 5 0 (local.get $cd) (local.get $cs) (local.get $len)))
        (else (if (i32.ge_u (local.get $len) (i32.const 8)) (then
          (i64.store 5 (local.get $cd) (i64.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 8)))
          (i64.store 5 (i32.add (local.get $cd) (local.get $ct)) (i64.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (i32.ge_u (local.get $len) (i32.const 4)) (then
          (i32.store 5 (local.get $cd) (i32.load 0 (local.get $cs)))
          (local.set $ct (i32.sub (local.get $len) (i32.const 4)))
          (i32.store 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load 0 (i32.add (local.get $cs) (local.get $ct)))))
        (else (if (local.get $len) (then
          (i32.store8 5 (local.get $cd) (i32.load8_u 0 (local.get $cs)))
          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))
          (i32.store8 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))
          (local.set $ct (i32.sub (local.get $len) (i32.const 1)))
          (i32.store8 5 (i32.add (local.get $cd) (local.get $ct)) (i32.load8_u 0 (i32.add (local.get $cs) (local.get $ct))))))))))))
      (global.set $pos5 (i64.add (global.get $pos5) (i64.const 1)))
      (local.set $free (i32.sub (local.get $free) (i32.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $pend (i32.add (local.get $pend) (i32.const 1)))
      (br $next)))
    (if (local.get $pend) (then (call $publish5 (local.get $bytes))))
    (if (i32.and (i32.eqz (local.get $n)) (i32.lt_s (local.get $r) (i32.const 0)))
      (then (return (local.get $r))))
    (local.get $n))

  ;; wait_any: 1 if write end 5 has a free slot (or has ended), 0 if not yet
  (func $wa_poll5 (result i32)
    (if (i32.ne (global.get $ok5) (i32.const 1))
      (then (if (call $attach5) (then (return (i32.const 1))))))
    (if (call $ready5) (then (return (i32.const 1))))
    (i32.ne (call $refresh5) (i32.const 0)))

  (func $wa_flag5 (param $v i32)
    (i32.atomic.store 5 offset=196 (i32.const 0) (local.get $v))) ;; writer_waiting
  (func (export "send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (br $bad)) (br $bad)) (return (call $send5 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (br $bad)) (br $bad)) (return (call $send5 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (br $bad)) (br $bad)) (return (call $send_batch5 (i32.const 1) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "try_send_batch") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (br $bad)) (br $bad)) (return (call $send_batch5 (i32.const 0) (local.get 1) (local.get 2))))
    (i32.const -5))
  (func (export "recv") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recvf0 (i32.const 1) (local.get 1) (local.get 2)))) (return (call $recv4 (i32.const 1) (local.get 1) (local.get 2)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv") (param i32) (param i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recvf0 (i32.const 0) (local.get 1) (local.get 2)))) (return (call $recv4 (i32.const 0) (local.get 1) (local.get 2)))) (br $bad))
    (i32.const -5))
  (func (export "recv_batch") (param i32) (param i32 i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recv_batchf0 (i32.const 1) (local.get 1) (local.get 2) (local.get 3)))) (return (call $recv_batch4 (i32.const 1) (local.get 1) (local.get 2) (local.get 3)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv_batch") (param i32) (param i32 i32 i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recv_batchf0 (i32.const 0) (local.get 1) (local.get 2) (local.get 3)))) (return (call $recv_batch4 (i32.const 0) (local.get 1) (local.get 2) (local.get 3)))) (br $bad))
    (i32.const -5))
  (func (export "commit") (param i32)  (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $commit_opf0))) (return (call $commit_op4))) (br $bad))
    (i32.const -5))
  (func (export "close") (param i32)  (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $close_endf0))) (return (call $close_end4))) (return (call $close_end5)))
    (i32.const -5))
  (func (export "recv_raw") (param i32) (param i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recv_rawf0 (i32.const 1) (local.get 1)))) (return (call $recv_raw4 (i32.const 1) (local.get 1)))) (br $bad))
    (i32.const -5))
  (func (export "try_recv_raw") (param i32) (param i32) (result i32)
    (block $bad (block $h2 (block $h1 (block $h0 (br_table $h0 $h1 $h2 $bad (local.get 0))) (return (call $recv_rawf0 (i32.const 0) (local.get 1)))) (return (call $recv_raw4 (i32.const 0) (local.get 1)))) (br $bad))
    (i32.const -5))

  ;; ring a service's bell line: bump its sequence word, wake it if parked there
  ;; SYNC POINT with wait_any's park: the caller stored its counter (or closed),
  ;; then read the waiter's flag; the waiter stores its flags, then reads seq
  (func $bell_ring (param $line i32)
    (drop (i32.atomic.rmw.add 6 offset=0 (local.get $line) (i32.const 1)))
    (drop (memory.atomic.notify 6 offset=0 (local.get $line) (i32.const 1))))

  (global $fcur0 (mut i32) (i32.const 0))     ;; the sub-ring whose turn it is
  (global $fleft0 (mut i32) (i32.const 16))  ;; messages left in its turn
  (global $fended0 (mut i32) (i32.const 0))   ;; bit k: sub-ring k ended, drained
  (global $fbroken0 (mut i32) (i32.const 0))  ;; bit k: ...by a break

  ;; the turn passes to the next sub-ring
  (func $fnext0
    (global.set $fcur0 (select (i32.const 0) (i32.add (global.get $fcur0) (i32.const 1))
                         (i32.ge_u (global.get $fcur0) (i32.const 2))))
    (global.set $fleft0 (i32.const 16)))

  ;; one pass over the sub-rings, from the one whose turn it is: the first
  ;; receive that got something (or failed), else AGAIN (0 for a batch)
  (func $fpass0 (param $op i32) (param $a i32) (param $b i32) (param $c i32) (result i32)
    (local $tries i32) (local $r i32) (local $k i32) (local $bit i32)
    (block $none (loop $next
      (br_if $none (i32.ge_u (local.get $tries) (i32.const 3)))
      (local.set $k (global.get $fcur0))
      (local.set $bit (i32.shl (i32.const 1) (local.get $k)))
      (if (i32.eqz (i32.and (global.get $fended0) (local.get $bit))) (then
        (local.set $r (call $fk0 (local.get $op) (local.get $k) (local.get $a) (local.get $b)
          (select (select (global.get $fleft0) (local.get $c)
                          (i32.lt_u (global.get $fleft0) (local.get $c)))
                  (local.get $c) (i32.eq (local.get $op) (i32.const 1)))))
        (if (i32.and (i32.eq (local.get $op) (i32.const 1))
                     (i32.gt_s (local.get $r) (i32.const 0)))
          (then
            (global.set $fleft0 (i32.sub (global.get $fleft0) (local.get $r)))
            (if (i32.le_s (global.get $fleft0) (i32.const 0)) (then (call $fnext0)))
            (return (local.get $r))))
        (if (i32.and (i32.ne (local.get $op) (i32.const 1))
                     (i32.ge_s (local.get $r) (i32.const 0)))
          (then
            (global.set $fleft0 (i32.sub (global.get $fleft0) (i32.const 1)))
            (if (i32.le_s (global.get $fleft0) (i32.const 0)) (then (call $fnext0)))
            (return (local.get $r))))
        (if (i32.eq (local.get $r) (i32.const -1))
          (then (global.set $fended0 (i32.or (global.get $fended0) (local.get $bit)))))
        (if (i32.eq (local.get $r) (i32.const -7)) (then
          (global.set $fended0 (i32.or (global.get $fended0) (local.get $bit)))
          (global.set $fbroken0 (i32.or (global.get $fbroken0) (local.get $bit)))))
        (if (i32.and (i32.lt_s (local.get $r) (i32.const 0))
              (i32.and (i32.ne (local.get $r) (i32.const -2))
                (i32.and (i32.ne (local.get $r) (i32.const -1))
                         (i32.ne (local.get $r) (i32.const -7)))))
          (then (return (local.get $r))))))  ;; CORRUPT, TRUNCATED, YIELD: at once
      (call $fnext0)
      (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
      (br $next)))
    (select (i32.const 0) (i32.const -2) (i32.eq (local.get $op) (i32.const 1))))

  ;; every receive, blocking or not, of the fan-in handle
  (func $ftake0 (param $block i32) (param $op i32) (param $a i32) (param $b i32) (param $c i32)
    (result i32) (local $r i32) (local $spin i32) (local $pt i64)
    (call $fcommit0)
    (local.set $pt (i64.const 50000000))
    (loop $round
      (local.set $r (call $fpass0 (local.get $op) (local.get $a) (local.get $b) (local.get $c)))
      (if (i32.and (i32.ne (local.get $r) (i32.const -2))
                   (i32.or (i32.ne (local.get $op) (i32.const 1))
                           (i32.ne (local.get $r) (i32.const 0))))
        (then (return (local.get $r))))
      (if (i32.eq (global.get $fended0) (i32.const 7))
        (then (return (select (i32.const -7) (i32.const -1) (global.get $fbroken0)))))
      (if (i32.eqz (local.get $block)) (then (return (local.get $r))))
      (local.set $spin (i32.add (local.get $spin) (i32.const 3)))  ;; rings looked at
      (if (i32.ge_u (local.get $spin) (i32.const 2048)) (then
        (local.set $r (call $fpark0 (local.get $pt)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
        ;; a park that timed out doubles the next one's timeout (an idle spell)
        (local.set $pt (select
          (select (i64.const 3200000000) (i64.shl (local.get $pt) (i64.const 1))
                  (i64.gt_u (i64.shl (local.get $pt) (i64.const 1)) (i64.const 3200000000)))
          (i64.const 50000000) (i32.eq (local.get $r) (i32.const 2))))))
      (br $round))
    (unreachable))

  ;; park once on the bell for every sub-ring still open: 1 if news came, 2 if
  ;; the park timed out, or YIELD
  ;; SYNC POINT with $publish in the writers' adapters and RingControl.wake_reader:
  ;; every live sub-ring's reader_waiting is stored, then seq is read, then head
  (func $fpark0 (param $pt i64) (result i32) (local $seq i32) (local $r i32)
    (call $fflags0 (i32.const 1))
    (local.set $seq (i32.atomic.load 6 offset=0 (i32.const 64)))
    (local.set $r (call $fready0))
    (if (local.get $r) (then
      (call $fflags0 (i32.const 0))
      (return (select (local.get $r) (i32.const 1) (i32.lt_s (local.get $r) (i32.const 0))))))
    (i64.store 6 offset=8 (i32.const 64)
      (i64.add (i64.load 6 offset=8 (i32.const 64)) (i64.const 1)))
    (local.set $r (memory.atomic.wait32 6 offset=0 (i32.const 64)
      (local.get $seq) (local.get $pt)))
    (call $fflags0 (i32.const 0))
    (select (i32.const 2) (i32.const 1) (i32.eq (local.get $r) (i32.const 2))))
  (func $fk0 (param $op i32) (param $k i32) (param $a i32) (param $b i32) (param $c i32) (result i32)
    (if (i32.eq (local.get $k) (i32.const 0)) (then
      (if (i32.eq (local.get $op) (i32.const 1)) (then (return
        (call $recv_batch1 (i32.const 0) (local.get $a) (local.get $b) (local.get $c)))))
      (if (i32.eq (local.get $op) (i32.const 2)) (then (return
        (call $recv_raw1 (i32.const 0) (local.get $a)))))
      (return (call $recv1 (i32.const 0) (local.get $a) (local.get $b)))))
    (if (i32.eq (local.get $k) (i32.const 1)) (then
      (if (i32.eq (local.get $op) (i32.const 1)) (then (return
        (call $recv_batch2 (i32.const 0) (local.get $a) (local.get $b) (local.get $c)))))
      (if (i32.eq (local.get $op) (i32.const 2)) (then (return
        (call $recv_raw2 (i32.const 0) (local.get $a)))))
      (return (call $recv2 (i32.const 0) (local.get $a) (local.get $b)))))
    (if (i32.eq (local.get $k) (i32.const 2)) (then
      (if (i32.eq (local.get $op) (i32.const 1)) (then (return
        (call $recv_batch3 (i32.const 0) (local.get $a) (local.get $b) (local.get $c)))))
      (if (i32.eq (local.get $op) (i32.const 2)) (then (return
        (call $recv_raw3 (i32.const 0) (local.get $a)))))
      (return (call $recv3 (i32.const 0) (local.get $a) (local.get $b)))))
    (unreachable))
  (func $fcommit0
    (drop (call $commit_op1))
    (drop (call $commit_op2))
    (drop (call $commit_op3))
  )
  (func $fflags0 (param $v i32)
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 1))) (then (call $wa_flag1 (local.get $v))))
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 2))) (then (call $wa_flag2 (local.get $v))))
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 4))) (then (call $wa_flag3 (local.get $v))))
  )
  ;; 1 if a live sub-ring has a message, or every one ended; or YIELD
  (func $fready0 (result i32) (local $r i32)
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 1))) (then
      (local.set $r (call $wa_poll1))
      (if (local.get $r) (then (return (local.get $r))))))
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 2))) (then
      (local.set $r (call $wa_poll2))
      (if (local.get $r) (then (return (local.get $r))))))
    (if (i32.eqz (i32.and (global.get $fended0) (i32.const 4))) (then
      (local.set $r (call $wa_poll3))
      (if (local.get $r) (then (return (local.get $r))))))
    (i32.eq (global.get $fended0) (i32.const 7)))
  (func $recvf0 (param $block i32) (param $ptr i32) (param $cap i32) (result i32)
    (call $ftake0 (local.get $block) (i32.const 0) (local.get $ptr) (local.get $cap) (i32.const 0)))
  (func $recv_batchf0 (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32) (result i32)
    (call $ftake0 (local.get $block) (i32.const 1) (local.get $ptr) (local.get $cap) (local.get $max)))
  (func $recv_rawf0 (param $block i32) (param $at i32) (result i32)
    (call $ftake0 (local.get $block) (i32.const 2) (local.get $at) (i32.const 0) (i32.const 0)))
  (func $commit_opf0 (result i32) (call $fcommit0) (i32.const 0))
  (func $close_endf0 (result i32)
    (drop (call $close_end1))
    (drop (call $close_end2))
    (drop (call $close_end3))
    (i32.const 0))
  (func $wa_pollf0 (result i32) (call $fready0))
  (func $wa_flagf0 (param $v i32) (call $fflags0 (local.get $v)))
  (func $wa_poll (param $h i32) (result i32)
    (if (i32.eq (local.get $h) (i32.const 0)) (then (return (call $wa_pollf0))))
    (if (i32.eq (local.get $h) (i32.const 1)) (then (return (call $wa_poll4))))
    (if (i32.eq (local.get $h) (i32.const 2)) (then (return (call $wa_poll5))))
    (i32.const 0))
  (func $wa_flag (param $h i32) (param $v i32)
    (if (i32.eq (local.get $h) (i32.const 0)) (then (call $wa_flagf0 (local.get $v))))
    (if (i32.eq (local.get $h) (i32.const 1)) (then (call $wa_flag4 (local.get $v))))
    (if (i32.eq (local.get $h) (i32.const 2)) (then (call $wa_flag5 (local.get $v))))
  )

  (global $wa_spin (mut i32) (i32.const 2048))

  ;; one look at every end of the set: the mask of the ready ones, or YIELD
  (func $wa_scan (param $set i32) (param $count i32) (result i32)
    (local $i i32) (local $mask i32) (local $r i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $r (call $wa_poll
        (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2))))))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (local.get $r) (then (local.set $mask
        (i32.or (local.get $mask) (i32.shl (i32.const 1) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (local.get $mask))

  ;; store (or clear) the waiting flag of every end of the set
  (func $wa_flags (param $set i32) (param $count i32) (param $v i32) (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (call $wa_flag (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2))))
                     (local.get $v))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))

  ;; 0 unless 1 <= count <= 31 and every handle names an end of this
  ;; service; else 1, or 2 if a write end is among them (its parks stay short:
  ;; a reader wakes a parked writer only once the ring is half empty)
  (func $wa_valid (param $set i32) (param $count i32) (result i32)
    (local $i i32) (local $h i32) (local $w i32)
    (if (i32.or (i32.eqz (local.get $count)) (i32.gt_u (local.get $count) (i32.const 31)))
      (then (return (i32.const 0))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $h (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2)))))
      (if (i32.ge_u (local.get $h) (i32.const 3)) (then (return (i32.const 0))))
      (if (i32.or (i32.ge_u (local.get $h) (i32.const 32))
                  (i32.and (i32.shr_u (i32.const 4) (local.get $h)) (i32.const 1)))
        (then (local.set $w (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.add (i32.const 1) (local.get $w)))

  (func (export "wait_any") (param $set i32) (param $count i32) (param $ms i32) (result i32)
    (local $r i32) (local $i i32) (local $seq i32) (local $left i64) (local $pt i64) (local $t i64)
    (local $max i64)
    (local.set $r (call $wa_valid (local.get $set) (local.get $count)))
    (if (i32.eqz (local.get $r)) (then (return (i32.const -5))))
    (local.set $max (select (i64.const 50000000) (i64.const 3200000000)
                            (i32.eq (local.get $r) (i32.const 2))))
    (local.set $left (i64.mul (i64.extend_i32_s (local.get $ms)) (i64.const 1000000)))
    (local.set $pt (i64.const 50000000))
    (local.set $i (global.get $wa_spin))
    (loop $spin
      (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
      (if (local.get $r) (then (return (local.get $r))))
      (if (i32.eqz (local.get $ms)) (then (return (i32.const -2))))
      ;; the budget counts ends looked at, so a spin lasts what one end's would
      (local.set $i (i32.sub (local.get $i) (local.get $count)))
      (br_if $spin (i32.gt_s (local.get $i) (i32.const 0))))
    (loop $park
      ;; SYNC POINT with $publish and $commit in the peers' adapters, and
      ;; RingControl.wake_* on the host: every end's waiting flag is stored, then
      ;; seq is read, then the counters are re-read; a peer stores its counter,
      ;; reads the flag, then rings (bumps seq, notifies)
      (call $wa_flags (local.get $set) (local.get $count) (i32.const 1))
      (local.set $seq (i32.atomic.load 6 offset=0 (i32.const 64)))
      (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
      (if (local.get $r) (then
        (call $wa_flags (local.get $set) (local.get $count) (i32.const 0))
        (return (local.get $r))))
      (local.set $t (local.get $pt))
      (if (i32.and (i32.ge_s (local.get $ms) (i32.const 0))
                   (i64.lt_s (local.get $left) (local.get $t)))
        (then (local.set $t (local.get $left))))
      (i64.store 6 offset=8 (i32.const 64)
        (i64.add (i64.load 6 offset=8 (i32.const 64)) (i64.const 1)))
      (local.set $r (memory.atomic.wait32 6 offset=0 (i32.const 64)
        (local.get $seq) (local.get $t)))
      (call $wa_flags (local.get $set) (local.get $count) (i32.const 0))
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $left (i64.sub (local.get $left) (local.get $t)))
          (if (i32.and (i32.ge_s (local.get $ms) (i32.const 0))
                       (i64.le_s (local.get $left) (i64.const 0)))
            (then  ;; one last look, then the timeout
              (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
              (return (select (local.get $r) (i32.const -2) (local.get $r)))))
          (local.set $pt (select (local.get $max) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (i64.shl (local.get $pt) (i64.const 1))
                                           (local.get $max))))
          (global.set $wa_spin (select (i32.const 64)
                (i32.shr_u (global.get $wa_spin) (i32.const 1))
                (i32.lt_u (global.get $wa_spin) (i32.const 128)))))
        (else
          (local.set $pt (i64.const 50000000))
          (global.set $wa_spin (select (i32.const 65536)
                (i32.shl (global.get $wa_spin) (i32.const 1))
                (i32.gt_u (global.get $wa_spin) (i32.const 32768))))))
      (br $park))
    (unreachable))
  (func (export "commit_all")
    (drop (call $commit_op1))
    (drop (call $commit_op2))
    (drop (call $commit_op3))
    (drop (call $commit_op4))
  )
  (global $asked_ptr (export "asked_ptr") (mut i32) (i32.const 0))
  (global $asked_len (export "asked_len") (mut i32) (i32.const -1))
  (func (export "tunnel") (param i32 i32) (result i32)
    (if (call $name_is1 (local.get 0) (local.get 1)) (then (return (i32.const 0))))
    (if (call $name_is4 (local.get 0) (local.get 1)) (then (return (i32.const 1))))
    (if (call $name_is5 (local.get 0) (local.get 1)) (then (return (i32.const 2))))
    (global.set $asked_ptr (local.get 0)) (global.set $asked_len (local.get 1))
    (i32.const -5))
)
