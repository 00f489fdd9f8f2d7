"""A component's prelude (the types, imports and aliases before its first
definition), copied into another component with every index renumbered.

A component made by wit-component (componentize-py, componentize-js,
``wasm-tools component new``) declares what it imports in its first
sections: type definitions, imports of instances typed by them, and
aliases of the types those instances export. ``compose.py`` builds a
component that imports what two components import: it copies both
preludes one after the other, so the second one's indices move up by the
first one's counts (and an import both declare is kept once). Nothing
else of a component needs reading: the component itself is nested whole.

Only the index spaces a prelude can define are tracked (type, instance,
func, component, value); a prelude with core types or core aliases is
refused (``LoadError``). An import that is replaced (``swap``) is not
copied: references to it go to the item that replaces it, which is defined
before the prelude is copied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import LoadError
from . import binary as b
from .binary import Reader

Ref = Callable[[int, int], int]  # (sort, old index) -> new index, at the top level
_PRELUDE = (b.TYPE, b.IMPORT, b.ALIAS)
_MAX_DEPTH = 32  # types inside types inside types: wit-component writes two levels
_DESC_SORT = {0x01: b.SORT_FUNC, 0x02: b.SORT_VALUE, 0x03: b.SORT_TYPE,
              0x04: b.SORT_COMPONENT, 0x05: b.SORT_INSTANCE}


class _Copy:
    """Copies definitions from ``r`` to ``w``, renumbering top-level references."""

    def __init__(self, r: Reader, ref: Ref) -> None:
        self.r, self.w, self.ref = r, bytearray(), ref

    def raw(self, n: int = 1) -> int:
        self.w += self.r.take(n)
        return self.w[-1]

    def u32(self) -> int:
        value = self.r.u32()
        self.w += b.u32(value)
        return value

    def label(self) -> None:
        self.w += b.name(self.r.name())

    def index(self, sort: int, depth: int) -> None:
        value = self.r.u32()
        self.w += b.u32(self.ref(sort, value) if depth == 0 else value)

    def vec(self, item: Callable[[], None]) -> None:
        for _ in range(self.u32()):
            item()

    def valtype(self, depth: int) -> None:
        value = self.r.s33()
        if value < 0:
            self.w += b.s33(value)  # a primitive
        else:
            self.w += b.s33(self.ref(b.SORT_TYPE, value) if depth == 0 else value)

    def maybe_valtype(self, depth: int) -> None:
        if self.raw():
            self.valtype(depth)

    def field(self, depth: int) -> None:
        """A record field or a parameter: a name and its type."""
        self.label()
        self.valtype(depth)

    def case(self, depth: int) -> None:
        """A variant case: a name, its payload type if any, and a zero byte."""
        self.label()
        self.maybe_valtype(depth)
        self.raw()

    def deftype(self, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise LoadError("a component's import types nest deeper than nanonet copies")
        tag = self.raw()
        if tag in (0x40, 0x43):  # func
            self.vec(lambda: self.field(depth))
            if self.raw() == 0x00:
                self.valtype(depth)
            else:
                self.raw()
        elif tag == 0x41:  # component type
            self.vec(lambda: self.decl(depth + 1, component=True))
        elif tag == 0x42:  # instance type
            self.vec(lambda: self.decl(depth + 1, component=False))
        elif tag == 0x3F:  # resource
            self.raw()
            if self.raw():
                self.index(b.SORT_CORE, 1)  # a core func: none in a prelude
        else:
            self.defvaltype(tag, depth)

    def defvaltype(self, tag: int, depth: int) -> None:
        if tag == 0x72:
            self.vec(lambda: self.field(depth))
        elif tag == 0x71:
            self.vec(lambda: self.case(depth))
        elif tag in (0x70, 0x6B):
            self.valtype(depth)
        elif tag == 0x67:
            self.valtype(depth)
            self.u32()
        elif tag == 0x6F:
            self.vec(lambda: self.valtype(depth))
        elif tag in (0x6E, 0x6D):
            self.vec(self.label)
        elif tag == 0x6A:
            self.maybe_valtype(depth)
            self.maybe_valtype(depth)
        elif tag in (0x69, 0x68):
            self.index(b.SORT_TYPE, depth)
        elif tag in (0x66, 0x65):
            self.maybe_valtype(depth)
        elif not (tag == 0x64 or 0x73 <= tag <= 0x7F):
            raise LoadError(f"component type 0x{tag:02x} is not one nanonet can copy")

    def decl(self, depth: int, component: bool) -> None:
        tag = self.raw()
        if tag == 0x01:
            self.deftype(depth)
        elif tag == 0x02:
            self.alias(depth)
        elif tag == 0x04 or (tag == 0x03 and component):
            self.extname()
            self.externdesc(depth)
        else:
            raise LoadError("an import's type declares core types, which nanonet cannot "
                            "copy into a composition")

    def sort(self) -> int:
        sort = self.raw()
        if sort == b.SORT_CORE:
            raise LoadError("a component's imports alias core items, which nanonet cannot "
                            "copy into a composition")
        return sort

    def alias(self, depth: int) -> int:
        sort = self.sort()
        target = self.raw()
        if target == 0x00:
            self.index(b.SORT_INSTANCE, depth)
            self.label()
        elif target == 0x02:
            outer = self.u32()
            self.index(sort, depth - outer)
        else:
            raise LoadError("a component's imports alias core exports, which nanonet "
                            "cannot copy into a composition")
        return sort

    def extname(self) -> str:
        tag = self.raw()
        text = self.r.name()
        self.w += b.name(text)
        if tag == 0x01:
            self.label()  # a version suffix
        return text

    def externdesc(self, depth: int) -> int:
        tag = self.raw()
        if tag == 0x00:
            raise LoadError("a component imports a core module, which nanonet cannot "
                            "copy into a composition")
        if tag == 0x02:
            if self.raw() == 0x00:
                self.index(b.SORT_VALUE, depth)
            else:
                self.valtype(depth)
        elif tag == 0x03:
            if self.raw() == 0x00:
                self.index(b.SORT_TYPE, depth)
        elif tag in _DESC_SORT:
            self.index(b.SORT_TYPE, depth)
        else:
            raise LoadError(f"a component's import has kind 0x{tag:02x}, which nanonet "
                            "does not know")
        return _DESC_SORT[tag]


@dataclass
class Space:
    """The composite's index spaces as they fill, and its imports by name."""

    counts: dict[int, int] = field(default_factory=dict)
    imports: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (sort, idx)
    body: list[tuple[int, bytes]] = field(default_factory=list)  # (section id, one item)

    def new(self, sort: int) -> int:
        self.counts[sort] = self.counts.get(sort, 0) + 1
        return self.counts[sort] - 1

    def emit(self, sid: int, item: bytes) -> None:
        self.body.append((sid, item))

    def sections(self) -> bytes:
        """The items emitted so far, runs of one section id made one section."""
        out, run, sid = bytearray(), list[bytes](), -1
        for item_sid, item in [*self.body, (-1, b"")]:
            if (item_sid != sid or sid == b.COMPONENT) and run:
                # a nested component is a section of its own, not a vector
                out += b.section(sid, run[0] if sid == b.COMPONENT else b.vec(run))
                run = []
            sid = item_sid
            run.append(item)
        return bytes(out)


@dataclass
class Copied:
    """One component's prelude as copied: what each of its imports became."""

    imports: dict[str, tuple[int, int]]  # name -> (sort, index in the composite)
    swapped: set[str]
    end: int  # the first section after the prelude


class _Prelude:
    def __init__(self, component: bytes, space: Space, swap: Mapping[str, tuple[int, int]],
                 who: str) -> None:
        self.space, self.swap, self.who = space, swap, who
        self.map: dict[int, list[int]] = {}
        self.copied = Copied({}, set(), 0)
        self.component = component

    def ref(self, sort: int, old: int) -> int:
        news = self.map.get(sort, [])
        if old >= len(news):
            raise LoadError(f"{self.who}: its imports refer to an item not defined before "
                            "them: nanonet cannot compose it")
        return news[old]

    def define(self, sort: int, new: int) -> None:
        self.map.setdefault(sort, []).append(new)

    def run(self) -> Copied:
        for sec in b.sections(self.component):
            if sec.sid == b.CUSTOM:
                continue
            if sec.sid not in _PRELUDE:
                self.copied.end = sec.start
                break
            r = Reader(self.component, sec.start, sec.end)
            for _ in range(r.u32()):
                self.item(sec.sid, r)
        return self.copied

    def item(self, sid: int, r: Reader) -> None:
        c = _Copy(r, self.ref)
        if sid == b.TYPE:
            c.deftype(0)
            self.define(b.SORT_TYPE, self.space.new(b.SORT_TYPE))
        elif sid == b.ALIAS:
            sort = c.alias(0)
            self.define(sort, self.space.new(sort))
        else:
            self.import_(c)
            return
        self.space.emit(sid, bytes(c.w))

    def import_(self, c: _Copy) -> None:
        name = c.extname()
        sort = c.externdesc(0)
        if name in self.swap:
            self.copied.swapped.add(name)
            swap_sort, idx = self.swap[name]
            if swap_sort != sort:
                raise LoadError(f"{self.who} imports {name!r} as another kind of item than "
                                "what replaces it")
            self.define(sort, idx)
            return
        if name in self.space.imports:  # both import it: one import serves both
            known_sort, idx = self.space.imports[name]
            if known_sort != sort:
                raise LoadError(f"{self.who} imports {name!r} as another kind of item than "
                                "the component it is composed with")
        else:
            idx = self.space.new(sort)
            self.space.imports[name] = (sort, idx)
            self.space.emit(b.IMPORT, bytes(c.w))
        self.copied.imports[name] = (sort, idx)
        self.define(sort, idx)


def skip_externdesc(r: Reader) -> None:
    """Read past an extern descriptor (an export's type ascription)."""
    _Copy(r, lambda _sort, idx: idx).externdesc(1)


def copy_prelude(component: bytes, space: Space, swap: Mapping[str, tuple[int, int]],
                 who: str) -> Copied:
    """Copy ``component``'s prelude into ``space``, its imports named in ``swap``
    replaced by the (sort, index) given there; what each import became."""
    return _Prelude(component, space, swap, who).run()
