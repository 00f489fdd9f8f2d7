"""Which path a component's tunnel imports take, decided at load, and why.

    choice = decide(loaded, {"forward": "tunnel:out"}, tunnel_types)
    choice.wasm, choice.why        # True, "its tunnel import 'forward' ... in Wasm"

The Wasm path (``ringpath.py``) runs the component's core modules in a core
Store and serves each import wired to ``"tunnel:NAME"`` with generated Wasm
on that tunnel's ring (``ringglue.py``): no Python per message. It can do so
when:

- the component's graph is flat (``graph.read_graph``; a C guest made by
  wit-component is);
- every import its core modules call is wired to a tunnel, with parameters
  the glue carries (numbers, bool, char, UTF-8 strings and ``list<u8>``; no
  result; at most 16 core parameters; a typed tunnel's import takes its
  record, of any kind but resources, futures and streams), or given a
  Python function (or ``"service:NAME"``), which a core host function
  serves (``ringhost.py``: a Python call per call, as on the host path);
- every function it exports, and every import given Python, takes and
  returns values of any WIT kind but resources (own and borrow handles),
  futures and streams: numbers, bool, char, UTF-8 strings, lists of any
  element, records, tuples, variants, enums, options, results and flags,
  lowered and lifted by ``canon_flat.py`` / ``canon_mem.py`` as the canonical
  ABI lays them out (through memory past 16 core parameters or 1 result);
  strings anywhere in them are UTF-8.

Anything else keeps the host-function path, and ``why`` says which rule it
broke. ``nanonet check`` prints the same verdict (``fastpath.tunnel_line``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .canon import carried
from .graph import Graph, Opts, Unfit, read_graph
from .host import Loaded, lookup, short
from .ringglue import STRING, tunnel_fields
from .shapes import Shape, Signature
from .typed import RecordLayout
from .typedread import read_imports, reads_text

TUNNEL = "tunnel:"
NO_TUNNEL = "no import is wired to a tunnel"


@dataclass(frozen=True)
class Route:
    """One import served in Wasm: its full name (``iface#func`` for an
    interface's), the tunnel, the signature, the record of a typed tunnel."""

    name: str
    key: str  # what ``imports`` called it
    tunnel: str
    sig: Signature
    layout: RecordLayout | None
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class HostRoute:
    """One import served by a Python function: its full name and signature."""

    name: str
    sig: Signature


@dataclass(frozen=True)
class Choice:
    """The path chosen: ``wasm`` or the host-function path, and why."""

    wasm: bool
    why: str
    routes: tuple[Route, ...] = ()
    graph: Graph | None = None
    hosts: tuple[HostRoute, ...] = ()


def _function(loaded: Loaded, key: str) -> tuple[str, Signature] | None:
    """Import ``key``'s full function name and signature (one-function interfaces)."""
    for name, want in loaded.imports.items():
        if key not in (name, name.split("@")[0], short(name)):
            continue
        if isinstance(want, Signature):
            return name, want
        if len(want) == 1:
            (fname, sig), = want.items()
            return f"{name}#{fname}", sig
    return None


def _routes(loaded: Loaded, imports: Mapping[str, Any],
            types: Mapping[str, RecordLayout]) -> list[Route]:
    out = []
    for key, value in imports.items():
        if not (isinstance(value, str) and value.startswith(TUNNEL)):
            continue
        found = _function(loaded, key)
        if found is None:
            raise Unfit(f"import {key!r} is not one function")
        name, sig = found
        tunnel = value[len(TUNNEL):]
        layout = types.get(tunnel)
        kinds = tunnel_fields(sig, layout, f"import {key!r}")
        out.append(Route(name, key, tunnel, sig, layout, tuple(kinds)))
    return out


def _shapes(sig: Signature) -> list[Shape]:
    return [s for _, s in sig.params] + ([sig.result] if sig.result is not None else [])


def _has_string(shape: Shape | None) -> bool:
    return shape is not None and (shape.kind == STRING or any(map(_has_string, shape.items)))


def _utf8(route: Route) -> bool:
    """Whether the glue of ``route`` copies strings (which it takes as UTF-8)."""
    return STRING in route.kinds or (route.layout is not None and _has_string(route.layout.shape))


REFUSED = ("resources (own and borrow handles), futures and streams are not lowered "
           "on the core-API path")


def _export_rule(name: str, sig: Signature, opts: Opts) -> None:
    """``Unfit`` naming the rule an export breaks, if it breaks one."""
    shapes = _shapes(sig)
    if not all(carried(s) for s in shapes):
        raise Unfit(f"export {name!r} is {sig.wit()}: {REFUSED}")
    if any(map(_has_string, shapes)) and opts.encoding != "utf8":
        raise Unfit(f"export {name!r} lifts its strings as {opts.encoding}; the core-API "
                    "call copies UTF-8")


def _check_exports(loaded: Loaded, graph: Graph) -> None:
    for name, index in graph.exports.items():
        sig = loaded.exports.get(name)
        if sig is not None:
            _export_rule(name, sig, graph.funcs[index][2])


def _given(imports: Mapping[str, Any], name: str) -> Any:
    """What ``imports`` gives the function ``name`` (``iface#func`` for an interface's)."""
    iface, _, fname = name.rpartition("#")
    value = lookup(imports, iface or name)
    if iface and isinstance(value, Mapping):
        return value.get(fname)
    return value


def _signature(loaded: Loaded, name: str) -> Signature | None:
    iface, _, fname = name.rpartition("#")
    want = loaded.imports.get(iface or name)
    if iface and isinstance(want, Mapping):
        return want.get(fname)
    return want if isinstance(want, Signature) else None


def _host_route(loaded: Loaded, name: str, given: Any, opts: Opts) -> HostRoute:
    """The route of an import given Python (or a service), or ``Unfit``."""
    key = name.split("#")[-1]
    is_service = isinstance(given, str) and given.startswith("service:")
    sig = _signature(loaded, name)
    if name.startswith("wasi:") or sig is None or not (callable(given) or is_service):
        given_what = "WASI" if name.startswith("wasi:") else "something other than a tunnel"
        raise Unfit(f"import {key!r} is given {given_what}; only imports wired to tunnels "
                    "or given Python functions are served on the Wasm path")
    shapes = _shapes(sig)
    if not all(carried(s) for s in shapes):
        raise Unfit(f"import {key!r} is {sig.wit()}: {REFUSED}")
    if any(map(_has_string, shapes)) and opts.encoding != "utf8":
        raise Unfit(f"import {key!r} lowers its strings as {opts.encoding}; the host "
                    "function reads UTF-8")
    return HostRoute(name, sig)


def _check_lowered(loaded: Loaded, graph: Graph, routes: list[Route],
                   imports: Mapping[str, Any]) -> list[HostRoute]:
    served = {r.name: r for r in routes}
    hosts = []
    for op in graph.ops:
        if op.kind != "lower":
            continue
        name = graph.funcs[op.index][0]
        if name not in served:
            hosts.append(_host_route(loaded, name, _given(imports, name), op.opts))
        elif _utf8(served[name]) and op.opts.encoding != "utf8":
            raise Unfit(f"import {served[name].key!r} lowers its strings as "
                        f"{op.opts.encoding}; the generated path takes UTF-8")
    return hosts


def decide(loaded: Loaded, imports: Mapping[str, Any],
           types: Mapping[str, RecordLayout], wasi: bool = False) -> Choice:
    """The Wasm path if every rule above holds, else the host path and the rule broken."""
    reading = read_imports(imports)
    if not reading and not any(isinstance(v, str) and v.startswith(TUNNEL)
                               for v in imports.values()):
        return Choice(False, NO_TUNNEL)
    if not loaded.binary:
        return Choice(False, "it was loaded without its binary (give its bytes or path)")
    try:
        if wasi:
            raise Unfit("it is granted WASI, which the core modules would reach through "
                        "host functions the Wasm path does not link")
        graph = read_graph(loaded.binary)
        routes = _routes(loaded, imports, types)
        hosts = _check_lowered(loaded, graph, routes, imports)
        _check_exports(loaded, graph)
    except Unfit as why:
        return Choice(False, f"host-function path: {why}{reads_text(reading, False)}")
    names = ", ".join(f"{r.key!r} -> tunnel {r.tunnel!r}" for r in routes)
    read = {id(fn) for _, fn in reading}
    called = ", ".join(repr(h.name.split("#")[-1]) for h in hosts
                       if id(_given(imports, h.name)) not in read)
    also = f"; {called} called in Python from Wasm (a host call each)" if called else ""
    served = (f"{names} served by generated Wasm on the ring (no Python per message)"
              if routes else "no tunnel written")
    return Choice(True, f"Wasm path: {served}{also}{reads_text(reading, True)}", tuple(routes),
                  graph, tuple(hosts))

