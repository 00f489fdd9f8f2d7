"""The Wasm floor under nanonet's W1: two instances ping-ponging on raw atomics.

Two stores on two threads share one memory; the pinger stores a counter and
spins until the echo stores it back. No adapter, no slot, no checks: what is
left is Wasm's atomics, the cross-core cache-line transfers, and one WASI
clock read per round (as nanonet's pinger does). Compare its p50 with
`nanonet bench --only w1 --transports nanonet,c-ring` run right after: the
difference between this and the nanonet row is the adapter's own cost.

    .venv/bin/python scripts/wasm_floor.py [ROUNDS]
"""

from __future__ import annotations

import struct
import sys
import threading

import wasmtime

from nanonet.host.engine import runtime

WAT = """(module
  (import "env" "m" (memory 1 1 shared))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (memory $own (export "memory") 40)
  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))
    (i64.load $own (i32.const 0)))
  ;; the counter goes out on one cache line (64) and comes back on another (128)
  (func (export "ping") (param $n i32) (local $i i32) (local $t0 i64) (local $t1 i64)
    (local.set $t0 (call $now))
    (loop $round
      (i32.atomic.store 0 offset=64 (i32.const 0) (i32.add (local.get $i) (i32.const 1)))
      (loop $wait (br_if $wait (i32.ne (i32.atomic.load 0 offset=128 (i32.const 0))
                                       (i32.add (local.get $i) (i32.const 1)))))
      (local.set $t1 (call $now))
      (i32.store $own offset=64 (i32.shl (local.get $i) (i32.const 2))
        (i32.wrap_i64 (i64.sub (local.get $t1) (local.get $t0))))
      (local.set $t0 (local.get $t1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $i) (local.get $n)))))
  (func (export "echo") (param $n i32) (local $i i32)
    (loop $round
      (loop $wait (br_if $wait (i32.ne (i32.atomic.load 0 offset=64 (i32.const 0))
                                       (i32.add (local.get $i) (i32.const 1)))))
      (i32.atomic.store 0 offset=128 (i32.const 0) (i32.add (local.get $i) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $i) (local.get $n)))))
)"""


def _instance(engine: wasmtime.Engine, module: wasmtime.Module,
              shared: wasmtime.SharedMemory) -> tuple[wasmtime.Store, wasmtime.Instance]:
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1 << 62)
    store.set_wasi(wasmtime.WasiConfig())
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    linker.define(store, "env", "m", shared)
    return store, linker.instantiate(store, module)


def main(rounds: int) -> None:
    engine = runtime().engine
    module = wasmtime.Module(engine, WAT)
    ty = wasmtime.MemoryType(wasmtime.Limits(1, 1), shared=True)
    shared = wasmtime.SharedMemory(engine, ty)
    (s1, ping), (s2, echo) = _instance(engine, module, shared), _instance(engine, module, shared)
    peer = threading.Thread(target=lambda: echo.exports(s2)["echo"](s2, rounds))  # type: ignore[operator]
    peer.start()
    ping.exports(s1)["ping"](s1, rounds)  # type: ignore[operator]
    peer.join()
    memory = ping.exports(s1)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    rtt = sorted(struct.unpack(f"<{rounds}I", memory.read(s1, 64, 64 + 4 * rounds))[rounds // 20:])
    p = lambda q: rtt[int(len(rtt) * q)] / 2  # noqa: E731
    print(f"raw Wasm atomics, one-way (RTT/2): p50 {p(0.5):.0f} ns, p99 {p(0.99):.0f} ns "
          f"over {len(rtt):,} rounds")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
