"""Component values and calls through the C API (``wasmtime_component_*``).

``component/values.py`` and ``component/lift.py`` convert Python values to
and from these C values by their Shapes; ``component/calls.py`` calls
exports and defines host functions with them. Ownership follows the C API:
a ``new_*`` container is filled in place and then owned by the value it is
stored in; ``free_*`` frees a container whose items were moved out.
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc
from wasmtime._slab import Slab as Slab  # host functions' table, as wasmtime-py keeps it

Val = ffi.wasmtime_component_val_t
BOOL = ffi.WASMTIME_COMPONENT_BOOL
ENUM = ffi.WASMTIME_COMPONENT_ENUM
LIST = ffi.WASMTIME_COMPONENT_LIST
TUPLE = ffi.WASMTIME_COMPONENT_TUPLE
RECORD = ffi.WASMTIME_COMPONENT_RECORD
OPTION = ffi.WASMTIME_COMPONENT_OPTION
RESULT = ffi.WASMTIME_COMPONENT_RESULT
VARIANT = ffi.WASMTIME_COMPONENT_VARIANT
FLAGS = ffi.WASMTIME_COMPONENT_FLAGS
HOST_CALLBACK_T: Any = ffi.wasmtime_component_func_callback_t

# a C string (wasm_name_t) holding ``text``, owned by whatever it is stored in
new_string = ffi.str_to_capi
# the text of a C string, which stays where it is
string = ffi.to_str
# free one heap-allocated value (from ``box``), given its pointer
free_boxed = ffi.wasmtime_component_val_delete


def vals(count: int) -> ctypes.Array[Any]:
    """An array of ``count`` empty values (at least one: C wants a pointer)."""
    return (Val * max(1, count))()


def free_val(val: Any) -> None:
    """Free what the value ``val`` holds (the value itself is not heap-allocated)."""
    ffi.wasmtime_component_val_delete(ctypes.byref(val))


def box(val: Any) -> Any:
    """A heap-allocated copy of ``val``, as variants, options and results hold them."""
    return ffi.wasmtime_component_val_new(ctypes.byref(val))


def take_string(name: Any) -> str:
    """The text of a C string, which is then freed."""
    text = ffi.to_str(name)
    ffi.wasm_byte_vec_delete(ctypes.byref(name))
    return text


def new_list(count: int) -> Any:
    """A list of ``count`` values to fill in place."""
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, count)
    return raw


def new_tuple(count: int) -> Any:
    raw = ffi.wasmtime_component_valtuple_t()
    ffi.wasmtime_component_valtuple_new_uninit(raw, count)
    return raw


def new_record(count: int) -> Any:
    """A record of ``count`` (name, value) entries to fill in place."""
    raw = ffi.wasmtime_component_valrecord_t()
    ffi.wasmtime_component_valrecord_new_uninit(raw, count)
    return raw


def new_flags(count: int) -> Any:
    """A set of ``count`` flag names to fill in place."""
    raw = ffi.wasmtime_component_valflags_t()
    ffi.wasmtime_component_valflags_new_uninit(raw, count)
    return raw


def free_list(raw: Any) -> None:
    ffi.wasmtime_component_vallist_delete(ctypes.byref(raw))


def free_tuple(raw: Any) -> None:
    ffi.wasmtime_component_valtuple_delete(ctypes.byref(raw))


def free_record(raw: Any) -> None:
    ffi.wasmtime_component_valrecord_delete(ctypes.byref(raw))


def free_flags(raw: Any) -> None:
    ffi.wasmtime_component_valflags_delete(ctypes.byref(raw))


def call_func(func: wc.Func, store: wasmtime.Store, params: ctypes.Array[Any], nparams: int,
              result: Any, nresults: int) -> wasmtime.WasmtimeError | None:
    """Call the component function ``func``; the error it ended with, if any."""
    err = ffi.wasmtime_component_func_call(ctypes.byref(func._func), store._context(),
                                           params, nparams, ctypes.byref(result), nresults)
    return wasmtime.WasmtimeError._from_ptr(err) if err else None


def error_address(error: wasmtime.WasmtimeError) -> int:
    """The address of ``error``'s C error, handed over to wasmtime (a raw host
    function returns it to fail its call)."""
    return ctypes.cast(error._consume(), ctypes.c_void_p).value or 0


def add_func(parent: wc.LinkerInstance, name: str, callback: Any, data: int,
             finalizer: Any) -> None:
    """Define ``name`` in ``parent`` as the raw ``callback`` (a ``HOST_CALLBACK_T``)
    called with ``data``; ``finalizer(data)`` runs when the definition is dropped."""
    raw = name.encode()
    err = ffi.wasmtime_component_linker_instance_add_func(
        parent.ptr(), ctypes.create_string_buffer(raw), len(raw), callback, data, finalizer)
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)


# list<u8> at memory speed: a list of values is an array of fixed-size C
# values, so strided slices of one buffer write or read every element's kind
# and byte at once (no Python per element)
_SIZE = ctypes.sizeof(Val)
_KIND = Val.kind.offset
_BYTE = Val.of.offset + type(Val().of).u8.offset
U8: int = ffi.WASMTIME_COMPONENT_U8.value


def new_bytes_list(data: bytes | bytearray | memoryview) -> Any:
    """A list of ``u8`` values holding ``data``, filled with one copy."""
    count = len(data)
    raw = new_list(count)
    if count:
        buf = bytearray(_SIZE * count)
        buf[_KIND::_SIZE] = bytes((U8,)) * count
        buf[_BYTE::_SIZE] = data
        ctypes.memmove(raw.data, (ctypes.c_char * len(buf)).from_buffer(buf), len(buf))
    return raw


def bytes_of_list(raw: Any) -> bytes | None:
    """The bytes of a list whose every value is a ``u8`` (None if one is not)."""
    count = raw.size
    if not count:
        return b""
    buf = ctypes.string_at(raw.data, _SIZE * count)
    if buf[_KIND::_SIZE].count(U8) != count:
        return None
    return buf[_BYTE::_SIZE]
