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

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import wasmtime

from ..capi.call import call_plain, plain_results
from ..capi.epoch import install_epoch_callback
from ..capi.instance import export_of
from ..capi.store import new_store
from ..errors import GuestTrap, InternalError, LifecycleError, LoadError, NanonetError, WrongType
from ..host.clock import Signal
from ..host.engine import Runtime
from ..host.traps import OffsetMap, TrapLog, trap_cause, trap_frames, trap_message
from ..policy import wasi as wasi_caps
from ..policy.policy import NO_GRANTS, ServicePolicy
from ..ring import layout as L
from ..ring import portlayout as P
from ..ring.adapter import Direction, EndSpec, available_ops, compile_adapter, shape
from ..ring.bell import BellPlan
from ..ring.control import BreakInfo, RingControl
from ..ring.endpoint import TunnelWriter
from ..ring.memory import RingMemory
from ..ring.port import Port
from ..ring.port_template import PortEnd, port_ops
from ..ring.sublines import free_line
from . import asked
from .budget import Budget, GuestShape, Holdings, budget, guest_shape, holdings
from .deadletter import DeadLetterReport, Redeliveries
from .fastlink import LinkPlan
from .growwatch import REFUSED, watched
from .hostpoll import BoundedPoll
from .lifecycle import Event, State, next_state, observed
from .linking import (
    OPS,
    WAIT_ANY,
    Linked,
    check_imports,
    link,
    memory_import,
    raw_rings,
    read_pages,
    shim_wat,
)
from .memimport import importing
from .restarts import RestartBudget
from .startfn import START_EXPORT, prepare
from .supervisor import Outcome, Supervisor
from .upgrade import Request
from .watchdog import UNLIMITED_FUEL, PortMarks, Watchdog

ENTRY_POINTS = ("run", "_start")
INTERNAL_INSTANCES = 2  # the adapter and, for guests that export memory, the shim

_SHAPES: dict[wasmtime.Module, GuestShape] = {}  # each guest module: its memories, tables
# each (guest module, entry= given): the entry export it has and how its results are read
_ENTRIES: dict[tuple[wasmtime.Module, str | None], tuple[str, int | None] | None] = {}


def entry_of(guest: wasmtime.Module, entry: str | None) -> tuple[str, int | None] | None:
    """The name of the guest's entry function (``entry``, else the first of
    ``ENTRY_POINTS`` it exports as a function) and ``plain_results`` of it;
    None if it has none. Read from the module's types once per module, so a
    service's load looks up one export, not every candidate."""
    key = (guest, entry)
    if key not in _ENTRIES:
        funcs = {e.name for e in guest.exports if isinstance(e.type, wasmtime.FuncType)}
        name = next((n for n in ((entry,) if entry else ENTRY_POINTS) if n in funcs), None)
        _ENTRIES[key] = None if name is None else (name, plain_results(guest, name))
    return _ENTRIES[key]


def adapter_module(rt: Runtime, ends: list[EndSpec], sampling: bool = False,
                   ends_shape: tuple[object, ...] | None = None,
                   ports: tuple[PortEnd, ...] = (),
                   bells: BellPlan | None = None) -> wasmtime.Module:
    """The compiled adapter for this shape of tunnel ends (``ends_shape``:
    ``shape(ends)``, if the caller has it already), of port ends and of bells."""
    shapes = tuple(p.shape for p in ports)
    key = (sampling, *(shape(ends) if ends_shape is None else ends_shape), *shapes)
    if bells is not None:
        key = (*key, bells)
    mod = rt.adapters.get(key)
    if mod is None:
        mod = rt.adapters[key] = compile_adapter(rt, ends, sampling, shapes, bells)
    return mod


def port_marks(port: Port, end: PortEnd) -> PortMarks:
    """What the watchdog reads of a port end: a server's taken and parks
    counters, a client's calls counter."""
    if end.shape.role == "server":
        return port.memory, (P.OFF_TAKEN, P.OFF_SERVER_PARKS)
    return port.memory, (port.geometry.box(end.shape.box) + P.BOX_CALLS,)


@dataclass
class ServiceSpec:
    """What a service is: its name, its code, its tunnel ends and its policy."""

    name: str
    wasm: bytes
    ends: list[EndSpec] = field(default_factory=list)
    entry: str | None = None
    policy: ServicePolicy = field(default_factory=ServicePolicy)
    sampling: bool = False  # adapters stamp 1 message in 1024 for latency histograms
    ports: tuple[PortEnd, ...] = ()  # request/reply port ends (ring/port.py), in handle order
    bells: BellPlan | None = None  # its own bell line and its peers' (ring/bell.py)


class Service:
    """A loaded service: instantiated at creation, run on ``start``.

    After a trap, a service whose restart policy allows it waits its back-off,
    is instantiated afresh in a new store on the same rings (its reader ends
    re-attach at the committed tail, its writer ends at the published head),
    and runs again; the other services never stop.
    """

    # what a new service starts with, kept on the class: immutable values
    # that a thousand services would otherwise each write at creation
    cause: str | None = None  # why it trapped or failed, last first
    outcome: Outcome | None = None  # how its thread ended
    internal_error: InternalError | None = None
    error: GuestTrap | None = None
    restarts = 0
    exit_code: int | None = None
    asked = ""  # after a negative exit: the tunnel name it asked for and lacked
    load_seconds = 0.0
    watched: tuple[bytes, OffsetMap] | None = None
    upgrade_request: Request | None = None  # a hot upgrade in flight (upgrade.py)
    _previous: ServiceSpec | None = None  # the module before the last upgrade
    _poll: BoundedPoll | None = None  # WASI's poll_oneoff, made when WASI is linked
    _thread: threading.Thread | None = None
    _stopping = False
    _has_start = False  # the guest had a start section (now an export)
    _host_memory = False  # its defined memory was moved to an import
    _start: wasmtime.Func | None = None
    _start_results: int | None = None  # set with _start and _entry, at load
    _entry_results: int | None = None
    _closed = False

    def __init__(self, rt: Runtime, spec: ServiceSpec, rings: Sequence[RingMemory],
                 supervisor: Supervisor | None = None, *,
                 controls: Sequence[RingControl] = (),
                 dead_letter: TunnelWriter | None = None,
                 ports: Sequence[Port] = (),
                 bell: wasmtime.SharedMemory | None = None) -> None:
        """``controls``: the rings' control modules, in the order of ``rings``
        (a service gone for good breaks its tunnels through them, and moves
        poison messages aside); ``dead_letter``: the write end of the
        restart policy's dead-letter tunnel."""
        self.spec = spec
        self.name = spec.name
        self.supervisor = supervisor or Supervisor()
        self.clock = self.supervisor.clock
        self.state = State.CREATED  # written only by the service's own thread
        self.trap_log = TrapLog()
        self._rt = rt
        self._rings = tuple(rings)
        self._ports = tuple(ports)  # in the order of spec.ports
        self._bell = bell  # the mesh's bell memory, linked when spec.bells says so
        limits = spec.policy.limits
        self.watchdog = Watchdog(spec.ends, self._rings, limits.deadline_ms, limits.fuel_per_tick,
                                 self.clock, [port_marks(p, e) for p, e in
                                              zip(self._ports, spec.ports, strict=True)])
        self._calls: list[tuple[str, tuple[Any, ...]]] = []  # host calls before start
        self._restart_budget = RestartBudget(spec.policy.restart, self.clock)
        self._started = threading.Lock()  # held until the thread applied START
        self._started.acquire()
        self._wake = Signal()  # cuts a restart's back-off short
        self._controls = tuple(controls)
        reads = [c for c, e in zip(self._controls, spec.ends, strict=False)
                 if e.direction is Direction.READ and e.sub is None]  # no dead letters
        # for a pub-sub subscriber: its tail is in its line, and the others read on
        self.redeliveries = Redeliveries(spec.policy.restart.dead_letter_after, reads,
                                         dead_letter, spec.policy.restart.dead_letter)
        self.linked = self._load()

    # -- loading ---------------------------------------------------------
    def _load(self) -> Linked:
        t0 = time.perf_counter()
        guest = self._compile()
        spec = self.spec
        ends_shape = shape(spec.ends)
        bells = spec.bells if spec.bells and spec.bells.used else None
        raw = raw_rings(spec.ends, spec.policy.grants)  # tunnel -> ring index, for nanonet:raw
        key = self._plan_key(guest, ends_shape, raw)
        plan = self._rt.plans.get(key)  # a plan holds the adapter its key implies
        adapter = plan.adapter if plan is not None else adapter_module(
            self._rt, spec.ends, spec.sampling, ends_shape, spec.ports, bells)
        self._requeue_ports()
        self.shape = self._shape(guest)
        self.store = self._new_store(guest)
        rings = [r.shared for r in self._rings]
        if bells is not None:
            assert self._bell is not None, "a bell plan needs the mesh's bell"
            rings.append(self._bell)  # imported after the rings (ring/waitany.py)
        rings += [p.memory.shared for p in self._ports]  # then the ports
        try:
            linked = (plan.instantiate(self.store, rings, self._clock()) if plan is not None
                      else self._link(guest, adapter, rings, key, raw))
            if self._host_memory:  # linked as if it imported it; it is the guest's export
                linked.style = "exports-memory"
        except wasmtime.Trap as trap:
            raise LoadError(f"service {self.name!r} trapped while instantiating: {trap}") from trap
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"service {self.name!r} cannot be linked: {err}") from err
        self._entry = self._find_entry(linked, guest)
        self.holdings = self._holdings(linked)
        # one assignment, so an observer never pairs these handles with another store
        self._sized = (self.holdings, self.store)
        self.load_seconds = time.perf_counter() - t0
        return linked

    def _requeue_ports(self) -> None:
        """Before an instance of a port's server runs (after a trap, an
        upgrade, a rollback): what the last one took and did not answer is
        posted again, so no accepted call is lost (at least once)."""
        for port, end in zip(self._ports, self.spec.ports, strict=True):
            if end.shape.role == "server":
                port.requeue()

    def _new_store(self, guest: wasmtime.Module) -> wasmtime.Store:
        """A store with this service's limits, fuel and epoch callback."""
        store = new_store(self._rt.engine)
        limits = self.spec.policy.limits
        self.budget = self._budget(guest)
        if self.budget is not None or limits.instances is not None:
            instances = -1 if limits.instances is None else limits.instances + INTERNAL_INSTANCES
            b = self.budget or Budget(-1, -1, -1, -1)
            store.set_limits(memory_size=b.memory, table_elements=b.per_table,
                             instances=instances, tables=b.tables, memories=b.memories)
        if self._rt.fuel:
            store.set_fuel(limits.fuel_per_tick or UNLIMITED_FUEL)
        install_epoch_callback(store, self.watchdog.callback)
        return store

    def _shape(self, guest: wasmtime.Module) -> GuestShape:
        """Its memories and tables, read once per module; without a cap, a module
        whose sections cannot be read still loads (its tables then go uncounted)."""
        shape = _SHAPES.get(guest)
        if shape is None:
            try:
                shape = guest_shape(self.spec.wasm)
            except LoadError:
                if self.spec.policy.limits.memory_bytes is not None:
                    raise
                shape = GuestShape()  # memory_bytes() then counts no guest table
            _SHAPES[guest] = shape
        return shape

    def _budget(self, guest: wasmtime.Module) -> Budget | None:
        """The store limits under which the cap bounds memory and tables together."""
        cap = self.spec.policy.limits.memory_bytes
        if cap is None:
            return None
        shim = () if memory_import(self.name, guest) else (len(OPS),)
        return budget(self.name, cap, self.shape, shim, int(self.spec.sampling))

    def _holdings(self, linked: Linked) -> Holdings:
        own = export_of(self.store, linked.adapter, "memory") if self.spec.sampling else None
        exported = linked.style == "exports-memory"
        shim = len(OPS) if exported and not self._host_memory else 0
        return holdings(self.shape, self.budget, linked.memory,
                        lambda name: export_of(self.store, linked.guest, name),
                        own if isinstance(own, wasmtime.Memory) else None, shim, exported)

    def _plan_key(self, guest: wasmtime.Module, ends_shape: tuple[object, ...],
                  raw: dict[str, int]) -> tuple[object, ...]:
        """What a link plan (and so its adapter) depends on. The compiled
        module stands for its source: the runtime's cache gives one Module per
        source, and the plan holds it, so it outlives the key. No grants at
        all (the usual case) is None, which hashes without a dataclass call."""
        spec, grants = self.spec, self.spec.policy.grants
        bells = spec.bells
        return (guest, spec.sampling, *ends_shape, None if grants is NO_GRANTS else grants,
                tuple(raw.items()), *(p.shape for p in spec.ports),
                *(() if bells is None else (bells,)))

    def _link(self, guest: wasmtime.Module, adapter: wasmtime.Module,
              rings: list[wasmtime.SharedMemory], key: tuple[object, ...],
              raw: dict[str, int]) -> Linked:
        """No plan yet for ``key``: the fast raw path (a plan made now and
        kept) when no WASI is granted, else the Linker path."""
        grants = self.spec.policy.grants
        waits = [WAIT_ANY] if self.spec.bells is not None and self.spec.bells.own is not None \
            else []
        ops = frozenset([*available_ops(self.spec.ends), "tunnel", *waits,
                         *port_ops(tuple(p.shape for p in self.spec.ports))])
        if check_imports(self.name, guest, grants, ops, read_pages(self.spec.ends),
                         self.spec.wasm):
            # poll_oneoff ended by the deadline and stop; kept alive with the service
            self._poll = self._poll or BoundedPoll(self.watchdog)
            return link(self._rt, self.store, guest, adapter, rings, wasi=grants,
                        raw={t: rings[i] for t, i in raw.items()}, clock=self._clock(),
                        poll=self._poll, owner=self.name)
        plan = LinkPlan.build(guest, adapter, self._rt.module(shim_wat()), raw)
        self._rt.plans[key] = plan
        return plan.instantiate(self.store, rings, self._clock())

    def _clock(self) -> wasmtime.Func | None:
        """WASI's clock for a sampling adapter; the store's WASI context holds
        only what the grants say (the adapter's clock is not the guest's)."""
        if not self.spec.sampling:
            return None
        self.store.set_wasi(wasi_caps.config(self.spec.policy.grants, self.name))
        return self._rt.wasi_clock(self.store)

    def _compile(self) -> wasmtime.Module:
        """The guest compiled with its start function moved to an export
        (runtime/startfn.py), so that instantiating it runs no guest code;
        under a memory cap, with its growths watched (runtime/growwatch.py)."""
        self.watched = None
        try:
            prepared = prepare(self.spec.wasm)
            self._has_start = prepared.has_start
            source = prepared.wasm
            if self.spec.policy.limits.memory_bytes is not None:
                self.watched = watched(source)
                source = self.watched[0] if self.watched else source
            given = source
            source = importing(source)  # the host makes its memory: no shim (memimport.py)
            self._host_memory = source is not given
            return self._rt.module(source)
        except LoadError as err:
            raise LoadError(f"service {self.name!r}: {err}") from err
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"service {self.name!r}: not a valid Wasm module: {err}") from err

    def _find_entry(self, linked: Linked, guest: wasmtime.Module) -> wasmtime.Func:
        """The entry function (and the moved start function), each with how
        its results are read if it can be called raw (``capi/call.py``)."""
        start = export_of(self.store, linked.guest, START_EXPORT) if self._has_start else None
        self._start = start if isinstance(start, wasmtime.Func) else None
        self._start_results = plain_results(guest, START_EXPORT) if self._start else None
        found = entry_of(guest, self.spec.entry)
        func = export_of(self.store, linked.guest, found[0]) if found else None
        if isinstance(func, wasmtime.Func):
            self._entry_results = found[1] if found else None
            return func
        names = (self.spec.entry,) if self.spec.entry else ENTRY_POINTS
        raise LoadError(f"service {self.name!r} exports no entry function "
                        f"(looked for {', '.join(names)}): export one, or set entry=")

    def relink_bells(self, bells: BellPlan, bell: wasmtime.SharedMemory | None) -> None:
        """Load again with ``bells`` (a peer began to wait on many; ``bell`` is the
        mesh's bell memory): only before start."""
        if self._thread is not None:
            raise LoadError(f"service {self.name!r} already runs: a service that waits on "
                            "many ends must be added before the services at the other ends "
                            "of its tunnels start")
        self.spec = replace(self.spec, bells=bells)
        self._bell = bell
        self.linked = self._load()
        self._replay()

    # -- host calls ------------------------------------------------------
    def call(self, name: str, *args: Any) -> Any:
        """Call the guest's export ``name`` from the host (control plane, e.g.
        ``configure``) before the service starts or after it ended (never while
        its thread runs: one store, one thread); a trap is a GuestTrap.

        Each call made before start is recorded and made again, with the same
        arguments and in the same order, on every new instance after a
        restart, before its start function and entry run.
        """
        if self.running and threading.current_thread() is not self._thread:
            raise NanonetError(f"service {self.name!r} is running: the host calls its exports "
                               "before mesh.start() or after it ended (one store, one thread)")
        result = self._call_export(name, args)
        if self._thread is None:
            self._calls.append((name, args))
        return result

    def _call_export(self, export: str, args: tuple[Any, ...]) -> Any:
        if self._closed:
            raise NanonetError(f"service {self.name!r} is closed (its mesh was closed): "
                               "call its exports before mesh.close()")
        func = self.linked.guest.exports(self.store).get(export)
        if not isinstance(func, wasmtime.Func):
            raise LoadError(f"service {self.name!r} exports no function {export!r}: export "
                            "it from the guest, or call one it has")
        params = len(func.type(self.store).params)
        try:
            if len(args) != params:
                raise TypeError(f"it takes {params} argument(s), not {len(args)}")
            return func(self.store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            offsets = self.watched[1] if self.watched else None
            raise GuestTrap(self.name, trap_message(exc, offsets), trap_frames(exc, offsets),
                            trap_cause(exc, None, self._grow_refused())) from exc
        except TypeError as err:
            raise WrongType(f"service {self.name!r}: {export}{tuple(args)} does not fit "
                            f"its Wasm signature: {err}") from None

    def _replay(self) -> None:
        """The recorded host calls, on the new instance after a restart."""
        for name, args in self._calls:
            self._call_export(name, args)

    # -- running ---------------------------------------------------------
    def _event(self, event: Event, cause: str | None = None) -> None:
        """Apply one transition; only the service's own thread may."""
        if threading.current_thread() is not self._thread:
            raise LifecycleError(f"service {self.name!r}: {event.value} applied from thread "
                                 f"{threading.current_thread().name!r}, not the service's own")
        before = self.state
        self.state = next_state(before, event)
        if cause is not None:
            self.cause = cause
        self.supervisor.emit(self.name, before, self.state, event, cause)

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> threading.Thread | None:
        """The service's own thread (``nanonet:NAME``), once started: what its CPU time is."""
        return self._thread

    def start(self, wait: bool = True) -> None:
        """Run the entry function on a thread of the service's own (once);
        ``wait``: return once that thread has applied START (RUNNING)."""
        if self._thread is not None:
            raise NanonetError(f"service {self.name!r} is already started: a service runs on "
                               "one thread in one store; start it once")
        self.watchdog.rearm()
        self._thread = threading.Thread(target=self._run, name=f"nanonet:{self.name}", daemon=True)
        try:
            self._thread.start()
        except RuntimeError as exc:  # no thread was made: the service is not started
            self._thread = None
            raise NanonetError(f"service {self.name!r} could not start its thread ({exc}): the "
                               "process is out of threads; run fewer services or raise its "
                               "limits (ulimit -u, the cgroup's pids.max)") from exc
        if wait:
            self.wait_started()

    def wait_started(self) -> None:
        """Wait until the thread has left CREATED (it does so first of all)."""
        with self._started:  # a lock, not an Event: no Condition per service
            pass

    def _run(self) -> None:
        """The thread's body: every way it ends is recorded in ``outcome``."""
        released = False
        try:
            self._event(Event.START)
            self._started.release()
            released = True
            self._restart_budget.running()
            while self._run_once() and self._next_instance():
                pass
        except BaseException as exc:  # nanonet's own fault: surfaced by Mesh.wait/stop
            self._crash(exc)
        finally:
            if not released:  # START itself failed: let the waiter go
                self._started.release()
            self._break_if_gone()

    def _break_if_gone(self) -> None:
        """A service gone for good (TRAPPED with no restart policy, or FAILED)
        breaks every tunnel it held, so that its peers wake and see BROKEN
        instead of waiting for ever; a stop (the mesh closes them) breaks none."""
        if self._stopping or self.watchdog.stop_requested:
            return
        if self.state is State.STOPPED:  # it returned: nobody answers its ports any more
            self._leave_ports()
            return
        if self.state is State.TRAPPED:
            reason, cause = L.Broken.TRAPPED, self.error.cause if self.error else "trapped"
        elif self.state is State.FAILED:
            reason, cause = L.Broken.FAILED, self.cause or "failed"
        else:
            return
        error: BaseException | None = self.internal_error or self.error
        held = [("writer" if end.direction is Direction.WRITE else "reader", control)
                for end, control in zip(self.spec.ends, self._controls, strict=False)
                if end.sub is None]  # a subscriber gone for good only leaves (below)
        for end, control in zip(self.spec.ends, self._controls, strict=False):
            if end.sub is not None:
                free_line(control.ring, end.sub.line)
        sink = self.redeliveries.sink  # its supervisor wrote the dead letters: gone too
        held += [("writer", sink.control)] if sink is not None else []
        for side, control in held:
            with contextlib.suppress(NanonetError):  # its mesh released the ring already
                control.break_(BreakInfo(side, self.name, reason, cause, error))
        self._leave_ports()

    def _leave_ports(self) -> None:
        """Gone for good (or returned): a port it served breaks, its client
        mailboxes go DEAD."""
        for port, end in zip(self._ports, self.spec.ports, strict=True):
            if end.shape.role == "server":
                port.break_()
            else:
                port.mark_dead(end.shape.box)

    def _crash(self, exc: BaseException) -> None:
        err = InternalError(f"nanonet failed while running service {self.name!r}: "
                            f"{type(exc).__name__}: {exc}")
        err.__cause__ = exc
        self.internal_error = err
        self.outcome = Outcome("internal", str(err))
        before, self.state, self.cause = self.state, State.FAILED, str(err)
        self.supervisor.emit(self.name, before, State.FAILED, Event.FAIL, str(err))

    def _run_once(self) -> bool:
        """Run the start function (if any), then the entry; True if either
        trapped (and the service may be restarted)."""
        try:
            if self._start is not None:
                self._call_entry(self._start, self._start_results)
            result = self._call_entry(self._entry, self._entry_results)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            req = self.upgrade_request
            if req is not None and self._upgrading() and req.forced:
                req.by_epoch = True  # the epoch stop was the upgrade's: at least once
                return True
            return self._on_trap(exc)
        self._commit_all()
        if self._upgrading():
            return True  # it returned on YIELD (or just returned): swap, do not end
        self.exit_code = result if isinstance(result, int) else 0
        self.asked = self._asked() if self.exit_code < 0 else ""
        why = f"; {self.asked}" if self.asked else ""
        self.outcome = Outcome("result", f"returned {self.exit_code}{why}", self.exit_code)
        self._event(Event.RETURN)
        return False

    def _asked(self) -> str:
        """What the guest asked ``tunnel()`` for and did not get, if anything."""
        return asked.note(self.store, self.linked.adapter, self.linked.memory, self.spec.ends)

    def _commit_all(self) -> None:
        """A service that returned has finished with what it received: commit it."""
        commit = self.linked.adapter.exports(self.store).get("commit_all")
        if isinstance(commit, wasmtime.Func):
            commit(self.store)

    def _call_entry(self, func: wasmtime.Func, results: int | None) -> Any:
        """``func(store)``, raw if its type allows (``results`` is not None)."""
        return func(self.store) if results is None else call_plain(self.store, func, results)

    def _on_trap(self, exc: Exception) -> bool:
        if self.watchdog.stop_requested:
            self._stopped()
            return False
        offsets = self.watched[1] if self.watched else None
        cause = trap_cause(exc, self.watchdog.cause, self._grow_refused())
        self.error = GuestTrap(self.name, trap_message(exc, offsets), trap_frames(exc, offsets),
                               cause)
        self.trap_log.append(self.error)
        self.outcome = Outcome("trap", self.error.cause)
        self._event(Event.TRAP, self.error.cause)
        return True

    def _stopped(self) -> None:
        self.outcome = Outcome("stopped", "stopped by the host")
        self._event(Event.STOP)

    def _grow_refused(self) -> bool:
        """Whether this instance of a watched guest had a memory.grow refused."""
        if not self.watched:
            return False
        flag = self.linked.guest.exports(self.store).get(REFUSED)
        return isinstance(flag, wasmtime.Global) and flag.value(self.store) == 1

    # -- hot upgrade (runtime/upgrade.py) ----------------------------------
    def _upgrading(self) -> bool:
        """An upgrade waits for this instance to end (and the mesh is not stopping)."""
        req = self.upgrade_request
        return req is not None and not req.swapped.is_set() and not self._stopping

    def _next_instance(self) -> bool:
        """After an instance ended: swap it for an upgrade, roll a new module
        on probation back, or restart it as its policy says."""
        req = self.upgrade_request
        if req is not None and self._upgrading():
            return self._swap(req)
        if req is not None and self.state is State.TRAPPED and req.claim_rollback():
            return self._roll_back(req)
        return self._restart()

    def _swap(self, req: Request) -> bool:
        """The old instance ended at a commit point (or by its epoch): load
        the new module on the same rings; if it fails, the old one again."""
        req.begin_swap(self.watchdog)
        self.set_yield(False)
        old = self.spec
        self.spec = replace(old, wasm=req.wasm)
        try:
            self._fresh_instance()
        except (NanonetError, wasmtime.WasmtimeError) as err:
            self.spec = old
            if not self._reinstate(f"the new module failed to load: {err}"):
                return False
            req.failed_to_load(f"the new module failed to load: {err}")
            return True
        self._previous = old
        req.started()
        return True

    def _roll_back(self, req: Request) -> bool:
        """The new module trapped on probation: the old module, at the committed tail."""
        cause = self.error.cause if self.error else "trapped"
        assert self._previous is not None  # set by the swap that started the probation
        self.spec = self._previous
        why = f"the new module trapped at once ({cause}); the old module runs again"
        if not self._reinstate(why):
            return False
        req.rolled_back(why)
        return True

    def _reinstate(self, why: str) -> bool:
        """The old module again, after a failed upgrade; FAILED if even it cannot load."""
        try:
            self._fresh_instance()
        except (NanonetError, wasmtime.WasmtimeError) as err:
            self._fail(Event.FAIL, f"{why}, and the old module failed to load again: {err}")
            if self.upgrade_request is not None:
                self.upgrade_request.failed_to_load(f"{why}; the old module failed too: {err}")
            return False
        return True

    def _fresh_instance(self) -> None:
        """A new instance of ``spec`` with the recorded host calls; a service
        that had trapped goes through RESTART and RESUME, one that had
        returned at a commit point stays RUNNING."""
        trapped = self.state is State.TRAPPED
        self.linked = self._load()
        self._replay()
        self.watchdog.rearm()
        if trapped:
            self._event(Event.RESTART)
            self._event(Event.RESUME)

    @property
    def reads_anything(self) -> bool:
        """Whether it holds a read end (what an epoch stop may make it receive twice)."""
        return any(e.direction is Direction.READ for e in self.spec.ends)

    @property
    def serves_anything(self) -> bool:
        """Whether it serves a port (an epoch stop requeues what it took: at least once)."""
        return bool(self._served_ports())

    def set_yield(self, on: bool) -> None:
        """Set (or clear) the yield flag of the ends an upgrade stops at: its
        read ends; a service with none, its write ends (docs/ring.md); and
        the ports it serves, whose ``serve_recv`` then returns YIELD."""
        reads = [c for c, e in zip(self._controls, self.spec.ends, strict=False)
                 if e.direction is Direction.READ]
        side = "reader" if reads else "writer"
        for control in reads or self._controls:
            control.ask_yield(side, on)
        for port in self._served_ports():  # serve_recv returns YIELD (docs/ring.md)
            port.ask_yield(on)

    def _served_ports(self) -> list[Port]:
        return [p for p, e in zip(self._ports, self.spec.ports, strict=True)
                if e.shape.role == "server"]

    def wake_ends(self) -> None:
        """Wake whatever of this service is parked on its rings."""
        for control in self._controls:
            with contextlib.suppress(NanonetError):
                control.wake()
        for port in self._served_ports():
            with contextlib.suppress(NanonetError):
                port.control.wake_all()

    def _restart(self) -> bool:
        """Wait the back-off and reload; False if the policy (or a stop) says no."""
        if not self.spec.policy.restart.restarts:
            return False  # it stays TRAPPED
        delay = self._restart_budget.after_trap()
        if delay is None:
            self._fail(Event.GIVE_UP, self._restart_budget.why)
            return False
        self._event(Event.RESTART)
        if (self._stopping or self._wake.wait(self.clock, delay)
                or self.watchdog.stop_requested):
            self._stopped()
            return False
        self.restarts += 1
        self.redeliveries.after_trap()  # no instance runs now: the reader's side is ours
        return self._reload()

    def _reload(self) -> bool:
        """A new instance with the recorded host calls re-applied; FAILED,
        with the cause, if it cannot be made."""
        try:
            self.linked = self._load()
            self._replay()
        except (NanonetError, wasmtime.WasmtimeError) as err:
            self._fail(Event.FAIL, f"restart failed: {err}")
            return False
        self.watchdog.rearm()
        self._restart_budget.running()
        self._event(Event.RESUME)
        return True

    def _fail(self, event: Event, cause: str) -> None:
        self.outcome = Outcome("failed", cause)
        self._event(event, cause)

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

    @property
    def parked(self) -> bool:
        """Asleep on one of its tunnels right now (read from the rings' waiting
        flags; nothing is written)."""
        return self.watchdog.parked()

    def observed_state(self) -> State:
        """The state as an observer shows it: PARKED while RUNNING and parked."""
        state = self.state
        return observed(state, state is State.RUNNING and self.parked)

    @property
    def dead_letters(self) -> list[DeadLetterReport]:
        """The messages moved aside (the last ``KEEP_REPORTS``), oldest first."""
        return list(self.redeliveries.reports)

    @property
    def traps(self) -> list[GuestTrap]:
        """The most recent traps (the last ``KEEP_TRAPS``), oldest first."""
        return self.trap_log.recent()

    @property
    def trap_counts(self) -> dict[str, int]:
        """Traps per cause since the service was created, none forgotten."""
        return self.trap_log.counts()

    def memory_bytes(self) -> int:
        """What the service holds: its memories, a sampling adapter's page, its
        tables at wasmtime's cost per element (``budget.holdings``). Read from
        any thread: the handles and their store are taken as one pair, for a
        restart makes a new store before it has the new handles (handles of one
        store used with another abort the process)."""
        holdings, store = self._sized
        return holdings.held(store)

    def close(self) -> None:
        """Release the store (and so the rings it links) once the thread has ended."""
        if self.running:
            raise NanonetError(f"service {self.name!r} is still running: stop it first")
        self._closed = True
        self.store.close()
