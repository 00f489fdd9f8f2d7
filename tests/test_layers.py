"""The package is a layered graph (docs/architecture.md draws it).

Every import of every module under ``src/nanonet`` is read with ``ast``:
module-level ones, those inside functions and those under ``if
TYPE_CHECKING:``. A module may import its own package, the packages of its
own layer (as long as no cycle forms between them) and lower layers. Going
up is refused, whatever the kind of import, unless the pair is in
``ALLOWED`` with its reason. Imports spelled as strings
(``importlib.import_module``, ``python -m``) are not imports here: the CLI
loads its subcommand modules that way, the benchmark's among them.

wasmtime-py's private API (``wasmtime._ffi``, ``_bindings`` and the other
``wasmtime._*`` modules, and private attributes of its objects) is used only
in ``nanonet/capi/``; the names it uses are listed in docs/architecture.md.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import nanonet

SRC = Path(nanonet.__file__).parent
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# bottom up; a unit is the first name under ``nanonet.`` (a package or a module),
# ``nanonet`` itself is the package's __init__ (the public names)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "version", "wit"),  # leaves, importable by all
    ("capi",),
    ("host",),
    ("ring",),
    ("policy",),
    ("runtime",),
    ("mesh",),
    ("manifest", "component", "observe", "toolchain", "bridge", "cli", "web"),
    ("bench", "demo", "telemetry", "examples", "nanonet"),  # outside, at the top
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

# (importing module, imported module prefix, kind) -> why it may go up
ALLOWED: dict[tuple[str, str, str], str] = {
    ("nanonet.mesh", "nanonet.component", "function"):
        "Mesh.component() loads the component layer (and wasmtime.component) only "
        "when it is called: the facade hands components to the layer above it",
    ("nanonet.mesh", "nanonet.component", "type-checking"):
        "the annotation of Mesh.component()'s return value",
    ("nanonet.host.engine", "nanonet.runtime.fastlink", "type-checking"):
        "the Runtime owns the cache of link plans (a collected Runtime takes them "
        "along) and names their type; only runtime/ builds and uses them",
}

# wasmtime-py's private attributes nanonet reads (on its objects, not on ``self``)
PRIVATE_ATTRS = frozenset({"_context", "_from_ptr", "_from_raw", "_func", "_consume"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module it imports
    kind: str  # "module", "function" or "type-checking"
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "nanonet"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The nanonet modules one import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "nanonet"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        resolved = ".".join([*base, *([node.module] if node.module else [])])
    else:
        resolved = node.module or ""
    if resolved.split(".")[0] != "nanonet":
        return []
    out = []
    for alias in node.names:  # ``from pkg import submodule`` imports the submodule
        sub = f"{resolved}.{alias.name}"
        folder = SRC.parent.joinpath(*sub.split("."))
        out.append(sub if folder.with_suffix(".py").is_file() or folder.is_dir() else resolved)
    return out


def imports_of(module: str, source: str, is_package: bool = False) -> list[Import]:
    """Every nanonet import in ``source``, with where it stands."""
    found: list[Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(module, t, kind, child.lineno)
                             for t in _targets(module, is_package, child))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, "function" if kind == "module" else kind)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), "type-checking")
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), kind)
            else:
                visit(child, kind)

    visit(ast.parse(source), "module")
    return found


def all_imports() -> list[Import]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if any(part.startswith("guest_") for part in path.parts):
            continue  # guest sources compiled to components, not part of the package
        out += imports_of(module_name(path), path.read_text(), path.name == "__init__.py")
    return out


def _allowed(imp: Import) -> bool:
    return any(imp.module == m and (imp.target == t or imp.target.startswith(t + "."))
               and imp.kind == k for m, t, k in ALLOWED)


def upward(imports: list[Import]) -> list[str]:
    """One line per import that goes to a higher layer and is not allowed."""
    bad = []
    for imp in imports:
        src, dst = unit(imp.module), unit(imp.target)
        if src not in RANK or dst not in RANK:
            bad.append(f"{imp.module}:{imp.line}: imports {imp.target}: "
                       f"{src if src not in RANK else dst} is in no layer of LAYERS")
        elif RANK[dst] > RANK[src] and not _allowed(imp):
            bad.append(f"{imp.module}:{imp.line}: imports {imp.target} ({imp.kind}): "
                       f"layer {RANK[src]} ({src}) may import only its own layer and lower "
                       f"ones, and {dst} is layer {RANK[dst]}")
    return bad


def cycles(imports: list[Import]) -> list[str]:
    """A line per cycle between packages of one layer, naming one import of each step."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        src, dst = unit(imp.module), unit(imp.target)
        if src != dst and RANK.get(src) == RANK.get(dst) and not _allowed(imp):
            edges.setdefault(src, {}).setdefault(dst, imp)
    found: list[str] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(edges.get(path[-1], {})):
            if nxt == path[0]:
                ring = [*path, nxt]
                if frozenset(ring) not in seen:
                    seen.add(frozenset(ring))
                    steps = [edges[a][b] for a, b in itertools.pairwise(ring)]
                    found.append(f"import cycle between layer {RANK[path[0]]} packages "
                                 + " -> ".join(ring) + ": "
                                 + "; ".join(f"{s.module}:{s.line} imports {s.target}"
                                             for s in steps))
            elif nxt not in path:
                walk([*path, nxt])

    for start in sorted(edges):
        walk([start])
    return found


def test_every_unit_of_the_package_has_a_layer() -> None:
    units = {unit(module_name(p)) for p in SRC.rglob("*.py")}
    assert units - set(RANK) == set(), "add the new package to LAYERS and docs/architecture.md"


def test_no_module_imports_a_higher_layer() -> None:
    assert upward(all_imports()) == []


def test_no_import_cycle_between_packages_of_one_layer() -> None:
    assert cycles(all_imports()) == []


def test_every_allowed_upward_import_is_still_there() -> None:
    """An exception nobody needs any more is removed, not kept."""
    imports = all_imports()
    for module, target, kind in ALLOWED:
        assert any(i.module == module and i.target.startswith(target) and i.kind == kind
                   for i in imports), (module, target, kind)


def test_an_upward_import_is_named_with_its_module_line_and_rule() -> None:
    source = "import ctypes\n\ndef f():\n    from ..runtime.service import Service\n"
    found = imports_of("nanonet.ring.control", source)
    assert upward(found) == [
        "nanonet.ring.control:4: imports nanonet.runtime.service (function): layer 3 (ring) "
        "may import only its own layer and lower ones, and runtime is layer 5"]


def test_type_checking_imports_are_read_and_judged() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from nanonet.mesh import Mesh\nelse:\n"
              "    from nanonet.errors import LoadError\n")
    found = imports_of("nanonet.host.ticker", source)
    assert [(i.target, i.kind) for i in found] == [("nanonet.mesh", "type-checking"),
                                                  ("nanonet.errors", "module")]
    assert len(upward(found)) == 1 and "(type-checking)" in upward(found)[0]


def test_a_cycle_inside_one_layer_is_named_with_both_imports() -> None:
    found = [*imports_of("nanonet.observe.x", "from ..component import host\n"),
             *imports_of("nanonet.component.host", "from ..observe.x import y\n")]
    assert upward(found) == []
    assert cycles(found) == [
        "import cycle between layer 7 packages component -> observe -> component: "
        "nanonet.component.host:1 imports nanonet.observe.x; "
        "nanonet.observe.x:1 imports nanonet.component.host"]


# -- wasmtime-py's private API ------------------------------------------------------


def private_uses(path: Path) -> set[str]:
    """The private wasmtime-py names a module uses: ``wasmtime._x`` modules it
    imports, ``ffi.name`` / ``_bindings.name`` it reads, private attributes
    it reads on objects other than ``self``."""
    tree = ast.parse(path.read_text())
    aliases: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("wasmtime._"):
                used |= {f"{node.module}.{a.name}" for a in node.names}
            elif node.module == "wasmtime":
                for a in node.names:
                    if a.name.startswith("_"):
                        aliases.add(a.asname or a.name)
                        used.add(f"wasmtime.{a.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add(f"{node.value.id}.{node.attr}")
        elif node.attr in PRIVATE_ATTRS and not (
                isinstance(node.value, ast.Name) and node.value.id == "self"):
            used.add(f".{node.attr}")
    return used


def test_only_capi_uses_wasmtimes_private_api() -> None:
    outside = {str(p.relative_to(SRC)): private_uses(p) for p in sorted(SRC.rglob("*.py"))
               if p.relative_to(SRC).parts[0] != "capi"}
    assert {name: uses for name, uses in outside.items() if uses} == {}


def test_the_architecture_doc_lists_the_private_names_capi_uses() -> None:
    used = set().union(*(private_uses(p) for p in (SRC / "capi").glob("*.py")))
    text = DOC.read_text().split("## wasmtime-py's private API", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w.]+)`", text))
    assert used <= listed, f"add to docs/architecture.md: {sorted(used - listed)}"
    assert listed <= used, f"no longer used: {sorted(listed - used)}"
