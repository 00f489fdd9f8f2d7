"""A workaround for wasmtime-py's SharedMemory import bug (issue #318).

wasmtime-py 50.0.1 builds the extern of a ``SharedMemory`` with
``ctypes.pointer(self.ptr())``, wrapping the pointer twice, so passing a shared
memory as an import raises a ctypes ``TypeError`` (and ``size()`` has the same
fault). ``apply()`` replaces the two methods with versions that pass the
pointer once. It probes first and patches only a broken wasmtime, so the
workaround drops out by itself once the upstream fix is released; delete this
module then.
"""

from __future__ import annotations

import wasmtime
from wasmtime import _ffi as ffi


def _fixed_as_extern(self: wasmtime.SharedMemory) -> ffi.wasmtime_extern_t:
    union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
    return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)


def _fixed_size(self: wasmtime.SharedMemory) -> int:
    return int(ffi.wasmtime_sharedmemory_size(self.ptr()))


def is_broken(engine: wasmtime.Engine) -> bool:
    """True if this wasmtime-py cannot pass a SharedMemory as an import."""
    mem = wasmtime.SharedMemory(engine, wasmtime.MemoryType(wasmtime.Limits(1, 1), shared=True))
    try:
        mem._as_extern()
        mem.size()
    except TypeError:
        return True
    finally:
        mem.close()
    return False


def apply(engine: wasmtime.Engine) -> bool:
    """Patch SharedMemory if (and only if) it is broken; True if patched."""
    if not is_broken(engine):
        return False
    wasmtime.SharedMemory._as_extern = _fixed_as_extern  # type: ignore[method-assign]
    wasmtime.SharedMemory.size = _fixed_size  # type: ignore[method-assign]
    return True

