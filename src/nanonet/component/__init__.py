"""Component-model services: WIT-typed calls over ``wasmtime.component``."""

from .compose import Plug, compose
from .host import Instance, Loaded, load
from .shapes import Shape, Signature
from .values import Err, Ok, Some, Variant

__all__ = ["Err", "Instance", "Loaded", "Ok", "Plug", "Shape", "Signature", "Some", "Variant",
           "compose", "load"]
