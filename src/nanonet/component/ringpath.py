"""The Wasm tunnel path: a component's tunnel imports served on the ring itself.

    loaded = RingLoaded.of(rt, loaded, choice, rings)   # choice: ringplan.decide
    ComponentService(name, loaded, owns=writers)         # runs as any component

No component import can carry a tunnel's shared memory, so a component run
by ``wasmtime.component`` must reach a ring through a host function (~37 µs
a message, docs/components.md). This runs the component's own core modules
instead, in one core Store, by following its instance graph
(``graph.read_graph``) as wasmtime would: the same modules, instantiated in
the same order with the same arguments, their memories and tables shared as
the component shares them. Only the ``canon lower`` of an import wired to a
tunnel is replaced: by the ``call`` export of a generated glue module
(``ringglue.py``) linked to the component's memory, a scratch memory, and
the tunnel adapter (``ring/adapter.py``, the core guests' own) holding the
ring. The component -> tunnel path is then Wasm calling Wasm. The ``canon
lower`` of an import given a Python function is replaced by a core host
function that calls it (``ringhost.py``).

The host calls the component's exports through their ``canon lift``: the core
function, with ``post-return`` after it, each through ``capi.FastFunc`` (one
ctypes call; ``Func.__call__`` costs tens of µs), integers and floats
alike. Every WIT value kind is lowered and lifted as the canonical ABI
lays it out (``canon.py``): flat core values up to 16
parameters and one result, memory beyond; a string or list of numbers is one
bulk copy each way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from ..capi.fastcall import FastFunc
from ..errors import LoadError, NotFound
from ..host.engine import Runtime
from ..policy.policy import Grants
from ..ring.adapter import Direction, EndSpec
from ..ring.memory import RingMemory
from ..runtime.service import adapter_module
from .canon import Cx, lift_result, lower_params
from .graph import CORE_FUNC, CORE_GLOBAL, CORE_INSTANCE, CORE_MEMORY, CORE_TABLE, Graph, Op
from .host import Loaded, Provided, lookup
from .ringglue import glue_wat, scratch_pages
from .ringhost import HostImport, raise_pending
from .ringplan import Choice, HostRoute, Route

Extern = Any  # a wasmtime.Func, Memory, Table, Global or Instance
_SPACES = (CORE_FUNC, CORE_TABLE, CORE_MEMORY, CORE_GLOBAL)


@dataclass
class RingLoaded(Loaded):
    """A component whose tunnel imports run in Wasm: ``instantiate`` builds a
    ``RingInstance``; its imports are the routes, so nothing else is checked."""

    routes: tuple[Route, ...] = ()
    hosts: tuple[HostRoute, ...] = ()
    graph: Graph = field(default_factory=Graph)
    rings: dict[str, RingMemory] = field(default_factory=dict)
    rt: Runtime | None = None

    @classmethod
    def of(cls, rt: Runtime, loaded: Loaded, choice: Choice,
           rings: Mapping[str, RingMemory]) -> RingLoaded:
        assert choice.wasm and choice.graph is not None, choice.why
        return cls(loaded.types, loaded.engine, binary=loaded.binary,
                   build=lambda: loaded.component, routes=choice.routes,
                   hosts=choice.hosts, graph=choice.graph, rings=dict(rings), rt=rt)

    def check(self, provided: Provided, who: str = "component", trap: tuple[str, ...] = (),
              wasi: bool = False) -> None:
        """Its imports are the routes, checked by ``ringplan.decide``."""

    def instantiate(self, store: wasmtime.Store, provided: Provided,
                    who: str = "component", trap: tuple[str, ...] = (),
                    wasi: Grants | None = None, owner: str = "") -> Any:
        try:
            return RingInstance(self, store, provided)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as err:  # a start function trapped
            raise LoadError(f"{who} cannot be instantiated on the Wasm tunnel path: "
                            f"{err}") from err


class _Runner:
    """Follows the graph's ops in a Store: the core index spaces as wasmtime fills them."""

    def __init__(self, loaded: RingLoaded, store: wasmtime.Store, provided: Provided) -> None:
        assert loaded.rt is not None
        self.loaded, self.store, self.rt = loaded, store, loaded.rt
        self.spaces: dict[int, list[Extern]] = {s: [] for s in (*_SPACES, CORE_INSTANCE)}
        self.modules: list[wasmtime.Module] = []
        self.routes = {r.name: r for r in loaded.routes}
        self.hosts = {h.name: h for h in loaded.hosts}
        self.provided = provided
        self.served: list[HostImport] = []  # kept alive with the Store
        self._exports: dict[int, dict[str, Extern]] = {}

    def run(self) -> None:
        for op in self.loaded.graph.ops:
            getattr(self, f"_{op.kind}")(op)

    def _module(self, op: Op) -> None:
        self.modules.append(self.rt.module(op.data))

    def _export(self, instance: int, name: str) -> Extern:
        found = self._exports.get(instance)
        if found is None:
            inst = self.spaces[CORE_INSTANCE][instance]
            found = inst if isinstance(inst, dict) else dict(inst.exports(self.store))
            self._exports[instance] = found
        return found[name]

    def _instantiate(self, op: Op) -> None:
        module = self.modules[op.index]
        args = dict(op.args)
        imports = [self._export(args[i.module], i.name or "") for i in module.imports]
        self.spaces[CORE_INSTANCE].append(wasmtime.Instance(self.store, module, imports))

    def _bundle(self, op: Op) -> None:
        self.spaces[CORE_INSTANCE].append({n: self.spaces[s][i] for n, s, i in op.items})

    def _alias(self, op: Op) -> None:
        self.spaces[op.sort].append(self._export(op.index, op.name))

    def _lower(self, op: Op) -> None:
        name = self.loaded.graph.funcs[op.index][0]
        if name in self.hosts:
            self.spaces[CORE_FUNC].append(self._host(self.hosts[name], op))
            return
        if op.opts.memory is None:  # valid when nothing it takes is in memory: no bytes
            memory = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(0, 0)))
        else:
            memory = self.spaces[CORE_MEMORY][op.opts.memory]
        self.spaces[CORE_FUNC].append(self._glue(self.routes[name], memory))

    def _host(self, route: HostRoute, op: Op) -> wasmtime.Func:
        """The core host function serving one import given Python (``ringhost.py``)."""
        iface, _, fname = route.name.rpartition("#")
        given = lookup(self.provided, iface or route.name)
        if iface:
            given = given.get(fname) if isinstance(given, Mapping) else getattr(
                given, fname.replace("-", "_"), None)
        if not callable(given):
            raise LoadError(f"import {route.name!r} was given no function")
        opts = op.opts
        memory = None if opts.memory is None else self.spaces[CORE_MEMORY][opts.memory]
        realloc = None if opts.realloc is None else self.spaces[CORE_FUNC][opts.realloc]
        host = HostImport(given, route.sig, memory, realloc, f"import {fname or route.name!r}")
        self.served.append(host)
        return host.func(self.store)

    def _glue(self, route: Route, memory: wasmtime.Memory) -> wasmtime.Func:
        """The generated ``call`` for one route, on its own scratch and adapter."""
        ring = self.loaded.rings[route.tunnel]
        pmax = ring.geometry.max_payload
        pages = scratch_pages(pmax)
        scratch = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(pages, pages)))
        end = EndSpec(route.tunnel, Direction.WRITE, ring.geometry)
        adapter = adapter_module(self.rt, [end])
        given: dict[tuple[str, str], Extern] = {("guest", "memory"): scratch,
                                                ("t0", "ring"): ring.shared}
        ad = wasmtime.Instance(self.store, adapter,
                               [given[(i.module, i.name or "")] for i in adapter.imports])
        glue = self.rt.module(glue_wat(list(route.kinds), route.layout, pmax))
        send = ad.exports(self.store)["send"]
        inst = wasmtime.Instance(self.store, glue, [memory, scratch, send])
        func = inst.exports(self.store)["call"]
        assert isinstance(func, wasmtime.Func)
        return func


def _bound(store: wasmtime.Store, func: Any) -> Callable[..., Any]:
    """``func`` called without its store: a ``FastFunc`` unless its types are not numbers."""
    try:
        return FastFunc(store, func).call
    except TypeError:  # references or vectors: wasmtime-py's own call
        return functools.partial(func, store)


class RingInstance:
    """The component's core instances in one Store; ``call`` its lifted exports."""

    def __init__(self, loaded: RingLoaded, store: wasmtime.Store,
                 provided: Provided | None = None) -> None:
        self.loaded, self.store = loaded, store
        runner = _Runner(loaded, store, provided or {})
        runner.run()
        self._served = runner.served
        funcs = runner.spaces[CORE_FUNC]
        memories = runner.spaces[CORE_MEMORY]
        self._lifted: dict[str, tuple[Any, Any]] = {}
        self._memory: dict[str, tuple[Any, Any]] = {}
        for name, index in loaded.graph.exports.items():
            _, core, opts = loaded.graph.funcs[index]
            post = None if opts.post_return is None else _bound(store, funcs[opts.post_return])
            self._lifted[name] = (_bound(store, funcs[core]), post)
            self._memory[name] = (
                None if opts.memory is None else memories[opts.memory],
                None if opts.realloc is None else _bound(store, funcs[opts.realloc]))

    def call(self, name: str, *args: Any) -> Any:
        """Call export ``name`` with Python values; its result as the value layer gives it."""
        if name not in self._lifted or name not in self.loaded.exports:
            known = ", ".join(sorted(self._lifted)) or "none"
            raise NotFound(f"no export named {name!r} (exports: {known})")
        func, post = self._lifted[name]
        sig = self.loaded.exports[name]
        if len(args) != len(sig.params):
            raise TypeError(f"{name} takes {len(sig.params)} arguments ({len(args)} given)")
        memory, realloc = self._memory[name]
        cx = Cx(self.store, memory, realloc)
        try:
            raw = func(*lower_params(cx, sig, args))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as err:
            raise_pending(err)  # what a host function raised, if one did
        result = None if sig.result is None else lift_result(cx, sig.result, raw)
        if post is not None:
            post(*(() if raw is None else (raw,)))
        return result
