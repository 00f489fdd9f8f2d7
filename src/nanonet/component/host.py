"""Loading a component, wiring its imports, calling its exports.

    comp = load(rt, "auth.wasm")                 # compiled once, cached on disk
    inst = comp.instantiate(store, {"access-logs": {"log-attempt": log}})
    inst.call("authenticate", token)             # Ok({...}) or Err("...")

Every import the component declares must be given, or instantiating is a
``LoadError`` that names it: nothing is defined by default (no WASI, no
stubs that trap), so what a component can reach is exactly what was passed.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc

from ..errors import LoadError
from ..host.engine import Runtime
from ..policy import wasi as wasi_caps
from ..policy.policy import Grants
from . import artifacts, calls
from .shapes import Signature

Provided = Mapping[str, Any]  # import name -> host function, or interface -> {func: fn}


def short(name: str) -> str:
    """``pkg:ns/iface@1.0`` -> ``iface``: the name a user writes."""
    return name.split("/")[-1].split("@")[0]


def _funcs(item: Any, engine: wasmtime.Engine) -> dict[str, Signature] | None:
    ty = item.ty
    if isinstance(ty, wc.ComponentInstanceType):
        return {n: Signature.of(t) for n, e in ty.exports(engine).items()
                if isinstance(t := e.ty, wc.FuncType)}
    return None


@dataclass
class Loaded:
    """A component, its types, and the signatures of what it imports and exports.

    ``types`` is what the signatures are read from: the compiled outline
    (``outline.py``), a compilation of milliseconds; ``component``, the
    compiled component the host path instantiates, is made by ``build`` on
    first use (seconds for a heavy guest), so a component on the Wasm tunnel
    path or plugged into a composition never compiles it. ``imports`` maps
    each imported interface to its functions' signatures (a world-level
    function import is its own entry, with ``funcs`` None); ``exports``
    maps ``name`` or ``interface#name`` to a signature.
    """

    types: wc.Component
    engine: wasmtime.Engine
    imports: dict[str, dict[str, Signature] | Signature] = field(default_factory=dict)
    exports: dict[str, Signature] = field(default_factory=dict)
    binary: bytes = b""  # what it was compiled from: what compose.py nests
    build: Callable[[], wc.Component] | None = field(default=None, repr=False, compare=False)
    _full: wc.Component | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    @property
    def component(self) -> wc.Component:
        """The compiled component: ``build``'s, made once on first use (``types``
        itself when there is no ``build``: then it is the full component)."""
        if self._full is None:
            with self._lock:
                if self._full is None:
                    self._full = self.types if self.build is None else self.build()
        return self._full

    def __post_init__(self) -> None:
        ty = self.types.type
        for name, item in ty.imports(self.engine).items():
            funcs = _funcs(item, self.engine)
            if funcs is not None:
                self.imports[name] = funcs
            elif isinstance(fty := item.ty, wc.FuncType):
                self.imports[name] = Signature.of(fty)
        for name, item in ty.exports(self.engine).items():
            funcs = _funcs(item, self.engine)
            if funcs is not None:
                self.exports.update({f"{name}#{f}": s for f, s in funcs.items()})
            elif isinstance(fty := item.ty, wc.FuncType):
                self.exports[name] = Signature.of(fty)

    def _needed(self, provided: Provided, trap: tuple[str, ...], wasi: bool,
                ) -> list[tuple[str, dict[str, Signature] | Signature]]:
        """The imports the host must define: not types-only, not WASI when it
        is linked, not trapped-and-ungiven."""
        out = []
        for name, want in self.imports.items():
            given = lookup(provided, name)
            linked = name.startswith("wasi:") and wasi
            if want == {} or linked or (given is None and name.startswith((*trap, "\0"))):
                continue  # an interface of types only needs nothing
            out.append((name, want))
        return out

    def check(self, provided: Provided, who: str = "component", trap: tuple[str, ...] = (),
              wasi: bool = False) -> None:
        """A LoadError naming the first import ``provided`` does not grant, before
        anything is instantiated (so a mesh refuses it when it is added)."""
        for name, _ in self._needed(provided, trap, wasi):
            if lookup(provided, name) is None:
                raise LoadError(f"{who} imports {name!r}, which was not granted: grant it "
                                f"(imports={{{short(name)!r}: ...}}), or rebuild the "
                                "component without that import")

    def instantiate(self, store: wasmtime.Store, provided: Provided,
                    who: str = "component", trap: tuple[str, ...] = (),
                    wasi: Grants | None = None, owner: str = "") -> Instance:
        """An instance whose imports are exactly ``provided``, or a LoadError.

        Imports whose name starts with one of ``trap`` (say ``"wasi:"``, for a
        toolchain that imports all of WASI but never calls it after start-up)
        are linked to functions that trap when called: present, but no
        capability. ``wasi`` links WASIp2 over a context holding only what
        those grants say (an empty ``Grants()``: no files, environment,
        arguments, stdio or network), for toolchains whose runtime needs it.
        """
        linker = wc.Linker(self.engine)
        if wasi is not None:
            linker.add_wasip2()
            store.set_wasi(wasi_caps.config(wasi, owner))

        self.check(provided, who, trap, wasi is not None)
        with linker.root() as root:
            for name, want in self._needed(provided, trap, wasi is not None):
                _define(root, name, want, lookup(provided, name), who)
        if trap:
            linker.define_unknown_imports_as_traps(self.component)
        try:
            inst = linker.instantiate(store, self.component)
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"{who} cannot be instantiated: {err}") from err
        return Instance(self, inst, store)


def lookup(provided: Provided, name: str) -> Any:
    """What ``provided`` gives import ``name``, by full name, unversioned or short."""
    for key in (name, name.split("@")[0], short(name)):
        if key in provided:
            return provided[key]
    return None


def _define(root: wc.LinkerInstance, name: str, want: dict[str, Signature] | Signature,
            given: Any, who: str) -> None:
    if isinstance(want, Signature):
        calls.define(root, name, given, want)
        return
    with root.add_instance(name) as inst:
        for fname, sig in want.items():
            func = given.get(fname) if isinstance(given, Mapping) else getattr(
                given, fname.replace("-", "_"), None)
            if func is None:
                raise LoadError(f"{who} imports {name}#{fname}, which the host gave no "
                                f"function for: add {fname!r} to what imports= gives it")
            calls.define(inst, fname, func, sig)


class Instance:
    """An instantiated component: call its exports by name."""

    def __init__(self, loaded: Loaded, inst: wc.Instance, store: wasmtime.Store) -> None:
        self.loaded = loaded
        self.store = store
        self._inst = inst
        self._funcs: dict[str, tuple[wc.Func, Signature]] = {}

    def func(self, name: str) -> tuple[wc.Func, Signature]:
        """The export ``name`` (or ``interface#name``) and its signature."""
        if name not in self._funcs:
            sig = self.loaded.exports.get(name)
            if sig is None:
                known = ", ".join(sorted(self.loaded.exports)) or "none"
                raise LoadError(f"no export named {name!r} (exports: {known})")
            self._funcs[name] = (self._lookup(name), sig)
        return self._funcs[name]

    def _lookup(self, name: str) -> wc.Func:
        iface, _, fname = name.rpartition("#")
        parent = self._inst.get_export_index(self.store, iface) if iface else None
        index = self._inst.get_export_index(self.store, fname, parent)
        func = None if index is None else self._inst.get_func(self.store, index)
        assert func is not None, name
        return func

    def call(self, name: str, *args: Any) -> Any:
        """Call export ``name`` with Python values; its result as a Python value."""
        func, sig = self.func(name)
        return calls.call(self.store, func, sig, args)


RACY_NS = 2_000_000_000
_LOADED: weakref.WeakKeyDictionary[Runtime, dict[object, Loaded]] = weakref.WeakKeyDictionary()


def load(rt: Runtime, source: Loaded | bytes | str | Path) -> Loaded:
    """A compiled component from bytes, WAT text or a path, through the disk cache.

    Loaded once per runtime: a file seen before (same inode, size and mtime)
    or bytes seen before (same digest) give back the same ``Loaded``, so a
    second service of an 18 MB guest neither reads nor deserializes it again.
    A file changed in the last ``RACY_NS`` is read and hashed anyway (as git
    treats "racy" files): a rewrite inside one timestamp tick keeps its mtime.
    """
    if isinstance(source, Loaded):
        return source
    memo = _LOADED.setdefault(rt, {})
    if isinstance(source, Path) or (isinstance(source, str) and "(component" not in source):
        st = os.stat(source)
        if time.time_ns() - st.st_mtime_ns < RACY_NS:  # may change within the same mtime
            return load(rt, Path(source).read_bytes())
        where = (os.path.realpath(source), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if (hit := memo.get(where)) is None:
            hit = memo[where] = load(rt, Path(source).read_bytes())
        return hit
    raw = source.encode() if isinstance(source, str) else bytes(source)
    digest = rt.digest(artifacts.FULL_TAG + raw)
    if (hit := memo.get(digest)) is None:
        binary = _binary(raw)
        outline = rt.digest(artifacts.OUTLINE_TAG + digest)  # bound to the source too
        types = artifacts.outlined(rt.engine, rt.disk, binary, outline)
        full = functools.partial(artifacts.compiled, rt.engine, rt.disk, binary, digest)
        hit = memo[digest] = Loaded(types, rt.engine, binary=binary, build=full)
    return hit


def _binary(raw: bytes) -> bytes:
    if raw[:4] == b"\0asm":
        return raw
    try:
        return bytes(wasmtime.wat2wasm(raw.decode()))
    except (wasmtime.WasmtimeError, UnicodeDecodeError) as err:
        raise LoadError(f"not a valid component: {err}") from err
