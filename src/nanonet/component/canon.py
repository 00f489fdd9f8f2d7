"""Every WIT value kind across the core API, as the canonical ABI lays it out.

    cx = Cx(store, memory, realloc)                # the guest's, bound to the store
    core = lower_params(cx, sig, args)             # an export's core arguments
    value = lift_result(cx, sig.result, raw)       # its result, flat or from the return area
    args = lift_params(cx, sig, core)              # an import's arguments, in a host function
    store_result(cx, sig.result, value, retptr)    # its result, at the guest's return pointer

The Wasm tunnel path (``ringpath.py``) calls a component's exports through
their ``canon lift`` with the core API, and serves imports given Python with
core host functions (``ringhost.py``); this is how their values cross.
Three parts, following the component model's ``definitions.py``:

- ``canon_layout``: size, alignment, field and payload offsets, and flat
  core types of every kind (tuples as records; enums, options and results
  as variants; flags as i32 words);
- ``canon_flat``: values as flat core values (a variant's payload coerced to
  the joined slot types), and whole signatures: up to 16 parameters and 1
  result flat, more through memory allocated with the guest's ``realloc``;
- ``canon_mem``: load and store in the guest's memory, one ``Memory.read`` or
  ``Memory.write`` per contiguous buffer (a list of numbers is one ``struct``
  call), strings UTF-8.

Python values are the value layer's (``values.py``): a record is a dict, a
variant a ``Variant``, a result ``Ok``/``Err``, an option None or its value
(``Some`` when nested), an enum its case name, flags a frozenset. What the
canonical ABI traps on fails with the component runtime's own words, as a
``wasmtime.WasmtimeError``: a discriminant out of range, a char that is no
Unicode scalar value, bad UTF-8, a pointer past the memory or off its
alignment, a ``realloc`` result past the memory or misaligned.
Resources, futures and streams are not lowered (``canon_layout.carried``).
"""

from __future__ import annotations

from .canon_flat import (
           core_types,
           lift_params,
           lift_result,
           lower_flat,
           lower_params,
           signed,
           store_result,
)
from .canon_layout import alignment, carried, flatten, size
from .canon_mem import Cx

__all__ = ["Cx", "alignment", "carried", "core_types", "flatten", "lift_params", "lift_result",
           "lower_flat", "lower_params", "signed", "size", "store_result"]
