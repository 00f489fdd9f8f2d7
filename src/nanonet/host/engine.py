"""One configured wasmtime Engine and a disk cache of compiled modules.

Every service, tunnel and host endpoint of a process shares one Engine: shared
memories and compiled modules belong to an engine. Compiling even a small
module costs milliseconds, so compiled code is serialized to disk under a key
made of the Wasm bytes, the engine settings and the wasmtime version, and kept
deserialized in memory for the life of the process. A disk entry is used only
if this user's keyed hash binds it to those exact bytes (``modcache.py``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime

from ..capi import artifact, wasmfix
from . import compiles
from .modcache import DiskCache
from .ticker import Ticker

if TYPE_CHECKING:
    from ..runtime.fastlink import LinkPlan

SETTINGS = (
    "threads", "shared_memory", "multi_memory", "epoch_interruption", "opt=speed",
)
MAX_WASM_STACK = 512 * 1024


@dataclass(frozen=True)
class MemoryLayout:
    """How much address space wasmtime reserves per linear memory.

    wasmtime applies one layout to every memory of an engine, rings and guest
    memories alike, and compiles code for it. Its default (4 GiB reserved plus
    32 MiB guards before and after) lets every 32-bit access skip its bounds
    check, at 4 GiB of address space per tunnel: near 32,000 tunnels fill the
    47-bit address space. ``COMPACT`` reserves 1 MiB (rings up to 1 MiB fit
    it; a larger ring reserves its size plus ``growth``), but then every
    access to any memory is bounds-checked in code (a memory-bound guest loop
    ran about 1.7x slower here), so it is a choice per mesh, not the default.
    """

    reservation: int
    guard: int
    growth: int  # extra reserved when a memory outgrows its reservation and moves

    def apply(self, cfg: wasmtime.Config) -> None:
        cfg.memory_reservation = self.reservation
        cfg.memory_guard_size = self.guard
        cfg.memory_reservation_for_growth = self.growth

    def fingerprint(self) -> str:
        return f"reserve={self.reservation},guard={self.guard},growth={self.growth}"


COMPACT = MemoryLayout(reservation=1 << 20, guard=1 << 16, growth=16 << 20)


def _config(fuel: bool = False, max_stack: int = MAX_WASM_STACK,
            layout: MemoryLayout | None = None) -> wasmtime.Config:
    cfg = wasmtime.Config()
    if layout is not None:
        layout.apply(cfg)
    cfg.consume_fuel = fuel
    cfg.wasm_threads = True
    cfg.shared_memory = True
    cfg.wasm_multi_memory = True
    cfg.wasm_bulk_memory = True
    cfg.epoch_interruption = True
    cfg.cranelift_opt_level = "speed"
    cfg.max_wasm_stack = max_stack
    return cfg


def cache_dir() -> Path:
    """Where compiled modules live: $NANONET_CACHE, else ~/.cache/nanonet."""
    env = os.environ.get("NANONET_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "nanonet"
    return base / "modules"


class Runtime:
    """An engine plus its compiled-module cache and its epoch ticker.

    Fuel metering and the Wasm stack cap are engine settings, and a mesh's
    services share one engine (shared memories belong to an engine), so they
    are chosen per mesh: ``runtime(fuel=True, max_stack=...)``.
    """

    def __init__(self, fuel: bool = False, max_stack: int = MAX_WASM_STACK,
                 compact: bool = False) -> None:
        self.fuel = fuel
        self.max_stack = max_stack
        self.compact = compact
        layout = COMPACT if compact else None
        self.engine = wasmtime.Engine(_config(fuel, max_stack, layout))
        self.ticker = Ticker(self.engine)
        self.cache = cache_dir()
        self.disk = DiskCache(self.cache)
        self.patched = wasmfix.apply(self.engine)
        memory = layout.fingerprint() if layout else "memory=default"
        self._fingerprint = ("|".join(SETTINGS) + f"|fuel={fuel}|stack={max_stack}|{memory}"
                             f"|wasmtime-{version('wasmtime')}")
        self._modules: dict[str, wasmtime.Module] = {}
        self._by_source: dict[bytes, wasmtime.Module] = {}  # the same, by source bytes
        self._wasi_linker: wasmtime.Linker | None = None
        self._lock = threading.Lock()
        # adapters by shape and link plans by (guest key, shape, grants, raw map):
        # keyed by value and owned here, so a collected Runtime takes them along
        self.adapters: dict[tuple[object, ...], wasmtime.Module] = {}
        self.plans: dict[tuple[object, ...], LinkPlan] = {}

    def digest(self, source: bytes) -> bytes:
        """SHA-256 of a module's source (Wasm or WAT) and the engine settings."""
        h = hashlib.sha256(self._fingerprint.encode())
        h.update(source)
        return h.digest()

    def key(self, source: bytes) -> str:
        """The cache key of a module: its source (Wasm or WAT) plus engine settings."""
        return self.digest(source).hex()[:32]

    def module(self, source: bytes | str) -> wasmtime.Module:
        """The compiled module for Wasm bytes or WAT text, from cache if possible.

        Keyed by the source as given, so WAT text is parsed only on a miss. A
        source seen before is found by its bytes first (hashed once per bytes
        object, compared by identity first), with no SHA-256 per load.
        """
        raw = source.encode() if isinstance(source, str) else bytes(source)
        mod = self._by_source.get(raw)
        if mod is not None:
            return mod
        digest = self.digest(raw)
        key = digest.hex()[:32]
        mod = self._modules.get(key)  # lock-free hit: dict reads are atomic
        if mod is not None:
            self._by_source[raw] = mod
            return mod
        with self._lock:
            mod = self._modules.get(key)
            if mod is None:
                mod = self._load_or_compile(key, digest, raw)
                self._modules[key] = mod
            self._by_source[raw] = mod
        return mod

    def _load_or_compile(self, key: str, digest: bytes, raw: bytes) -> wasmtime.Module:
        """Deserialize the entry bound to ``digest``, else compile ``raw`` and store it."""
        name = f"{key}.cwasm"
        compiled = self.disk.load_view(name, digest)  # no copy: tens of MB for a guest
        if compiled is not None:
            try:
                return artifact.deserialize_module(self.engine, compiled)
            except wasmtime.WasmtimeError:
                self.disk.forget(name)  # ours, but from another wasmtime build: rebuild
        wasm = raw if raw[:4] == b"\0asm" else bytes(wasmtime.wat2wasm(raw.decode()))
        mod = wasmtime.Module(self.engine, wasm)
        compiles.compiled("module", wasm)
        self.disk.save(name, digest, mod.serialize())
        return mod

    def drop_memory_cache(self) -> None:
        """Forget in-memory modules (the disk cache stays): for cold-start runs."""
        with self._lock:
            self._modules.clear()
            self._by_source.clear()


    def wasi_clock(self, store: wasmtime.Store) -> wasmtime.Func:
        """WASI's clock_time_get bound to ``store`` (which must have a WASI context)."""
        with self._lock:
            if self._wasi_linker is None:
                self._wasi_linker = wasmtime.Linker(self.engine)
                self._wasi_linker.define_wasi()
            linker = self._wasi_linker
        func = linker.get(store, "wasi_snapshot_preview1", "clock_time_get")
        assert isinstance(func, wasmtime.Func)
        return func

    def new_store(self) -> wasmtime.Store:
        """A store for the host's own calls: never interrupted, never out of fuel."""
        store = wasmtime.Store(self.engine)
        store.set_epoch_deadline(1 << 62)
        if self.fuel:
            store.set_fuel((1 << 63) - 1)
        return store


_RUNTIMES: dict[tuple[bool, int, bool], Runtime] = {}
_RUNTIME_LOCK = threading.Lock()


def runtime(fuel: bool = False, max_stack: int = MAX_WASM_STACK,
            compact: bool = False) -> Runtime:
    """The process-wide Runtime for these engine settings, created on first use.

    ``compact=True`` reserves about 1 MiB of address space per memory instead
    of 4 GiB (``MemoryLayout``): for meshes of many thousand tunnels, at the
    price of a bounds check on every memory access."""
    with _RUNTIME_LOCK:
        key = (fuel, max_stack, compact)
        if key not in _RUNTIMES:
            _RUNTIMES[key] = Runtime(fuel, max_stack, compact)
        return _RUNTIMES[key]
