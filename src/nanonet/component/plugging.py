"""``"component:NAME"``: an import served by another component, in the engine.

    mesh.component("auth", auth_wasm, wasi=True, imports={"access-logs": "tunnel:log"})
    mesh.component("router", router_wasm,
                   imports={"nanonet:auth/authenticator": "component:auth"})

The router's import is plugged with the auth component's export of the same
interface: the two are composed into one component (``compose.py``) that the
router's service runs, so a call from one to the other never leaves Wasm
(each keeps its own linear memory; wasmtime's fused adapter copies the
values). The plugged component then runs inside the router's service, not
as a service of its own: it leaves ``mesh.components``, and the tunnel ends
it held go with it. Each keeps its own grants: the composite imports what
either imports, and each import is wired to what its own component was
given; an import of either that nothing grants is a ``LoadError`` naming the
component that asked. Both may import one interface only if they are given
the same thing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LoadError
from ..policy.policy import Grants
from ..ring.end import End
from ..ring.endpoint import TunnelWriter
from .compose import Plug, compose, exports
from .host import Loaded, load, lookup, short
from .ringpath import RingLoaded
from .service import ComponentService, to_tunnel
from .wiring import encoder, typed_encoder

if TYPE_CHECKING:
    from ..mesh import Mesh

PREFIX = "component:"


@dataclass
class Plugged:
    """What the root's service runs once its plugs are composed in; ``commit``
    once that service exists moves the plugged components into it."""

    loaded: Loaded
    imports: dict[str, Any]
    wasi: Grants | None
    providers: dict[str, ComponentService] = field(default_factory=dict)

    @property
    def owns(self) -> list[End]:
        """The tunnel ends the plugged components hold: the root's service closes them."""
        return [end for p in self.providers.values() for end in p.owned_ends]

    def commit(self, mesh: Mesh) -> None:
        """The plugged components leave the mesh: they run inside the root's service."""
        for name, provider in self.providers.items():
            provider.take_ends()
            del mesh.components[name]


def _export_name(provider: ComponentService, name: str, target: str, who: str) -> str:
    names = [n for n, _ in exports(provider.loaded.binary)]
    for key in (name, name.split("@")[0], short(name)):
        for export in names:
            if key in (export, export.split("@")[0], short(export)):
                return export
    raise LoadError(f"{who}: import {name!r} names component {target!r}, which exports "
                    f"nothing of that name (exports: {', '.join(names) or 'none'})")


def _provider(mesh: Mesh, target: str, who: str) -> ComponentService:
    provider = mesh.components.get(target)
    if provider is None:
        known = ", ".join(mesh.components) or "none"
        raise LoadError(f"{who} names component {target!r}, which is not a component of this "
                        f"mesh, or is plugged into another already (components: {known}); "
                        "add it first")
    if provider.started:
        raise LoadError(f"{who} names component {target!r}, which is running: plug "
                        "components together before the mesh starts")
    if not provider.loaded.binary:
        raise LoadError(f"{who} names component {target!r}, loaded without its binary: "
                        "give Mesh.component its bytes or path")
    return provider


def _host_given(provider: ComponentService) -> dict[str, Any]:
    """What the provider's imports are given once it is composed. One on the
    Wasm tunnel path serves its tunnel imports with generated Wasm, which a
    composite (not a flat graph) cannot run: they are given host functions on
    the write ends it already holds, as the host path wires them."""
    given = dict(provider.given_imports)
    loaded = provider.loaded
    if not isinstance(loaded, RingLoaded):
        return given
    writers = [e for e in provider.owned_ends if isinstance(e, TunnelWriter)]
    for route, end in zip(loaded.routes, writers, strict=False):
        what = f"component {provider.name!r}: import {route.key!r}"
        encode = (encoder(route.sig, what) if route.layout is None
                  else typed_encoder(route.sig, route.layout, what, route.tunnel))
        send = to_tunnel(end, encode)
        iface, _, fname = route.name.rpartition("#")
        given[route.key] = {fname: send} if iface else send
    return given


def _merge(into: dict[str, Any], given: Mapping[str, Any], target: str, who: str) -> None:
    for key, value in given.items():
        if key in into and into[key] is not value:
            raise LoadError(f"{who} and component {target!r} both import {key!r}, given "
                            "different things: a composition links one import once; give "
                            "them the same, or rename one interface")
        into[key] = value


def _wasi(mine: Grants | None, theirs: Grants | None, target: str, who: str) -> Grants | None:
    if mine is not None and theirs is not None and mine != theirs:
        raise LoadError(f"{who} and component {target!r} are granted different WASI "
                        "contexts; a composition runs in one store: grant them the same")
    return mine if mine is not None else theirs


def plug(mesh: Mesh, owner: str, loaded: Loaded, imports: Mapping[str, Any],
         wasi: Grants | None) -> Plugged:
    """``loaded`` with every ``"component:NAME"`` import composed in, or as it was."""
    who = f"component {owner!r}"
    wanted = {k: v[len(PREFIX):] for k, v in imports.items()
              if isinstance(v, str) and v.startswith(PREFIX)}
    if not wanted:
        return Plugged(loaded, dict(imports), wasi)
    rest = {k: v for k, v in imports.items() if k not in wanted}
    for key in rest:  # the composite imports more: name what the root itself lacks
        _full_name(loaded, key, who)
    full = {_full_name(loaded, key, who): target for key, target in wanted.items()}
    loaded.check({**rest, **dict.fromkeys(full, True)}, who, wasi=wasi is not None)
    plugs, merged, providers = {}, dict(rest), {}
    for name, target in full.items():
        provider = _provider(mesh, target, f"{who}: import {name!r}")
        given = _host_given(provider)
        provider.loaded.check(given, f"component {target!r} (plugged into {owner!r})",
                              wasi=provider.wasi is not None)
        plugs[name] = Plug(provider.loaded.binary, _export_name(provider, name, target, who),
                           f"component {target!r}")
        _merge(merged, given, target, who)
        wasi = _wasi(wasi, provider.wasi, target, who)
        providers[target] = provider
    composite = load(mesh.rt, compose(loaded.binary, plugs, who))
    return Plugged(composite, merged, wasi, providers)


def _full_name(loaded: Loaded, key: str, who: str) -> str:
    for name in loaded.imports:
        if lookup({key: True}, name) is not None:
            return name
    known = ", ".join(short(n) for n in loaded.imports if not n.startswith("wasi:"))
    raise LoadError(f"{who} imports nothing named {key!r} (imports: {known or 'none'}); "
                    "remove it from imports")
