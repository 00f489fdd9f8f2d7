"""What each service of a manifest can reach, in words (``nanonet check``).

A manifest is a security statement: the answer to "what can this service
touch?" must be readable without knowing the schema. Every capability is
listed for every service, and one not granted says "none", so that an absent
line never has to be interpreted.
"""

from __future__ import annotations

from ..policy.policy import Limits, RestartPolicy
from .httpcheck import http_lines
from .manifest import HOST, Manifest, ServiceDef
from .namecheck import mapping, unspelt
from .schema import BUILT_SOURCES, WEB_LISTEN, ServiceTable


def _geometry(m: Manifest, tunnel: str) -> str:
    g = m.table.tunnels[tunnel].geometry()
    return f"{g.slot_count} slots × {g.max_payload} bytes"


def _ends(m: Manifest, svc: ServiceDef) -> list[str]:
    ends = [f"reads {t} ({_geometry(m, t)}) from {m.table.tunnels[t].writer_label}"
            f"{_subscriber(m, t, svc.name)}" for t in svc.reads]
    ends += [f"writes {t} ({_geometry(m, t)}) to {m.table.tunnels[t].read_by()}"
             for t in svc.writes]
    return ends


def _names(m: Manifest, svc: ServiceDef) -> list[str]:
    """The guest's names for its ends, and any its module never spells."""
    lines = mapping(m, svc.name) or ["the tunnels' own (no names table)"]
    missing = ", ".join(repr(n) for n in unspelt(m, svc.name))
    if missing:
        lines.append(f"its module never spells {missing}: if the guest asks for its "
                     "tunnels by other names, map them with names = { GUEST = \"TUNNEL\" }")
    return lines


def _subscriber(m: Manifest, tunnel: str, name: str) -> str:
    """", a lossy subscriber" (or blocking) for a service subscribing to a pub-sub tunnel."""
    policy = m.table.tunnels[tunnel].policies().get(name)
    return "" if policy is None else f", as a {'lossy' if policy == 'lossy' else 'blocking'} " \
        "subscriber"


def _code(svc: ServiceDef) -> str:
    t = svc.table
    if t.build is not None:
        how = f"wasm {t.wasm}, built by: {' '.join(t.build)}"
    elif t.source is not None and t.source.endswith(BUILT_SOURCES):
        builder = "rustbuild" if t.source.endswith(".rs") else "build"
        how = (f"source {t.source}, built by nanonet.toolchain.{builder} "
               f"({t.memory or 'export'}s its memory)")
    else:
        how = f"{'source' if t.source else 'wasm'} {t.source or t.wasm}"
    return f"{how}; entry {t.entry or 'run'}"


def _limits(lim: Limits) -> str:
    parts = []
    if lim.fuel_per_tick is not None:
        parts.append(f"fuel {lim.fuel_per_tick:,} per tick")
    if lim.deadline_ms is not None:
        parts.append(f"deadline {lim.deadline_ms} ms")
    if lim.memory_bytes is not None:
        parts.append(f"memory {lim.memory_bytes / (1 << 20):g} MiB")
    if lim.instances is not None:
        parts.append(f"instances {lim.instances}")
    return ", ".join(parts) or "none"


def _restart(r: RestartPolicy) -> str:
    if not r.restarts:
        return "never (a trap leaves it trapped)"
    return (f"on failure, up to {r.max_restarts} times within {r.window_s:g} s; back-off "
            f"{r.initial_ms:g} ms × {r.factor:g}, at most {r.max_ms:g} ms")


def _flag(on: bool, what: str) -> str:
    return what if on else "none"


def _component_code(t: ServiceTable) -> str:
    if t.world is not None:
        suffix = (t.component or "").rpartition(".")[2]
        tool = {"js": "componentize-js", "c": "zig cc and wit-component"}.get(
            suffix, "componentize-py")
        stub = "" if t.wasi or suffix != "py" else ", WASI stubbed out"
        return (f"component {t.component}, built by {tool} (world {t.world} of "
                f"{t.wit}{stub})")
    return f"component {t.component}"


def _imports(m: Manifest, svc: ServiceDef) -> list[str]:
    out = []
    for key, value in svc.table.imports.items():
        kind, _, target = value.partition(":")
        tunnel = m.table.tunnels.get(target) if kind == "tunnel" else None
        if tunnel is not None and tunnel.reader == svc.name:  # typedread.py
            writers = ", ".join(tunnel.all_writers)
            out.append(f"{key} → reads {target} ({_geometry(m, target)}) from {writers}, "
                       "what is waiting per call")
        elif kind == "tunnel":
            out.append(f"{key} → writes {target} ({_geometry(m, target)}) to "
                       f"{m.table.tunnels[target].read_by()}, one message per call")
        elif kind == "component":
            out.append(f"{key} → the export of component {target}, composed in: calls stay "
                       f"in Wasm, {target} runs inside this service with its own grants")
        else:
            out.append(f"{key} → calls the exports of component {target}")
    return out or ["none (any import it declares is refused when it loads)"]


def _wasi(svc: ServiceDef) -> list[str]:
    if not svc.table.wasi:
        return ["none (not linked)"]
    return ["WASIp2 linked over the grants below (WASIp2 always offers clocks and "
            "random numbers)"]


def _routes(m: Manifest, name: str) -> list[str]:
    """The HTTP routes it serves: each request one call of its ``handle``."""
    return [f"HTTP route {r.route}: nanonet:http/handler.handle, one call per request"
            for r in m.table.http if r.service == name]


def describe_component(m: Manifest, svc: ServiceDef) -> list[str]:
    """A component's reach: its imports, WASI, and the WASI context's grants."""
    g = svc.policy.grants
    files = [f"{d.host_path} → {d.guest_path} ({'rw' if d.writable else 'ro'})"
             for d in g.dirs]
    rows = [
        ("imports", _imports(m, svc)),
        ("wasi", _wasi(svc)),
        ("files", files or ["none"]),
        ("env", [f"{k}={v}" for k, v in g.env] or ["none"]),
        ("args", [" ".join(repr(a) for a in g.args)] if g.args else ["none"]),
        ("stdout", [_flag(g.stdout, "the host's stdout")]),
        ("stderr", [_flag(g.stderr, "the host's stderr")]),
        ("network", ["none"]),
        ("calls", ["from the host (Python) and components whose imports name it",
                   *_routes(m, svc.name)]),
    ]
    lines = [f"service {svc.name}: {_component_code(svc.table)}"]
    for label, values in rows:
        lines += [f"  {label if i == 0 else '':<8} {v}" for i, v in enumerate(values)]
    return lines


def _ports(m: Manifest, svc: ServiceDef) -> list[str]:
    """The ports it serves (with their callers) and calls (with their server)."""
    out = []
    for port in svc.serves:
        p = m.table.ports[port]
        callers = m.port_callers(port) + (["host"] if p.host_clients else [])
        out.append(f"serves {port} (max {p.max_payload} B) to {', '.join(callers) or 'nobody'}")
    out += [f"calls {port} (max {m.table.ports[port].max_payload} B) served by "
            f"{m.table.ports[port].server}" for port in svc.calls]
    return out


def describe_service(m: Manifest, svc: ServiceDef) -> list[str]:
    """One line per capability of ``svc``; "none" where nothing is granted."""
    if svc.table.component is not None:
        return describe_component(m, svc)
    g = svc.policy.grants
    files = [f"{d.host_path} → {d.guest_path} ({'rw' if d.writable else 'ro'})"
             for d in g.dirs]
    rows = [
        ("tunnels", _ends(m, svc) or ["none"]),
        ("names", _names(m, svc)),
        ("ports", _ports(m, svc) or ["none"]),
        ("files", files or ["none"]),
        ("env", [f"{k}={v}" for k, v in g.env] or ["none"]),
        ("args", [" ".join(repr(a) for a in g.args)] if g.args else ["none"]),
        ("clock", [_flag(g.clock, "realtime and monotonic")]),
        ("random", [_flag(g.random, "random_get")]),
        ("stdout", [_flag(g.stdout, "the host's stdout")]),
        ("stderr", [_flag(g.stderr, "the host's stderr")]),
        ("network", [_flag(g.network, "WASI sockets")]),
        ("raw", [f"zero-copy read of {t}" for t in g.raw] or ["none"]),
        ("limits", [_limits(svc.policy.limits)]),
        ("restart", [_restart(svc.policy.restart)]),
    ]
    lines = [f"service {svc.name}: {_code(svc)}"]
    for label, values in rows:
        lines += [f"  {label if i == 0 else '':<8} {v}" for i, v in enumerate(values)]
    return lines


def web_lines(m: Manifest) -> list[str]:
    """``web:`` then where the tabs' page is served and the lease; [] without [web]."""
    w = m.table.web
    if w is None:
        return []
    lease = (f"lease {w.lease:g} s: a tab that left may rejoin with its token within it and "
             "resume (none for a tab that reads a tunnel from the host)" if w.lease else
             "lease 0: a tab that leaves breaks its tunnels for good at once")
    return ["web:", f"  page on {w.listen or WEB_LISTEN} (nanonet run --web HOST:PORT changes "
            f"it); transport "
            f"{w.transport}; tokens valid {w.token_ttl:g} s", f"  {lease} ([web] lease)"]


def describe(m: Manifest) -> list[str]:
    """The whole manifest: the mesh, the host's ends, then every service."""
    mesh = m.table.mesh
    stack = f"{mesh.max_stack_kb} KiB" if mesh.max_stack_kb else "default"
    lines = [f"{m.path}: valid: {len(m.services)} services, {len(m.table.tunnels)} tunnels, "
             f"{len(m.table.ports)} ports; "
             f"fuel metering {'on' if mesh.fuel else 'off'}, Wasm stack {stack}"]
    host = [f"reads {t} ({_geometry(m, t)}) from {m.table.tunnels[t].writer_label}"
            for t in m.host_reads]
    host += [f"writes {t} ({_geometry(m, t)}) to {m.table.tunnels[t].read_by()}"
             for t in m.host_writes]
    lines += [f"{HOST}:", *(f"  {h}" for h in host or ["no tunnel ends"])]
    lines += http_lines(m) + web_lines(m)
    for svc in m.services.values():
        lines += ["", *describe_service(m, svc)]
    return lines
