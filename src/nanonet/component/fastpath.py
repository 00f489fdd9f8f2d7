"""Whether a component's data plane can run with no host in its path, and why not.

    verdict = judge(binary)      # FastPath(possible=False, toolchain="componentize-py", why=...)

``lines`` adds what ``ringplan.decide`` chose for a component's tunnel
imports (the Wasm path on the ring, or the host path and why).

``split.data_plane`` takes out the one core module of a "tunnel component"
that imports the ``nanonet`` ABI and runs it as a core service: then no
message crosses Python. Any other component moves its messages through WIT
imports, which the canonical ABI lowers into host functions (a copy and a
Python call per message). ``nanonet check`` prints this for every component
so an author sees which of the two a guest is before running it; the reasons
for componentize-py and componentize-js guests are in docs/components.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LoadError
from ..policy.wasmbin import Reader, WasmFormatError
from ..policy.wasmmod import import_modules
from .ringplan import NO_TUNNEL, Choice
from .split import ABI, COMPONENT_HEADER, core_modules

CUSTOM, COMPONENT = 0, 4
PY, JS = "componentize-py", "componentize-js"

WHY_PY = ("built by componentize-py: its core modules are CPython (libpython and "
          "its extension modules, dynamically linked) running the guest as bytecode, "
          "and Python code cannot declare a core import, so none of them imports the "
          "nanonet ABI; its messages leave through WIT imports lowered into host "
          "functions (a copy and a Python call per message)")
WHY_JS = ("built by componentize-js: the guest is JavaScript run by StarlingMonkey "
          "(SpiderMonkey) in one core module whose imports are the component's own "
          "lowered WIT functions; JavaScript cannot name a core import, so nothing in "
          "it can call the nanonet ABI; its messages leave through WIT imports lowered "
          "into host functions (a copy and a Python call per message)")


@dataclass(frozen=True)
class FastPath:
    """``possible``: ``split.data_plane`` finds exactly one data-plane module."""

    possible: bool
    why: str
    toolchain: str = ""

    def line(self, name: str) -> str:
        """What ``nanonet check`` prints for component ``name``."""
        head = "runs without the host" if self.possible else "needs the host in its path"
        return f"component {name!r} data plane {head}: {self.why}"


def _producers(body: bytes) -> set[str]:
    """The tool names of one ``producers`` custom section's payload."""
    r, names = Reader(body), set()
    for _ in range(r.u32()):
        r.name()  # the field: language, processed-by, sdk
        for _ in range(r.u32()):
            names.add(r.name())
            r.name()  # its version
    return names


def tools(binary: bytes) -> set[str]:
    """Every tool a component's top-level and nested ``producers`` sections name."""
    r, names = Reader(binary, 8), set()
    while not r.done:
        section, body = r.byte(), r.take(r.u32())
        if section == CUSTOM:
            inner = Reader(body)
            if inner.name() == "producers":
                names |= _producers(body[inner.pos:])
        elif section == COMPONENT:
            names |= tools(body)
    return names


def toolchain(binary: bytes) -> str:
    """``componentize-py``, ``componentize-js`` or "" (another or unknown)."""
    names = tools(binary)
    if "ComponentizeJS" in names:
        return JS
    if "component-init-transform" in names and b"libpython3" in binary:
        return PY
    return ""


def judge(binary: bytes) -> FastPath:
    """Whether ``split.data_plane`` can take this component's data plane out."""
    if binary[:8] != COMPONENT_HEADER:
        raise LoadError("not a component binary (no \\0asm header of layer 1)")
    try:
        modules = list(core_modules(binary))
        planes = sum(ABI in import_modules(m) for m in modules)
        made_by = toolchain(binary)
    except WasmFormatError as err:
        raise LoadError(f"not a well-formed component: {err}") from err
    if planes == 1:
        return FastPath(True, f"one of its {len(modules)} core modules imports the {ABI} "
                        "ABI: split.data_plane runs it as a core service on the rings, "
                        "no Python per message", made_by)
    if planes > 1:
        return FastPath(False, f"{planes} of its core modules import the {ABI} ABI; a "
                        "tunnel component carries exactly one (its data plane)", made_by)
    why = {PY: WHY_PY, JS: WHY_JS}.get(made_by, (
        f"none of its {len(modules)} core modules imports the {ABI} ABI: its messages "
        "leave through WIT imports lowered into host functions (a copy and a Python call "
        f"per message); a core module importing {ABI} (docs/abi.md) inside the component "
        "would be its data plane"))
    return FastPath(False, why, made_by)


def lines(name: str, binary: bytes, choice: Choice | None) -> list[str]:
    """What ``nanonet check`` prints for component ``name``: on the Wasm tunnel
    path (``ringplan.decide`` chose it when the mesh loaded it), that; else the
    verdict of ``judge`` and, if it writes tunnels, why they take the host path."""
    if choice is not None and choice.wasm:
        return [FastPath(True, choice.why).line(name)]
    out = [judge(binary).line(name)]
    if choice is not None and choice.why != NO_TUNNEL:
        out.append(f"component {name!r} tunnel imports take the {choice.why}")
    return out
