"""``nanonet.toml``: read, check, and turn into the objects a Mesh takes.

    manifest = load_manifest("nanonet.toml")   # ManifestError if anything is off
    mesh = manifest.build_mesh()               # tunnels and loaded services
    out = mesh.reader("summary")               # host ends: manifest.host_reads

Loading runs three stages, each finding the ManifestErrors that name the
file, the line and the fix: the TOML syntax (tomllib), each table on its
own (``schema``), then what needs several tables at once (``crosscheck``).
``load_manifest`` raises the first; ``check_manifest`` returns them all.
The CLI (``nanonet check``, ``nanonet run``) goes through this same path.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import InvalidValue, ManifestError, NanonetError
from ..mesh import Mesh
from ..policy.policy import Grants, Limits, Preopen, Restart, RestartPolicy, ServicePolicy
from .crosscheck import problems
from .explain import explain, key_path
from .locate import MAX_DEPTH, Locator, too_deep
from .schema import ManifestTable, ServiceTable
from .suggest import did_you_mean

HOST = "host"
log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceDef:
    """One service as the manifest defines it: its table, its ends, its policy."""

    name: str
    table: ServiceTable
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    policy: ServicePolicy
    serves: tuple[str, ...] = ()  # the ports it serves
    calls: tuple[str, ...] = ()  # the ports it calls (its own calls and the ports' clients)


class Manifest:
    """A checked manifest: what to build, which ends go where, and the policies."""

    def __init__(self, path: Path, text: str, table: ManifestTable) -> None:
        self.path = path
        self.root = path.parent
        self.table = table
        self.locator = Locator(text)
        ends = _ends_by_owner(table)
        self.services = {name: self._service(name, t, ends)
                         for name, t in table.services.items()}
        tunnels = table.tunnels
        self.host_reads = tuple(n for n, t in tunnels.items() if t.reader == HOST)
        self.host_writes = tuple(n for n, t in tunnels.items() if HOST in t.all_writers)

    def error(self, loc: Sequence[str | int], problem: str) -> ManifestError:
        """A ManifestError pointing at where ``loc`` is written."""
        line, column = self.locator.find(loc)
        return ManifestError(str(self.path), line, problem, key=key_path(loc), column=column)

    def file(self, relative: str) -> Path:
        """A path written in the manifest, relative to the manifest's directory."""
        return Path(os.path.normpath(self.root.absolute() / relative))

    def _service(self, name: str, t: ServiceTable, ends: Ends) -> ServiceDef:
        reads, writes = ends.get(name, ([], []))
        sink = self._dead_letter(name, t)
        writes = [w for w in writes if w != sink]  # its supervisor writes it, not its guest
        ports = self.table.ports
        serves = tuple(p for p, x in ports.items() if x.server == name)
        calls = tuple(p for p, x in ports.items()
                      if p in t.calls or name in x.clients)
        return ServiceDef(name, t, tuple(reads), tuple(writes), self._policy(t), serves, calls)

    def port_callers(self, port: str) -> list[str]:
        """The services that call ``port``, in service order."""
        return [s.name for s in self.services.values() if port in s.calls]

    def _dead_letter(self, name: str, t: ServiceTable) -> str | None:
        """The dead-letter tunnel ``restart.dead_letter`` names: one the manifest
        has, whose writer is this service (its supervisor writes it)."""
        sink = t.restart.dead_letter
        if sink is None:
            return None
        tunnel = self.table.tunnels.get(sink)
        if tunnel is None or tunnel.writer != name:
            mine = [n for n, x in self.table.tunnels.items() if x.writer == name]
            raise self.error(("services", name, "restart", "dead_letter"),
                             f"names tunnel {sink!r}, which is not a tunnel this service "
                             f"writes; {did_you_mean(sink, mine)}add [tunnels.{sink}] with "
                             f"writer = {name!r} (its supervisor writes the dead letters "
                             "there)")
        return sink

    def _policy(self, t: ServiceTable) -> ServicePolicy:
        g, lim, r = t.grants, t.limits, t.restart
        dirs = tuple(Preopen(self.file(d.host), d.guest, d.write) for d in g.dirs)
        grants = Grants(clock=g.clock, random=g.random, stdout=g.stdout, stderr=g.stderr,
                        args=tuple(g.args), env=tuple(g.env.items()), dirs=dirs,
                        network=g.network, raw=tuple(g.raw))
        limits = Limits(lim.fuel_per_tick, lim.deadline_ms, lim.memory, lim.instances)
        restart = RestartPolicy(Restart(r.policy), r.max_restarts, r.initial_ms, r.factor,
                                r.max_ms, r.window_s, r.healthy_s, r.dead_letter_after,
                                r.dead_letter)
        return ServicePolicy(grants, limits, restart)

    def build_mesh(self, progress: Progress | None = None, latency: bool = False,
                   build: bool = True, failures: list[ManifestError] | None = None) -> Mesh:
        """A Mesh with every tunnel and every service loaded (built first if needed).

        ``build=False`` runs no build command and no componentize-py build
        (``nanonet check`` without ``--build``): a service not built yet is a
        ManifestError saying how to build it. Loading runs no guest code: a
        module's start function runs when the mesh starts (docs/runtime.md).

        The host ends (``host_reads``, ``host_writes``) are left for the
        caller to take with ``mesh.reader`` / ``mesh.writer``. A service that
        fails to build or load is a ManifestError at that service's table;
        with a ``failures`` list, each such error is added to it instead and
        the next service is tried (``nanonet check`` reports them all).
        """
        from .guests import guest_code  # builds need zig: import only when used

        mesh = Mesh(fuel=self.table.mesh.fuel,
                    max_stack=(self.table.mesh.max_stack_kb or 0) * 1024 or None,
                    latency=latency, compact=self.table.mesh.compact)
        try:
            for name, t in self.table.tunnels.items():
                g = t.geometry()
                log.debug("tunnel %s: %d slots of %d bytes", name, g.slot_count, g.max_payload)
                try:
                    mesh.tunnel(name, slots=g.slot_count, max_payload=g.max_payload,
                                subscribers=t.policies() if t.subscribers else None,
                                max_subscribers=t.max_subscribers, writers=t.writers,
                                wit_type=t.type, wait=t.wait,
                                wit=None if t.wit is None else self.file(t.wit))
                except InvalidValue as err:  # a type that names no WIT record
                    if failures is None:
                        raise self.error(("tunnels", name, "type"), str(err)) from err
                    failures.append(self.error(("tunnels", name, "type"), str(err)))
            for name, p in self.table.ports.items():
                mesh.port(name, max_payload=p.max_payload, host_clients=p.host_clients,
                          clients=len(self.port_callers(name)))
            cores = [s for s in self.services.values() if s.table.component is None]
            comps = [s for s in self.services.values() if s.table.component is not None]
            for svc in cores + comps:  # components last: they take their tunnel ends
                try:
                    self._load(mesh, svc, guest_code(self, svc, progress or _quiet, build))
                except ManifestError as err:
                    if failures is None:
                        raise
                    failures.append(err)
        except BaseException:
            mesh.stop(grace=0)
            raise
        return mesh

    def _load(self, mesh: Mesh, svc: ServiceDef, code: bytes | str | Path) -> None:
        p, t = svc.policy, svc.table
        log.info("loading service %s (%s)", svc.name,
                 "component" if t.component is not None else f"{len(svc.reads)} read(s), "
                 f"{len(svc.writes)} write(s)")
        try:
            if t.component is not None:
                mesh.component(svc.name, code, imports=t.imports, wasi=t.wasi,
                               grants=p.grants)
                return
            mesh.service(svc.name, code, reads=svc.reads, writes=svc.writes,
                         entry=svc.table.entry, grants=p.grants, limits=p.limits,
                         restart=p.restart, names=t.names, serves=svc.serves,
                         calls=svc.calls)
        except NanonetError as err:
            raise self.error(("services", svc.name), f"cannot be loaded: {err}") from err


Ends = dict[str, tuple[list[str], list[str]]]


def _ends_by_owner(table: ManifestTable) -> Ends:
    """Each owner's (reads, writes) in tunnel order, from one pass over the
    tunnels (a pass per service made checking quadratic in the services)."""
    ends: Ends = {}
    for name, t in table.tunnels.items():
        for reader in t.readers():
            ends.setdefault(reader, ([], []))[0].append(name)
        for writer in dict.fromkeys(t.all_writers):  # a fan-in tunnel has several
            ends.setdefault(writer, ([], []))[1].append(name)
    return ends


def _quiet(_: str) -> None:
    pass


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ManifestError(str(path), 1, f"cannot be read ({err.strerror or err}); "
                            "check the path") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ManifestError(str(path), line, f"is not UTF-8 text (byte {data[err.start]:#04x}"
                            "); save it as UTF-8") from None


def _syntax(path: Path, text: str, err: tomllib.TOMLDecodeError) -> ManifestError:
    """tomllib's message carries ``(at line L, column C)``: move it to the front."""
    head, _, where = str(err).partition(" (at ")
    nums = [int(w) for w in where.replace(",", " ").replace(")", " ").split() if w.isdigit()]
    line = nums[0] if nums else max(1, len(text.splitlines()))  # "at end of document"
    column = nums[1] if len(nums) > 1 else None
    return ManifestError(str(path), line, f"TOML syntax: {head}; fix the TOML at this spot "
                         "(https://toml.io)", column=column)


def parse(path: Path, text: str) -> Manifest:
    """A Manifest from text already read (tests and fuzzers call this directly)."""
    manifest, errors = check_text(path, text)
    if errors:
        raise errors[0]
    assert manifest is not None  # no error means a manifest
    return manifest


def check_text(path: Path, text: str) -> tuple[Manifest | None, list[ManifestError]]:
    """The manifest and every problem found in ``text``, first by line.

    The stages still run in turn: the TOML, then every table (all their
    errors at once), then every check across tables (all of them too). A
    stage that fails leaves nothing for the next to read, so its errors are
    all there is to report; the Manifest is None unless the tables are valid.
    """
    try:
        table = _table(path, text)
    except ManifestError as err:
        return None, [err]
    if isinstance(table, list):
        return None, table
    try:
        manifest = Manifest(path, text, table)
    except ManifestError as err:
        return None, [err]
    return manifest, list(problems(manifest))


def _table(path: Path, text: str) -> ManifestTable | list[ManifestError]:
    """The validated tables, or every schema error (by line); a ManifestError
    for text that is not TOML at all."""
    deep = too_deep(text)
    if deep is not None:
        raise ManifestError(str(path), deep, f"nests keys, arrays and inline tables more than "
                            f"{MAX_DEPTH} deep; flatten it (a manifest needs 6 levels at most)")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _syntax(path, text, err) from None
    except RecursionError:  # too_deep should have caught it: say so without a traceback
        raise ManifestError(str(path), 1, "nests values too deep for the TOML reader; "
                            "flatten it") from None
    try:
        return ManifestTable.model_validate(raw)
    except ValidationError as err:
        locator = Locator(text)
        found = []
        for loc, problem in (explain(e) for e in err.errors()):
            line, column = locator.find(loc)
            found.append(ManifestError(str(path), line, problem, key=key_path(loc),
                                       column=column))
        return sorted(found, key=lambda e: e.line)


def check_manifest(path: str | Path) -> tuple[Manifest | None, list[ManifestError]]:
    """Read ``path`` and find every problem (``nanonet check``); see check_text."""
    p = Path(path)
    try:
        text = _read(p)
    except ManifestError as err:
        return None, [err]
    return check_text(p, text)


def load_manifest(path: str | Path) -> Manifest:
    """Read and check ``path``; every problem is a ManifestError naming file and line."""
    p = Path(path)
    log.info("reading manifest %s", p)
    return parse(p, _read(p))
