"""A component's instance graph, read from its binary: what the ring path runs.

    plan = read_graph(binary)     # or Unfit("... nests components: ...")

A component made by wit-component from a C guest (and most hand-written
WAT) is flat: core modules, core instances (instantiated or bundled from
exports), aliases of their exports, ``canon lower`` of its imported
functions and ``canon lift`` of the functions it exports. That graph is
all a Store needs to run the same core modules with the core API, where a
lowered import can be served by a generated Wasm function that reaches a
tunnel's shared memory (which no component import can carry:
docs/components.md). An exported interface is read as the functions it
holds, whether written as an instance of exports or, as wit-component
writes it, as an instance of a shim component that only re-exports them
(``shim.py``). Anything else (other nested components or instantiations,
core types, resources, async built-ins) is ``Unfit``, with the reason: such
a component keeps the host-function path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import binary as b
from .binary import Reader
from .prelude import skip_externdesc
from .shim import NotFlat, Shim, instance_funcs, read_shim

# core sorts, as the component binary numbers them
CORE_FUNC, CORE_TABLE, CORE_MEMORY, CORE_GLOBAL = 0x00, 0x01, 0x02, 0x03
CORE_TYPE, CORE_MODULE, CORE_INSTANCE = 0x10, 0x11, 0x12
REFUSED = {b.CORE_TYPE: "core types", b.START: "a start function"}

BUILTINS = {0x02: "resource.new", 0x03: "resource.drop", 0x04: "resource.rep",
            0x07: "resource.drop async"}


class Unfit(Exception):
    """The component's structure is outside what the ring path runs; ``str`` says why."""


@dataclass(frozen=True)
class Opts:
    """A ``canon`` definition's options (indices into the core spaces)."""

    memory: int | None = None
    realloc: int | None = None
    post_return: int | None = None
    encoding: str = "utf8"


@dataclass(frozen=True)
class Op:
    """One definition, in binary order: ``kind`` says which fields matter.

    ``module``: ``data`` is a core module. ``instantiate``: ``index`` the
    module, ``args`` (name, core instance). ``bundle``: ``items`` (name,
    core sort, index). ``alias``: ``sort`` of export ``name`` of core
    instance ``index``. ``lower``: component function ``index`` with ``opts``.
    """

    kind: str
    index: int = 0
    name: str = ""
    sort: int = 0
    data: bytes = b""
    args: tuple[tuple[str, int], ...] = ()
    items: tuple[tuple[str, int, int], ...] = ()
    opts: Opts = Opts()


@dataclass
class Graph:
    """The ops, and the component function space: each function is an import
    (its name, ``iface#func`` for an interface's), or a lift of a core func."""

    ops: list[Op] = field(default_factory=list)
    # each: (import name, -1, _) or ("", core func, canon options)
    funcs: list[tuple[str, int, Opts]] = field(default_factory=list)
    exports: dict[str, int] = field(default_factory=dict)  # name -> component function
    instances: list[str] = field(default_factory=list)  # imported instances, by name
    # instances made of exports (an interface export): instance index -> {func: index}
    bundles: dict[int, dict[str, int]] = field(default_factory=dict)


def _opts(r: Reader) -> Opts:
    memory = realloc = post = None
    encoding = "utf8"
    for _ in range(r.u32()):
        tag = r.byte()
        if tag in (0x00, 0x01, 0x02):
            encoding = ("utf8", "utf16", "latin1+utf16")[tag]
        elif tag == 0x03:
            memory = r.u32()
        elif tag == 0x04:
            realloc = r.u32()
        elif tag == 0x05:
            post = r.u32()
        else:
            raise Unfit(f"a canon option 0x{tag:02x} (async or a callback)")
    return Opts(memory, realloc, post, encoding)


def _core_instance(r: Reader) -> Op:
    tag = r.byte()
    if tag == 0x00:
        module = r.u32()
        args = []
        for _ in range(r.u32()):
            name = r.name()
            if r.byte() != CORE_INSTANCE:
                raise Unfit("a core instantiation argument that is not an instance")
            args.append((name, r.u32()))
        return Op("instantiate", index=module, args=tuple(args))
    items = []
    for _ in range(r.u32()):
        name = r.name()
        sort = r.byte()
        items.append((name, sort, r.u32()))
    return Op("bundle", items=tuple(items))


class _Reading:
    """One pass over the top-level sections, filling a Graph."""

    def __init__(self, binary: bytes) -> None:
        self.binary, self.graph = binary, Graph()
        self.shims: list[Shim] = []  # nested components: only wit-component's shims

    def _component(self, r: Reader) -> None:
        shim = read_shim(r.take(r.end - r.pos))
        if shim is None:
            raise Unfit("it holds nested components")
        self.shims.append(shim)

    def run(self) -> Graph:
        handlers = {b.CORE_MODULE: self._module, b.CORE_INSTANCE: self._core_instances,
                    b.ALIAS: self._aliases, b.CANON: self._canons, b.IMPORT: self._imports,
                    b.EXPORT: self._exports, b.INSTANCE: self._instances,
                    b.COMPONENT: self._component}
        for sec in b.sections(self.binary):
            if sec.sid in REFUSED:
                raise Unfit(f"it holds {REFUSED[sec.sid]}")
            handler = handlers.get(sec.sid)
            if handler is not None:
                handler(Reader(self.binary, sec.start, sec.end))
        return self.graph

    def _module(self, r: Reader) -> None:
        self.graph.ops.append(Op("module", data=r.take(r.end - r.pos)))

    def _core_instances(self, r: Reader) -> None:
        for _ in range(r.u32()):
            self.graph.ops.append(_core_instance(r))

    def _aliases(self, r: Reader) -> None:
        for _ in range(r.u32()):
            sort = r.byte()
            core = r.byte() if sort == b.SORT_CORE else -1
            target = r.byte()
            if target == 0x02:  # outer: only types, which nothing here needs
                r.u32()
                r.u32()
                if sort != b.SORT_TYPE:
                    raise Unfit("an outer alias of something other than a type")
                continue
            index, name = r.u32(), r.name()
            if target == 0x01 and sort == b.SORT_CORE:
                if core not in (CORE_FUNC, CORE_TABLE, CORE_MEMORY, CORE_GLOBAL):
                    raise Unfit(f"a core alias of sort 0x{core:02x}")
                self.graph.ops.append(Op("alias", index=index, name=name, sort=core))
            elif target == 0x00 and sort == b.SORT_FUNC and index in self.graph.bundles:
                self.graph.funcs.append(self.graph.funcs[self.graph.bundles[index][name]])
            elif target == 0x00 and sort == b.SORT_FUNC:
                self.graph.funcs.append((f"{self.graph.instances[index]}#{name}", -1, Opts()))
            elif sort != b.SORT_TYPE:
                raise Unfit(f"an alias of sort {sort} from an imported instance")

    def _canons(self, r: Reader) -> None:
        for _ in range(r.u32()):
            tag = r.byte()
            if tag not in (0x00, 0x01) or r.byte() != 0x00:
                what = BUILTINS.get(tag, "a threads or async built-in")
                raise Unfit(f"it uses canon {what} (0x{tag:02x}): resources and async "
                            "need the component runtime")
            index, opts = r.u32(), _opts(r)
            if tag == 0x00:
                r.u32()  # the lifted function's type: the signature comes from wasmtime
                self.graph.funcs.append(("", index, opts))
            else:
                self.graph.ops.append(Op("lower", index=index, opts=opts))

    def _imports(self, r: Reader) -> None:
        for _ in range(r.u32()):
            form = r.byte()
            name = r.name()
            if form == 0x01:
                r.name()  # a version suffix
            kind = r.byte()
            if kind == 0x01:
                r.u32()
                self.graph.funcs.append((name, -1, Opts()))
            elif kind == 0x05:
                r.u32()
                self.graph.instances.append(name)
            elif kind == 0x03:
                if r.byte() == 0x00:
                    r.u32()
            else:
                raise Unfit(f"the import {name!r} is a module, value or component")

    def _exports(self, r: Reader) -> None:
        for _ in range(r.u32()):
            if r.byte() == 0x01:
                r.name()
            name = r.name()
            sort = r.byte()
            if sort == b.SORT_CORE:
                raise Unfit(f"it exports {name!r}, a core item")
            index = r.u32()
            if r.byte():
                skip_externdesc(r)
            if sort == b.SORT_FUNC:
                self.graph.exports[name] = index
                self.graph.funcs.append(self.graph.funcs[index])  # an export is a new func
            elif sort == b.SORT_INSTANCE and index in self.graph.bundles:
                funcs = self.graph.bundles[index]  # an interface: iface#func, as Loaded names it
                self.graph.exports.update({f"{name}#{f}": i for f, i in funcs.items()})
                self._instance(dict(funcs))  # an export is a new instance
            elif sort != b.SORT_TYPE:
                raise Unfit(f"it exports {name!r}, which is not a function or an interface "
                            "of functions")

    def _instance(self, funcs: dict[str, int] | None) -> None:
        """One more component instance: imported (None) or made of ``funcs``."""
        if funcs is not None:
            self.graph.bundles[len(self.graph.instances)] = funcs
        self.graph.instances.append("")

    def _instances(self, r: Reader) -> None:
        """Instances made of exports, or of a shim (how an interface export is
        written, ``shim.py``); any other instantiation is refused."""
        for _ in range(r.u32()):
            try:
                self._instance(instance_funcs(r, self.shims))
            except NotFlat as why:
                raise Unfit(str(why)) from None


def read_graph(binary: bytes) -> Graph:
    """The component's graph, or ``Unfit`` naming what the ring path cannot run."""
    return _Reading(binary).run()
