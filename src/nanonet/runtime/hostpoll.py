"""The host function behind a service's WASI ``poll_oneoff``.

It is made with the raw C API (``capi.hostfunc``), not ``wasmtime.Func``:
wasmtime-py keeps a Python host function's exception in one module-global
slot and re-raises it after the call, which is unsafe when services call host
functions on several threads at once. This callback never lets an exception
out: a stop, a deadline or a fault of its own becomes a ``wasm_trap_t`` it
returns itself, and the watchdog's ``cause`` says which.

The sleep is a wait on the service's stop event, so ``Mesh.stop`` ends it at
once, and it never waits past the moment the service's deadline fires.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

import wasmtime

from ..capi.epoch import trap_address
from ..capi.hostfunc import CALLBACK_T, caller_memory, new_func
from . import wasipoll as wp
from .watchdog import Watchdog

MAX_WAIT_SECONDS = 60.0  # one wait never outlasts this; the loop then waits again


def _fits(size: int, ptr: int, length: int, align: int) -> int:
    """ERRNO_SUCCESS if [ptr, ptr+length) lies in memory and ptr is aligned."""
    if ptr + length > size:
        return wp.ERRNO_FAULT
    return wp.ERRNO_INVAL if ptr % align else wp.ERRNO_SUCCESS


class BoundedPoll:
    """One service's ``poll_oneoff``: define ``func(store)`` in its linker."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog
        self.clocks = wp.Clocks(0)  # set by func(), for the store it is made in
        self._callback = CALLBACK_T(self._call)  # lives with us

    def func(self, store: wasmtime.Store, origin_ns: int) -> wasmtime.Func:
        """The host function in ``store``, whose WASI monotonic clock started
        at host time ``origin_ns``."""
        self.clocks = wp.Clocks(origin_ns)
        i32 = wasmtime.ValType.i32()
        ty = wasmtime.FuncType([i32, i32, i32, i32], [i32])
        return new_func(store, ty, self._callback)

    def _call(self, _env: Any, caller: Any, args: Any, _nargs: int, results: Any,
              _nresults: int) -> int:
        try:
            argv = [args[i].of.i32 & 0xFFFFFFFF for i in range(4)]
            outcome = self._poll(caller, *argv)
            if isinstance(outcome, str):
                return self._trap(outcome)
            results[0].kind = 0  # WASMTIME_I32
            results[0].of.i32 = outcome
            return 0
        except BaseException as exc:  # never out of a host call: see the module docstring
            return self._trap(f"poll_oneoff failed in the host: {exc}")

    def _trap(self, cause: str) -> int:
        self.watchdog.cause = cause
        return trap_address(f"nanonet: {cause}")

    def _poll(self, caller: Any, sub_ptr: int, out_ptr: int, count: int,
              nout_ptr: int) -> int | str:
        """An errno, or the cause to trap with."""
        memory = caller_memory(caller)
        if memory is None:
            return "poll_oneoff needs the guest to export its memory as 'memory'"
        base, size = memory
        for ptr, length, align in ((sub_ptr, count * wp.SUB_SIZE, wp.SUB_ALIGN),
                                   (out_ptr, count * wp.EVENT_SIZE, wp.EVENT_ALIGN),
                                   (nout_ptr, 4, 4)):
            errno = _fits(size, ptr, length, align)
            if errno:
                return errno
        subs = wp.parse(ctypes.string_at(base + sub_ptr, count * wp.SUB_SIZE), count)
        start = time.monotonic_ns()
        while True:
            step = wp.plan(subs, self.clocks, start, time.monotonic_ns())
            if step.errno:
                return step.errno
            if step.events:
                break
            stop = self._wait(step.wake_ns)
            if stop is not None:
                return stop
        data = b"".join(step.events)
        ctypes.memmove(base + out_ptr, data, len(data))
        ctypes.memmove(base + nout_ptr, len(step.events).to_bytes(4, "little"), 4)
        return wp.ERRNO_SUCCESS

    def _wait(self, wake_ns: int | None) -> str | None:
        """Sleep until ``wake_ns``, the deadline or a stop; the trap cause if
        the service must end. The guest's clock is the host's; the deadline
        is on the watchdog's clock."""
        seconds = MAX_WAIT_SECONDS
        if wake_ns is not None:
            seconds = min(seconds, wake_ns / 1e9 - time.monotonic())
        fires = self.watchdog.deadline_at()
        if fires is not None:
            left = fires - self.watchdog.now()
            if left <= 0:
                return self.watchdog.deadline_cause()
            seconds = min(seconds, left)
        if self.watchdog.wait_stop(max(0.0, seconds)):
            return Watchdog.STOPPED
        return None
