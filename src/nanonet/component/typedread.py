"""A component reading a typed tunnel: an import that returns the next record(s).

    mesh.tunnel("events", wit_type="nanonet:tunnel/types.event")
    mesh.component("reader", wasm, imports={"receive": "tunnel:events"})

An import wired to ``"tunnel:NAME"`` that takes nothing and returns
``option<T>`` or ``list<T>``, where T is the typed tunnel's record, reads
the tunnel (world ``event-reader`` of ``nanonet:tunnel``): the component
holds its read end, and each call takes what is waiting without blocking,
``option<T>`` the next message (none if the ring is empty), ``list<T>``
every message waiting (empty if none). Any other signature is a LoadError
naming both types, and a tunnel without a type has no record to lower.

A message is the record's canonical memory image with offsets from its
start (typed.py). It is decoded with every offset, length, case index,
char and string checked against the message, then lowered into the
import's result: on the host path by the component runtime, from the
decoded values; on the Wasm path by a core host function (``ringhost.py``)
that copies the message whole into the guest through its ``realloc`` and
moves its pointers (``typedcopy.py``). A message that is not a record is
never lowered: the call fails with ``InvalidValue`` (the component's call
traps, its caller gets the error) and the message is consumed (for
``list<T>``, the whole batch taken), so the next read goes on with the
next. A closed and drained tunnel fails the call with ``TunnelClosed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LoadError
from ..ring.endpoint import TunnelReader
from .canon_flat import store_result
from .canon_mem import Cx
from .host import Loaded, short
from .shapes import Shape, Signature
from .typed import RecordLayout, wit_text
from .typedcopy import store_list, store_option

if TYPE_CHECKING:
    from ..mesh import Mesh

TUNNEL = "tunnel:"
READS = ("option", "list")  # the results a reading import may have


class TunnelRead:
    """The function serving one reading import: one try of the ring per call."""

    def __init__(self, reader: TunnelReader, layout: RecordLayout, many: bool,
                 tunnel: str) -> None:
        self.reader, self.layout, self.many, self.tunnel = reader, layout, many, tunnel
        self.copy = True  # False: lower the decoded values (bench.typed_read compares)

    def __call__(self) -> Any:
        """The next record or None (``option``), or every waiting record (``list``)."""
        if self.many:
            return [self.layout.decode(m) for m in self.reader.try_recv_many()]
        msg = self.reader.try_recv()
        return None if msg is None else self.layout.decode(msg)

    def lower_into(self, cx: Cx, result: Shape, retptr: int) -> None:
        """The call's result stored at ``retptr`` with no Python values between
        (``typedcopy.py``): each message checked, then copied, pointers moved."""
        if not self.copy:
            store_result(cx, result, self(), retptr)
            return
        if self.many:
            msgs = [bytes(m) for m in self.reader.try_recv_many()]
            for each in msgs:
                self.layout.decode(each)  # the checks; InvalidValue for a bad one
            store_list(cx, self.layout, msgs, retptr)
            return
        got = self.reader.try_recv()
        one = None if got is None else bytes(got)
        if one is not None:
            self.layout.decode(one)
        store_option(cx, result, self.layout, one, retptr)

    def describe(self) -> str:
        """``tunnel 'events' (nanonet:tunnel/types.event {...})``, for ``nanonet check``."""
        return f"tunnel {self.tunnel!r} ({self.layout.describe()})"


def reads(sig: Signature) -> bool:
    """Whether an import of ``sig`` reads its tunnel: no parameters, a result of
    ``option<_>`` or ``list<_>`` (every tunnel import that writes returns nothing)."""
    return not sig.params and sig.result is not None and sig.result.kind in READS


def _signature(loaded: Loaded, key: str) -> Signature | None:
    for name, want in loaded.imports.items():
        if key in (name, name.split("@")[0], short(name)):
            if isinstance(want, Signature):
                return want
            return next(iter(want.values())) if len(want) == 1 else None
    return None


def _fn_of(loaded: Loaded, key: str) -> tuple[str, bool]:
    """The name under which ``imports`` gives the function, and whether it is an
    interface's (given as ``{fname: fn}``)."""
    for name, want in loaded.imports.items():
        if key in (name, name.split("@")[0], short(name)) and not isinstance(want, Signature):
            return next(iter(want)), True
    return key, False


def check(sig: Signature, layout: RecordLayout | None, who: str, tunnel: str) -> bool:
    """Whether the import of ``sig`` reads ``tunnel`` as ``layout``'s record
    (a list of them if True); a LoadError if it reads anything else."""
    assert sig.result is not None
    item = sig.result.items[0]
    if layout is None:
        raise LoadError(f"{who} returns {wit_text(sig.result)} from tunnel {tunnel!r}, "
                        "which has no WIT type: declare the tunnel with wit_type= (manifest: "
                        "type = ...) to read records from it")
    if item is None or not layout.matches(item):
        raise LoadError(f"{who} takes func() -> {wit_text(sig.result)}, but tunnel "
                        f"{tunnel!r} carries {layout.describe()}: return option<T> or "
                        "list<T> of that record to read it, or take the record to write it")
    return sig.result.kind == "list"


def take(mesh: Mesh, owner: str, loaded: Loaded, imports: Mapping[str, Any],
         ) -> tuple[dict[str, Any], list[TunnelReader]]:
    """``imports`` with every reading ``"tunnel:X"`` made its ``TunnelRead``
    (an interface's as ``{fname: fn}``), and the read ends taken."""
    out, ends, held = dict(imports), list[TunnelReader](), dict[str, TunnelReader]()
    for key, value in imports.items():
        if not (isinstance(value, str) and value.startswith(TUNNEL)):
            continue
        sig = _signature(loaded, key)
        if sig is None or not reads(sig):
            continue
        tunnel = value[len(TUNNEL):]
        many = check(sig, mesh.tunnel_types.get(tunnel),
                     f"component {owner!r}: import {key!r}", tunnel)
        if tunnel not in held:  # several imports may read one tunnel: one read end
            ends.append(held.setdefault(tunnel, mesh.reader(tunnel, owner=owner)))
        fn = TunnelRead(held[tunnel], mesh.tunnel_types[tunnel], many, tunnel)
        fname, nested = _fn_of(loaded, key)
        out[key] = {fname: fn} if nested else fn
    return out, ends


def read_imports(imports: Mapping[str, Any]) -> list[tuple[str, TunnelRead]]:
    """The reading imports of ``imports`` (after ``take``), by key."""
    out = []
    for key, value in imports.items():
        fns = value.values() if isinstance(value, Mapping) else [value]
        out += [(key, fn) for fn in fns if isinstance(fn, TunnelRead)]
    return out


def reads_text(reading: list[tuple[str, TunnelRead]], wasm: bool) -> str:
    """What ``nanonet check`` says of the imports reading typed tunnels."""
    how = ("a core host function checks each message and copies it in through the "
           "component's realloc, pointers moved" if wasm else "the component runtime "
           "lowers each message the host decoded")
    by: dict[str, tuple[list[str], TunnelRead]] = {}
    for key, fn in reading:
        by.setdefault(fn.tunnel, ([], fn))[0].append(repr(key))
    return "".join(f"; {', '.join(keys)} <- read {fn.describe()}: {how}"
                   for keys, fn in by.values())
