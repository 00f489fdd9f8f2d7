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

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import wasmtime
from wasmtime import _ffi as ffi

from ..caps import wasi as wasi_caps
from ..caps.policy import ServicePolicy
from ..errors import GuestTrap, LoadError
from ..ring.adapter import EndSpec, available_ops, compile_adapter, shape
from ..ring.memory import RingMemory
from .engine import Runtime
from .fastlink import LinkPlan
from .lifecycle import Event, State, next_state
from .linking import Linked, check_imports, link, raw_rings, read_pages, shim_wat
from .traps import trap_cause, trap_frames, trap_message
from .watchdog import FINALIZER_T, UNLIMITED_FUEL, Watchdog

ENTRY_POINTS = ("run", "_start")
INTERNAL_INSTANCES = 2  # the adapter and, for guests that export memory, the shim
PAGE = 65536

# link plans per (guest module, adapter module, grants); modules live as long
# as the Runtime's cache, so their ids are stable keys
_PLANS: dict[tuple[object, ...], LinkPlan] = {}
_ADAPTERS: dict[tuple[object, ...], wasmtime.Module] = {}


def adapter_module(rt: Runtime, ends: list[EndSpec], sampling: bool = False) -> wasmtime.Module:
    """The compiled adapter for this shape of tunnel ends."""
    key = (id(rt), sampling, *shape(ends))
    mod = _ADAPTERS.get(key)
    if mod is None:
        mod = _ADAPTERS[key] = compile_adapter(rt, ends, sampling)
    return mod


@dataclass
class ServiceSpec:
    """What a service is: its name, its code, its tunnel ends and its policy."""

    name: str
    wasm: bytes
    ends: list[EndSpec] = field(default_factory=list)
    entry: str | None = None
    policy: ServicePolicy = field(default_factory=ServicePolicy)
    sampling: bool = False  # adapters stamp 1 message in 1024 for latency histograms


class Service:
    """A loaded service: instantiated at creation, run on ``start``.

    After a trap, a service whose restart policy allows it waits its back-off,
    is instantiated afresh in a new store on the same rings (its reader ends
    re-attach at the committed tail, its writer ends at the published head),
    and runs again; the other services never stop.
    """

    def __init__(self, rt: Runtime, spec: ServiceSpec, rings: Sequence[RingMemory]) -> None:
        self.spec = spec
        self.name = spec.name
        self.state = State.CREATED
        self.error: GuestTrap | None = None
        self.traps: list[GuestTrap] = []
        self.restarts = 0
        self.exit_code: int | None = None
        self.load_seconds = 0.0
        self._rt = rt
        self._rings = list(rings)
        limits = spec.policy.limits
        self.watchdog = Watchdog(spec.ends, self._rings, limits.deadline_ms, limits.fuel_per_tick)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self.linked = self._load()

    # -- loading ---------------------------------------------------------
    def _load(self) -> Linked:
        t0 = time.perf_counter()
        guest = self._compile()
        adapter = adapter_module(self._rt, self.spec.ends, self.spec.sampling)
        self.store = self._new_store()
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

    def _new_store(self) -> wasmtime.Store:
        """A store with this service's limits, fuel and epoch callback."""
        store = wasmtime.Store(self._rt.engine)
        limits = self.spec.policy.limits
        if limits.memory_bytes is not None or limits.instances is not None:
            instances = -1 if limits.instances is None else limits.instances + INTERNAL_INSTANCES
            memory = -1 if limits.memory_bytes is None else limits.memory_bytes
            # the cap is per linear memory: allow the guest one (and a sampling
            # adapter its own), so that the cap bounds all of them together
            memories = -1 if limits.memory_bytes is None else 1 + int(self.spec.sampling)
            store.set_limits(memory_size=memory, instances=instances, memories=memories)
        if self._rt.fuel:
            store.set_fuel(limits.fuel_per_tick or UNLIMITED_FUEL)
        store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), self.watchdog.callback, None, FINALIZER_T())
        return store

    def _link(self, guest: wasmtime.Module, adapter: wasmtime.Module,
              rings: list[wasmtime.SharedMemory]) -> Linked:
        """The fast raw path when no WASI is granted, else the Linker path."""
        grants = self.spec.policy.grants
        raw = raw_rings(self.spec.ends, grants)  # tunnel -> ring index, for nanonet:raw
        key = (id(guest), id(adapter), grants, tuple(raw.items()))
        plan = _PLANS.get(key)
        if plan is None:
            ops = frozenset([*available_ops(self.spec.ends), "tunnel"])
            if check_imports(self.name, guest, grants, ops, read_pages(self.spec.ends),
                             self.spec.wasm):
                return link(self._rt, self.store, guest, adapter, rings, wasi=grants,
                            raw={t: rings[i] for t, i in raw.items()}, clock=self._clock())
            plan = LinkPlan.build(guest, adapter, self._rt.module(shim_wat()), raw)
            _PLANS[key] = plan
        return plan.instantiate(self.store, rings, self._clock())

    def _clock(self) -> wasmtime.Func | None:
        """WASI's clock for a sampling adapter; the store's WASI context holds
        only what the grants say (the adapter's clock is not the guest's)."""
        if not self.spec.sampling:
            return None
        self.store.set_wasi(wasi_caps.config(self.spec.policy.grants))
        return self._rt.wasi_clock(self.store)

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
    def _event(self, event: Event) -> None:
        with self._lock:
            self.state = next_state(self.state, event)

    def start(self) -> None:
        """Run the entry function on a thread of the service's own."""
        self._event(Event.START)
        self.watchdog.rearm()
        self._thread = threading.Thread(target=self._run, name=f"nanonet:{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._run_once() and self._restart():
            pass

    def _run_once(self) -> bool:
        """Run the entry once; True if it trapped (and may be restarted)."""
        try:
            result = self._entry(self.store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            return self._on_trap(exc)
        self.exit_code = result if isinstance(result, int) else 0
        self._commit_all()
        self._event(Event.RETURN)
        return False

    def _commit_all(self) -> None:
        """A service that returned has finished with what it received: commit it."""
        commit = self.linked.adapter.exports(self.store).get("commit_all")
        if isinstance(commit, wasmtime.Func):
            commit(self.store)

    def _on_trap(self, exc: Exception) -> bool:
        if self.watchdog.stop_requested:
            self._event(Event.STOP)
            return False
        cause = trap_cause(exc, self.watchdog.cause, self._memory_at_cap())
        self.error = GuestTrap(self.name, trap_message(exc), trap_frames(exc), cause)
        self.traps.append(self.error)
        self._event(Event.TRAP)
        return True

    def _memory_at_cap(self) -> bool:
        cap = self.spec.policy.limits.memory_bytes
        if cap is None:
            return False
        return int(self.linked.memory.data_len(self.store)) + PAGE > cap

    def _restart(self) -> bool:
        """Wait the back-off and reload; False if the policy (or a stop) says no."""
        policy = self.spec.policy.restart
        if not policy.restarts:
            return False  # it stays TRAPPED
        if self.restarts >= policy.max_restarts:
            self._event(Event.GIVE_UP)
            return False
        self._event(Event.RESTART)
        if (self._stopping or self._wake.wait(policy.delay(self.restarts))
                or self.watchdog.stop_requested):
            self._event(Event.STOP)
            return False
        self.restarts += 1
        self.linked = self._load()
        self.watchdog.rearm()
        self._event(Event.RESUME)
        return True

    def stop_restarting(self) -> None:
        """No restart from now on (the mesh is stopping); cut a back-off short."""
        self._stopping = True
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the epoch callback to end this service at its next check."""
        self.watchdog.stop_requested = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def refresh_state(self) -> State:
        """RUNNING or PARKED, from the waiting flags of its rings; else as is."""
        if self.state in (State.RUNNING, State.PARKED):
            self._event(Event.PARK if self.watchdog.parked() else Event.WAKE)
        return self.state

    def memory_bytes(self) -> int:
        return int(self.linked.memory.data_len(self.store))
