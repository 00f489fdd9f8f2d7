"""A component's compiled forms, each compiled once and kept in the disk cache.

    types = outlined(engine, disk, binary, outline_digest)   # ms: to read its types
    full = compiled(engine, disk, binary, digest)            # seconds: to run it

Both go through the compiled-module cache (``host/modcache.py``): an entry
bound to the digest is deserialized from a view of the file, with no copy
in Python (``capi/artifact.py``); else the binary is compiled, reported to
``host/compiles.py`` and stored. ``host.load`` compiles the outline at once
and the full component only when the host path first instantiates it, so
the Wasm tunnel path and the parts of a composition never compile it.
"""

from __future__ import annotations

from collections.abc import Callable

import wasmtime
from wasmtime import component as wc

from ..capi import artifact
from ..errors import LoadError
from ..host.compiles import compiled as report
from ..host.modcache import DiskCache
from .outline import outline, validate

FULL, OUTLINE = "ccwasm", "ocwasm"  # the two entries' file name endings
# what the digests hash before the source (the outline's: before the full digest,
# so the 18 MB source is hashed once); a new outline format
# takes a new tag, so an entry of the old one is never read as the new
FULL_TAG, OUTLINE_TAG = b"component\0", b"outline-1\0"


def compiled(engine: wasmtime.Engine, disk: DiskCache, binary: bytes,
             digest: bytes) -> wc.Component:
    """The component compiled from ``binary``: the cache entry, else compiled now."""
    return _cached(engine, disk, digest, FULL, "component", lambda: binary)


def outlined(engine: wasmtime.Engine, disk: DiskCache, binary: bytes,
             digest: bytes) -> wc.Component:
    """The outline of ``binary`` compiled: the cache entry, else ``binary``'s core
    modules validated (a LoadError if one is not) and its outline compiled."""
    def make() -> bytes:
        validate(engine, binary)
        return outline(engine, binary)
    return _cached(engine, disk, digest, OUTLINE, "outline", make)


def _cached(engine: wasmtime.Engine, disk: DiskCache, digest: bytes, ending: str,
            kind: str, make: Callable[[], bytes]) -> wc.Component:
    name = f"{digest.hex()[:32]}.{ending}"
    entry = disk.load_view(name, digest)  # only an entry bound to these bytes
    if entry is not None:
        try:
            return artifact.deserialize(engine, entry)
        except wasmtime.WasmtimeError:
            pass  # ours, but from another wasmtime build: compiled again and replaced
    wasm = make()
    try:
        component = wc.Component(engine, wasm)
    except wasmtime.WasmtimeError as err:
        raise LoadError(f"not a valid component: {err}") from err
    report(kind, wasm)
    disk.save(name, digest, component.serialize())
    return component
