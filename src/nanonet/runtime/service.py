"""A service: one guest + its adapter, in its own Store, on its own thread.

The thread enters Wasm once, through the guest's entry export, and stays
there: waiting happens inside Wasm (``memory.atomic.wait32``), and ctypes
releases the GIL for the whole call, so services run truly in parallel.
Stopping is cooperative first (the mesh closes the tunnels, and the adapter
returns ``CLOSED``), then forced: every store has an epoch deadline one tick
ahead, and its deadline callback traps the store only if that service was
asked to stop, so one mesh's stop never touches another's services.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi

from ..errors import Frame, GuestTrap, LoadError
from ..ring.adapter import EndSpec, adapter_wat, available_ops, shape
from ..ring.memory import RingMemory
from .engine import Runtime
from .fastlink import LinkPlan
from .lifecycle import Event, State, next_state
from .linking import Linked, check_imports, link, shim_wat

ENTRY_POINTS = ("run", "_start")
STOP_MESSAGE = b"nanonet: service stopped by the host"

# link plans per (guest module, adapter module, grants); modules live as long
# as the Runtime's cache, so their ids are stable keys
_PLANS: dict[tuple[int, int, frozenset[str]], LinkPlan] = {}
_ADAPTERS: dict[tuple[object, ...], wasmtime.Module] = {}


def adapter_module(rt: Runtime, ends: list[EndSpec]) -> wasmtime.Module:
    """The compiled adapter for this shape of tunnel ends."""
    key = (id(rt), *shape(ends))
    mod = _ADAPTERS.get(key)
    if mod is None:
        mod = _ADAPTERS[key] = rt.module(adapter_wat(ends))
    return mod


_CALLBACK_T = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[1]
_FINALIZER_T = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[3]


@dataclass
class ServiceSpec:
    """What a service is: its name, its code and the tunnel ends it holds."""

    name: str
    wasm: bytes
    ends: list[EndSpec] = field(default_factory=list)
    entry: str | None = None
    grants: frozenset[str] = frozenset()


def _frames(trap: wasmtime.Trap) -> tuple[Frame, ...]:
    return tuple(Frame(f.module_name, f.func_name, f.module_offset) for f in trap.frames or [])


class Service:
    """A loaded service: instantiated on ``load``, run on ``start``."""

    def __init__(self, rt: Runtime, spec: ServiceSpec, rings: Sequence[RingMemory]) -> None:
        self.spec = spec
        self.name = spec.name
        self.state = State.CREATED
        self.error: GuestTrap | None = None
        self.exit_code: int | None = None
        self.load_seconds = 0.0
        self._rt = rt
        self._rings = list(rings)
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._callback = _CALLBACK_T(self._on_epoch)  # kept alive with the service
        self.linked = self._load()

    # -- loading ---------------------------------------------------------
    def _load(self) -> Linked:
        t0 = time.perf_counter()
        guest = self._compile()
        adapter = adapter_module(self._rt, self.spec.ends)
        self.store = wasmtime.Store(self._rt.engine)
        self.store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(
            self.store.ptr(), self._callback, None, _FINALIZER_T())
        rings = [r.shared for r in self._rings]
        try:
            linked = self._link(guest, adapter, rings)
        except wasmtime.Trap as trap:
            raise LoadError(f"service {self.name!r} trapped while instantiating: {trap}") from trap
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"service {self.name!r} cannot be linked: {err}") from err
        self._entry = self._find_entry(linked)
        self.load_seconds = time.perf_counter() - t0
        return linked

    def _link(self, guest: wasmtime.Module, adapter: wasmtime.Module,
              rings: list[wasmtime.SharedMemory]) -> Linked:
        """The fast raw path when no WASI is granted, else the Linker path."""
        key = (id(guest), id(adapter), self.spec.grants)
        plan = _PLANS.get(key)
        if plan is None:
            ops = frozenset([*available_ops(self.spec.ends), "tunnel"])
            wasi = check_imports(self.name, guest, self.spec.grants, ops)
            if wasi:
                return link(self._rt, self.store, guest, adapter, rings, wasi=True)
            plan = LinkPlan.build(guest, adapter, self._rt.module(shim_wat()))
            _PLANS[key] = plan
        return plan.instantiate(self.store, rings)

    def _compile(self) -> wasmtime.Module:
        try:
            return self._rt.module(self.spec.wasm)
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"service {self.name!r}: not a valid Wasm module: {err}") from err

    def _find_entry(self, linked: Linked) -> wasmtime.Func:
        exports = linked.guest.exports(self.store)
        names = (self.spec.entry,) if self.spec.entry else ENTRY_POINTS
        for name in names:
            func = exports.get(name)
            if isinstance(func, wasmtime.Func):
                return func
        raise LoadError(f"service {self.name!r} exports no entry function "
                        f"(looked for {', '.join(names)}): export one, or set entry=")

    # -- running ---------------------------------------------------------
    def _on_epoch(self, _ctx: object, _data: object, delta: ctypes._Pointer[ctypes.c_uint64],
                  kind: ctypes._Pointer[ctypes.c_uint8]) -> int:
        """Epoch deadline reached: trap if this service must stop, else go on."""
        if self._stop_requested:
            err = ffi.wasmtime_error_new(STOP_MESSAGE)
            return ctypes.cast(err, ctypes.c_void_p).value or 0
        delta[0] = 1
        kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
        return 0

    def _event(self, event: Event) -> None:
        with self._lock:
            self.state = next_state(self.state, event)

    def start(self) -> None:
        """Run the entry function on a thread of the service's own."""
        self._event(Event.START)
        self._thread = threading.Thread(target=self._run, name=f"nanonet:{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = self._entry(self.store)
            self.exit_code = result if isinstance(result, int) else 0
            self._commit_all()
            self._event(Event.RETURN)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            self._on_trap(exc)

    def _commit_all(self) -> None:
        """A service that returned has finished with what it received: commit it."""
        commit = self.linked.adapter.exports(self.store).get("commit_all")
        if isinstance(commit, wasmtime.Func):
            commit(self.store)

    def _on_trap(self, exc: Exception) -> None:
        if self._stop_requested:
            self._event(Event.STOP)
            return
        frames = _frames(exc) if isinstance(exc, wasmtime.Trap) else ()
        message = exc.message if isinstance(exc, wasmtime.Trap) else str(exc)
        self.error = GuestTrap(self.name, message, frames)
        self._event(Event.TRAP)

    def request_stop(self) -> None:
        """Ask the epoch callback to end this service at its next check."""
        self._stop_requested = True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def memory_bytes(self) -> int:
        return int(self.linked.memory.data_len(self.store))
