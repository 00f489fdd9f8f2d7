"""The Python API: a mesh of services connected by tunnels.

    with Mesh() as mesh:
        mesh.tunnel("raw", slots=1024, max_payload=120)
        mesh.service("ingress", "ingress.wasm", writes=["raw"])
        out = mesh.reader("raw")          # or a service that reads it
        mesh.start()
        for msg in out: ...

The mesh owns everything it creates: rings, services, their threads. Each
tunnel end has exactly one owner (a service or the host), handed out once,
and only when the service that takes it has loaded. ``stop`` closes every
tunnel (services see ``CLOSED`` and return), waits a grace period, then
interrupts whatever still runs through its epoch deadline. ``close`` (and
leaving the ``with`` block) then releases the stores and ring memories.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wasmtime

from .errors import (
    EndpointTaken,
    GuestTrap,
    InternalError,
    InvalidValue,
    LoadError,
    NanonetError,
    NotFound,
    StopTimeout,
    UpgradeError,
)
from .host.clock import Clock
from .host.engine import MAX_WASM_STACK, Runtime, runtime
from .policy.names import HOST_OWNER, check_name
from .policy.policy import NEVER_RESTART, NO_LIMITS, Grants, Limits, RestartPolicy, ServicePolicy
from .ring.adapter import Direction, EndSpec
from .ring.control import RingControl
from .ring.endpoint import TunnelReader, TunnelWriter
from .ring.layout import Geometry
from .ring.memory import RingMemory
from .ring.port import Port, PortStats
from .ring.port_template import PortEnd
from .ring.portclient import Handler, PortClient, PortServer
from .ring.portlayout import PortGeometry
from .ring.stats import TunnelStats, combine, snapshot
from .ring.sublines import SubscriberLines, policy_of
from .ring.subscriber import TunnelSubscriber
from .ring.waitpolicy import DEFAULT_WAIT, WaitPolicy, wait_policy
from .runtime.bellbook import BellBook, waits_on_many
from .runtime.launch import launch
from .runtime.service import Service, ServiceSpec
from .runtime.startfn import prepare
from .runtime.supervisor import Supervisor
from .runtime.tunnelnames import named
from .runtime.upgrade import UpgradeOutcome, upgrade
from .runtime.upgradelog import UpgradeLog

if TYPE_CHECKING:
    from .component.service import ComponentService
    from .component.typed import RecordLayout
    from .component.typed_ends import TypedReader, TypedWriter

DEFAULT_SLOTS = 1024
DEFAULT_MAX_PAYLOAD = 248
DEFAULT_PORT_PAYLOAD = 256
MAX_FAN_IN = 32  # writers of one fan-in tunnel (the reader's ended-ring mask is an i32)
STOP_SECONDS = 10.0  # how long stop waits for what it interrupted before it reports it
log = logging.getLogger(__name__)


@dataclass
class Tunnel:
    """One ring and who holds each of its ends."""

    name: str
    geometry: Geometry
    ring: RingMemory
    control: RingControl
    writer: str | None = None  # owner name, "<host>" for a host endpoint
    reader: str | None = None
    lines: SubscriberLines | None = None  # a pub-sub tunnel: who subscribes on which line
    wait: WaitPolicy = DEFAULT_WAIT  # how its blocked ends wait (ring/waitpolicy.py)

    def statistics(self) -> TunnelStats:
        return snapshot(self.ring)

    def take(self, direction: Direction, owner: str) -> None:
        if direction is Direction.READ and self.lines is not None:
            return  # a subscriber's line is taken in Mesh.service, as it starts
        _refuse_end(self.name, direction, owner, self.writer, self.reader)
        if direction is Direction.WRITE:
            self.writer = owner
        else:
            self.reader = owner

    def release(self, owner: str) -> None:
        """Give back every end ``owner`` holds (its load failed)."""
        self.writer = None if self.writer == owner else self.writer
        self.reader = None if self.reader == owner else self.reader

    def close(self) -> None:
        """Release the ring and its control stores (no store may use it any more)."""
        self.control.release()
        self.ring.close()


HOST = HOST_OWNER


@dataclass
class FanIn(Tunnel):
    """A fan-in tunnel: one SPSC sub-ring per declared writer (``parts``, in
    the order of ``writers``), all read by one reader as one handle
    (ring/fanin.py). ``ring`` and ``control`` are the first sub-ring's."""

    parts: list[Tunnel] = field(default_factory=list)
    writers: tuple[str, ...] = ()  # owners, HOST for a host writer (may repeat)

    def statistics(self) -> TunnelStats:
        """The sub-rings' counters added up (``per_writer`` has each one's)."""
        return combine([p.statistics() for p in self.parts])

    def per_writer(self) -> list[tuple[str, TunnelStats]]:
        return [(owner, p.statistics()) for owner, p in zip(self.writers, self.parts,
                                                               strict=True)]

    def part_for(self, direction: Direction, owner: str) -> list[Tunnel]:
        """The sub-rings ``owner`` takes that end of: every one for the reader,
        its own for a writer (the next free one for the host)."""
        if direction is Direction.READ:
            return list(self.parts)
        free = [p for w, p in zip(self.writers, self.parts, strict=True)
                if w == owner and p.writer is None]
        if not free:
            declared = ", ".join(self.writers)
            held = "all taken" if owner in self.writers else "not one of them"
            raise EndpointTaken(f"tunnel {self.name!r} is a fan-in tunnel of writers "
                                f"[{declared}] and {owner!r} is {held}; declare it in "
                                "writers= (\"host\" for a host writer)")
        return free[:1]

    def release(self, owner: str) -> None:
        for part in self.parts:
            part.release(owner)

    def close(self) -> None:
        for part in self.parts:
            part.close()


WasmSource = bytes | bytearray | memoryview | str | Path
_DEFAULT_POLICY = ServicePolicy()  # no grants, no limits, no restarts: one frozen object


def _read_wasm(wasm: WasmSource, text: str = "(module") -> bytes | str:
    """The module (or component) as bytes, binary Wasm or UTF-8 WAT, or as WAT
    text (a string holding ``text``); a LoadError names the file when it cannot
    be read or is neither."""
    if isinstance(wasm, str) and text in wasm:
        return wasm
    if isinstance(wasm, str | Path):
        try:
            data = Path(wasm).read_bytes()
        except OSError as err:
            raise LoadError(f"cannot read {wasm} ({err.strerror or err}); fix the path") from None
        return _wasm_or_wat(data, f"file {wasm}")
    return _wasm_or_wat(bytes(wasm), "module")


def _wasm_or_wat(data: bytes, what: str) -> bytes:
    if data[:4] == b"\0asm":
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise LoadError(f"{what} is neither binary Wasm (it does not start with \\0asm) nor "
                        f"UTF-8 WAT text (byte {data[err.start]:#04x} at offset {err.start}); "
                        "give a .wasm module, or save the WAT text as UTF-8") from None
    return data


class Mesh:
    """Services and the tunnels between them, owned by one Python object."""

    def __init__(self, rt: Runtime | None = None, *, fuel: bool = False,
                 max_stack: int | None = None, latency: bool = False,
                 compact: bool = False, clock: Clock | None = None) -> None:
        """``fuel=True`` meters every service's instructions (needed for fuel
        limits; it costs some speed); ``max_stack`` caps the Wasm stack of every
        service of the mesh (a wasmtime engine setting, so it is per mesh);
        ``latency=True`` has the adapters stamp one message in 1024 so that each
        tunnel's latency can be read from its ring (see docs/ring.md);
        ``compact=True`` reserves about 1 MiB of address space per memory
        instead of 4 GiB, for meshes of many thousand tunnels, at the price of
        a bounds check on every memory access (see docs/runtime.md);
        ``clock`` is what restart back-offs, restart windows and deadlines
        read (``runtime/clock.py``; a test's own clock)."""
        self.latency = latency
        self.supervisor = Supervisor(clock)
        self.rt = rt or runtime(fuel, max_stack or MAX_WASM_STACK, compact)
        self.tunnels: dict[str, Tunnel] = {}
        self.services: dict[str, Service] = {}
        self.components: dict[str, ComponentService] = {}
        self.tunnel_types: dict[str, RecordLayout] = {}  # typed tunnels: component/typed.py
        self.ports: dict[str, Port] = {}
        self._port_servers: list[PortServer] = []
        self.bells = BellBook(self.rt)  # who waits on many ends (wait_any), and where
        self.upgrades = UpgradeLog()  # each service's upgrades, for the views
        self.port_clients: dict[str, list[PortClient]] = {}  # port -> host clients (latency)
        # a node's bridges set this: each bridged tunnel's link as plain data (snapshots)
        self.link_statistics: Callable[[], list[dict[str, Any]]] = list
        self._held: dict[str, list[tuple[Tunnel, Direction]]] = {}  # service -> its rings
        self._started = False
        self.started_ns: int | None = None  # monotonic, at the first start: the mesh's uptime
        self._ticking = False
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise NanonetError("this mesh is closed (its rings and stores are released): "
                               "build a new Mesh")

    # -- building --------------------------------------------------------
    def tunnel(self, name: str, *, slots: int = DEFAULT_SLOTS,
               max_payload: int = DEFAULT_MAX_PAYLOAD,
               subscribers: Mapping[str, str] | Iterable[str] | None = None,
               max_subscribers: int | None = None,
               writers: Iterable[str] | None = None,
               wit_type: str | RecordLayout | None = None,
               wit: str | Path | None = None,
               wait: str | WaitPolicy = DEFAULT_WAIT) -> Tunnel:
        """Create a tunnel of ``slots`` slots, each carrying ``max_payload`` bytes.

        ``subscribers`` makes it a pub-sub tunnel (docs/ring.md,
        "Publish-subscribe"): the services named read every message, each at
        its own pace, ``{"a": "block", "b": "lossy"}`` (a list: all
        "block"); ``max_subscribers`` lines in all (default: the declared
        ones and four more for ``subscribe``).

        ``writers`` (service names, ``"host"`` for a host writer, which may
        repeat) makes it a fan-in tunnel: one ring of that geometry per
        writer, read by one service as one handle (docs/runtime.md, "Fan-in").

        ``wit_type`` (``"nanonet:tunnel/types.packet"``) makes it a typed
        tunnel: each message is one such record in the canonical ABI's layout
        (docs/components.md, "Typed tunnels"); the record is read from
        nanonet's WIT packages, or from ``wit`` (a ``.wit`` file or a folder),
        or given as a ``RecordLayout``.

        ``wait`` is how its blocked ends wait (docs/runtime.md, "Wait
        policies"): ``"adaptive"`` spins a while, then parks; ``"spin"`` never
        parks (lowest wake-up latency, a core burnt while waiting); ``"park"``
        parks at once (no CPU while idle)."""
        self._check_open()
        check_name("tunnel", name)
        policy = wait_policy(wait, f"tunnel {name!r}")
        if name in self.tunnels:
            raise InvalidValue(f"tunnel {name!r} already exists in this mesh")
        self.tunnel_types.pop(name, None)
        if isinstance(wit_type, str):
            from .component.typed import wit_record
            self.tunnel_types[name] = wit_record(wit_type, wit)
        elif wit_type is not None:
            self.tunnel_types[name] = wit_type
        if writers is not None:
            if subscribers is not None or max_subscribers:
                raise InvalidValue(f"tunnel {name!r}: a tunnel is fan-in (writers=) or pub-sub "
                                   "(subscribers=), not both")
            geometry = Geometry.for_payload(slots, max_payload)
            fan = self._fan_in(name, geometry, [HOST if w == "host" else w for w in writers])
            for part in (fan, *fan.parts):
                part.wait = policy
            self.tunnels[name] = fan
            return fan
        declared = SubscriberLines.parse(subscribers or ()) if (
            subscribers is not None or max_subscribers) else None
        lines = 0 if declared is None else (max_subscribers or len(declared) + 4)
        if declared is not None and lines < max(1, len(declared)):
            raise InvalidValue(f"tunnel {name!r}: max_subscribers={lines} is fewer than its "
                               f"{len(declared)} declared subscribers")
        geometry = Geometry.for_payload(slots, max_payload, lines)
        ring = RingMemory(self.rt.engine, geometry, name)
        tunnel = Tunnel(name, geometry, ring, RingControl(self.rt, ring),
                        lines=None if declared is None else SubscriberLines(ring, declared),
                        wait=policy)
        self.tunnels[name] = tunnel
        return tunnel

    def port(self, name: str, *, max_payload: int = DEFAULT_PORT_PAYLOAD, clients: int = 8,
             host_clients: int = 1) -> Port:
        """Create a request/reply port (docs/runtime.md, "Ports"): one server
        (``service(..., serves=[name])`` or ``serve``), up to ``clients``
        calling services (``calls=[name]``) and ``host_clients`` host clients
        (``client``), each with a mailbox of its own; requests and replies up
        to ``max_payload`` bytes."""
        self._check_open()
        check_name("port", name)
        if name in self.ports:
            raise InvalidValue(f"port {name!r} already exists in this mesh")
        geometry = PortGeometry(clients + host_clients, max_payload)
        self.ports[name] = port = Port(self.rt, name, geometry, clients)
        return port

    def _get_port(self, name: str) -> Port:
        try:
            return self.ports[name]
        except KeyError:
            known = ", ".join(sorted(self.ports)) or "none"
            raise NotFound(f"no port named {name!r} (ports: {known}); "
                           "create it with mesh.port() first") from None

    def client(self, port: str) -> PortClient:
        """A host client of ``port``: it owns one of the port's host mailboxes."""
        self._check_open()
        client = PortClient(self.rt, self._get_port(port))
        self.port_clients.setdefault(port, []).append(client)
        return client

    def serve(self, port: str, handler: Handler) -> PortServer:
        """Serve ``port`` from the host: ``handler(request) -> reply`` runs on
        a thread of its own from ``start`` on (at once if started)."""
        self._check_open()
        p = self._get_port(port)
        p.serve(HOST)
        server = PortServer(self.rt, p, handler)
        self._port_servers.append(server)
        if self._started:
            server.start()
        return server

    def _port_ends(self, name: str, serves: Iterable[str],
                   calls: Iterable[str]) -> list[tuple[Port, PortEnd]]:
        """The port ends a service takes: served ports, then called ones."""
        taken: list[tuple[Port, PortEnd]] = []
        try:
            for p in serves:
                port = self._get_port(p)
                taken.append((port, port.serve(name)))
            for p in calls:
                port = self._get_port(p)
                taken.append((port, port.client_end(name)))
        except BaseException:
            for port, _ in taken:
                port.release(name)
            raise
        return taken

    def port_statistics(self) -> dict[str, PortStats]:
        """Every port's counters (calls, in flight, timeouts, late replies)."""
        return {name: p.statistics() for name, p in self.ports.items()}

    def _fan_in(self, name: str, geometry: Geometry, writers: list[str]) -> FanIn:
        services = [w for w in writers if w != HOST]
        if not writers or len(writers) > MAX_FAN_IN or len(set(services)) != len(services):
            raise InvalidValue(f"tunnel {name!r}: writers= names 1 to {MAX_FAN_IN} writers, "
                               f"each service once (\"host\" may repeat); got {writers}")
        for w in services:
            check_name("service", w)
        parts = []
        for _ in writers:
            ring = RingMemory(self.rt.engine, geometry, name)
            parts.append(Tunnel(name, geometry, ring, RingControl(self.rt, ring)))
        return FanIn(name, geometry, parts[0].ring, parts[0].control, parts=parts,
                     writers=tuple(writers))

    def _claims_of(self, reads: Iterable[str], writes: Iterable[str],
                   owner: str) -> list[tuple[Tunnel, Direction]]:
        """The rings ``owner`` takes, reads first: a fan-in tunnel's every
        sub-ring for its reader, one for each of its writers."""
        claims = []
        for direction, names in ((Direction.READ, reads), (Direction.WRITE, writes)):
            for name in names:
                t = self._get_tunnel(name)
                parts = t.part_for(direction, owner) if isinstance(t, FanIn) else [t]
                claims += [(p, direction) for p in parts]
        return claims

    def _others(self, name: str) -> list[str | None]:
        """Who holds the other end of each ring ``name`` holds, in order."""
        return [t.reader if d is Direction.WRITE else t.writer for t, d in self._held[name]]

    def _get_tunnel(self, name: str) -> Tunnel:
        try:
            return self.tunnels[name]
        except KeyError:
            known = ", ".join(sorted(self.tunnels)) or "none"
            raise NotFound(f"no tunnel named {name!r} (tunnels: {known}); "
                           "create it with mesh.tunnel() first") from None

    def service(self, name: str, wasm: WasmSource, *, reads: Iterable[str] = (),
                writes: Iterable[str] = (), entry: str | None = None,
                grants: Grants | Iterable[str] = (), limits: Limits | None = None,
                restart: RestartPolicy | None = None,
                names: Mapping[str, str] | None = None, serves: Iterable[str] = (),
                calls: Iterable[str] = ()) -> Service:
        """Load a service (bytes, WAT text or a path) holding the given tunnel ends.

        Nothing else is reachable from the guest unless ``grants`` says so
        (``["clock"]``, or a ``Grants`` with files, env, args...). ``limits``
        bounds what it may use; ``restart`` says whether a trap restarts it.
        ``names`` maps the tunnel names the guest asks for to tunnels it holds
        (``{"in": "raw"}``: its ``tunnel("in")`` is ``raw``), so one binary can
        serve twice under different tunnels. ``serves`` and ``calls`` name the
        ports it serves and calls.
        """
        self._check_open()
        check_name("service", name)
        if name in self.services or name in self.components:
            raise InvalidValue(f"service {name!r} already exists in this mesh")
        try:
            policy = (_DEFAULT_POLICY if not grants and limits is None and restart is None
                      else ServicePolicy(Grants.of(grants), limits or NO_LIMITS,
                                         restart or NEVER_RESTART))
        except ValueError as err:
            raise InvalidValue(f"service {name!r}: {err}") from None
        if policy.limits.fuel_per_tick is not None and not self.rt.fuel:
            raise LoadError(f"service {name!r} has a fuel limit, but this mesh does not "
                            "meter fuel: create it with Mesh(fuel=True)")
        code = _read_wasm(wasm)
        reads, writes = list(reads), list(writes)
        claims = self._claims_of(reads, writes, name)
        _check_claims(name, claims)
        ends = named(name, [EndSpec(t.name, d, t.geometry, "",
                                    None if t.lines is None or d is Direction.WRITE
                                    else t.lines.reserve(name, t.name), t.wait)
                               for t, d in claims], names)
        data = code if isinstance(code, bytes) else code.encode()
        fanin = _fan_groups(claims)
        raw_fan = [claims[i][0].name for i, _ in fanin if claims[i][0].name in policy.grants.raw]
        if raw_fan:
            raise LoadError(f"service {name!r}: raw access to fan-in tunnel {raw_fan[0]!r} "
                            "is not offered (its messages are in one ring per writer); "
                            "drop the raw grant and receive with recv")
        waits = waits_on_many(self.rt, data) or bool(fanin)
        others = [t.reader if d is Direction.WRITE else t.writer for t, d in claims]
        if waits:
            self.bells.refuse_started_peers(name, others, self.services)
        sink = self._dead_letter_sink(name, policy.restart, claims)
        ports = self._port_ends(name, serves, calls)
        spec = ServiceSpec(name, data, ends, entry, policy, self.latency,
                           tuple(end for _, end in ports),
                           self.bells.plan(name, waits, others, fanin))
        try:
            svc = Service(self.rt, spec, [t.ring for t, _ in claims], self.supervisor,
                          controls=[t.control for t, _ in claims],
                          dead_letter=None if sink is None else TunnelWriter(sink.ring,
                                                                             sink.control),
                          ports=[p for p, _ in ports], bell=self.bells.shared)
        except BaseException:
            for port, _ in ports:
                port.release(name)
            raise
        for (tunnel, direction), end in zip(claims, ends, strict=True):  # loaded: its own now
            tunnel.take(direction, name)
            if end.sub is not None and tunnel.lines is not None:
                tunnel.lines.take(name, end.sub.line, tunnel.lines.declared[name])
        self._held[name] = claims
        self.bells.loaded(name, ends, [t.control for t, _ in claims], self._others,
                          self.services)
        if sink is not None:  # its supervisor writes what it moves aside
            sink.take(Direction.WRITE, name)
        self.services[name] = svc
        if self._started:
            self._hold_ticker()
            svc.start()
        return svc

    def _dead_letter_sink(self, name: str, restart: RestartPolicy,
                          claims: list[tuple[Tunnel, Direction]]) -> Tunnel | None:
        """The dead-letter tunnel the restart policy names (its write end goes
        to the service's supervisor), checked as a claim; None if none."""
        if restart.dead_letter is None:
            return None
        sink = self._get_tunnel(restart.dead_letter)
        if isinstance(sink, FanIn):
            raise InvalidValue(f"service {name!r}: its dead-letter tunnel {sink.name!r} is a "
                               "fan-in tunnel; name a plain tunnel (one writer) for dead "
                               "letters")
        if any(t is sink for t, _ in claims):
            raise NanonetError(f"service {name!r}: its dead-letter tunnel "
                               f"{sink.name!r} is one of its own tunnels; name a tunnel of "
                               "its own for dead letters")
        _check_claims(name, [(sink, Direction.WRITE)])
        return sink

    def component(self, name: str, source: WasmSource, *,
                  imports: Mapping[str, Any] | None = None, wasi: bool = False,
                  grants: Grants | Iterable[str] = ()) -> ComponentService:
        """Load a component service, started with the mesh; see docs/components.md.

        ``imports`` maps each import to what it may reach: a Python function
        (or a mapping of them), ``"tunnel:NAME"`` (the component holds that
        tunnel's write end; its read end for an import returning ``option``
        or ``list`` of a typed tunnel's record), ``"service:NAME"`` (another component's exports,
        through Python) or ``"component:NAME"`` (composed with component NAME,
        which then runs inside this one: component/plugging.py).
        An import given nothing is a LoadError naming it.
        """
        from .component.host import load  # wasmtime.component only when used
        from .component.plugging import plug
        from .component.ringmesh import wire
        from .component.service import ComponentService

        self._check_open()
        check_name("service", name)
        if name in self.services or name in self.components:
            raise InvalidValue(f"service {name!r} already exists in this mesh")
        code = source
        if isinstance(source, bytes | bytearray | memoryview | str | Path):
            code = _read_wasm(source, "(component")
        loaded = load(self.rt, code)
        try:  # resolving takes its tunnel ends: give them back if it fails to load
            # the Wasm tunnel path when the component allows it (component/ringplan.py)
            loaded, given, ends = wire(self, name, loaded, imports or {}, wasi)
            p = plug(self, name, loaded, given, Grants.of(grants) if wasi else None)
            comp = ComponentService(name, p.loaded, imports=p.imports, rt=self.rt,
                                    wasi=p.wasi is not None, grants=p.wasi or (),
                                    start=self._started, owns=ends + p.owns,
                                    supervisor=self.supervisor)
            p.commit(self)
        except BaseException:
            for tunnel in self.tunnels.values():
                tunnel.release(name)
            raise
        self.components[name] = comp
        return comp

    def writer(self, tunnel: str, owner: str = HOST) -> TunnelWriter:
        """The host's write end of ``tunnel`` (``owner``: the component calling it)."""
        self._check_open()
        t = self._get_tunnel(tunnel)
        if t.lines is not None:
            raise NanonetError(f"tunnel {tunnel!r} is a pub-sub tunnel: its writer is a "
                               "service (a host writer is single-reader only)")
        if isinstance(t, FanIn):
            t = t.part_for(Direction.WRITE, owner)[0]
        t.take(Direction.WRITE, owner)
        t.control.prepare("writer")  # its first wake of a parked reader would make it
        return TunnelWriter(t.ring, t.control, t.wait)

    def typed_reader(self, tunnel: str) -> TypedReader:
        """The host's read end of typed ``tunnel``: ``recv_value()`` gives records."""
        from .component.typed_ends import TypedReader
        return TypedReader(self.reader(tunnel), self._layout(tunnel))

    def typed_writer(self, tunnel: str) -> TypedWriter:
        """The host's write end of typed ``tunnel``: ``send_value(record)``."""
        from .component.typed_ends import TypedWriter
        return TypedWriter(self.writer(tunnel), self._layout(tunnel))

    def _layout(self, tunnel: str) -> RecordLayout:
        layout = self.tunnel_types.get(tunnel)
        if layout is None:
            raise InvalidValue(f"tunnel {tunnel!r} has no WIT type: create it with "
                               "mesh.tunnel(name, wit_type=...)")
        return layout

    def reader(self, tunnel: str, owner: str = HOST) -> TunnelReader:
        """The host's read end of ``tunnel`` (``owner``: the component calling it)."""
        self._check_open()
        t = self._get_tunnel(tunnel)
        if t.lines is not None:
            raise NanonetError(f"tunnel {tunnel!r} is a pub-sub tunnel: read it with "
                               f"mesh.subscribe({tunnel!r})")
        if isinstance(t, FanIn):
            raise InvalidValue(f"tunnel {tunnel!r} is a fan-in tunnel: its reader is a "
                               "service (reads=[...]), which reads every writer's ring as "
                               "one handle")
        t.take(Direction.READ, owner)
        t.control.prepare("reader")  # its first wake of a parked writer would make it
        return TunnelReader(t.ring, t.control, t.wait)

    def subscribe(self, tunnel: str, policy: str = "block", history: int = 0
                  ) -> TunnelSubscriber:
        """A host subscriber of pub-sub ``tunnel``, before or while the mesh runs:
        it starts at the newest message, or ``history`` messages back (at most
        what the ring still holds safely). ``policy`` "block" holds the writer
        back (lossless); "lossy" never does, and counts what it missed.
        ``close()`` it to leave."""
        self._check_open()
        t = self._get_tunnel(tunnel)
        if t.lines is None:
            raise NanonetError(f"tunnel {tunnel!r} is single-reader: create it with "
                               "subscribers=[...] (or max_subscribers=N) to subscribe to it")
        policy_of(policy, f"subscribe({tunnel!r})")
        line = t.lines.free_line_for(tunnel)
        t.lines.take(HOST, line, policy, history)
        return TunnelSubscriber(self.rt, t.lines, t.control, line, policy == "lossy")

    # -- running ---------------------------------------------------------
    def _hold_ticker(self) -> None:
        """Deadlines and fuel budgets count epoch ticks: tick while they exist."""
        limited = any(s.spec.policy.limits.deadline_ms is not None
                      or s.spec.policy.limits.fuel_per_tick is not None
                      for s in self.services.values())
        if limited and not self._ticking:
            self.rt.ticker.hold()
            self._ticking = True

    def start(self) -> None:
        """Start every service not yet started; each is RUNNING on return."""
        launch(self._starting())
        self._start_rest()

    @staticmethod
    def start_all(meshes: Iterable[Mesh]) -> None:
        """``start()`` every mesh, with every service of all of them started
        at once (``runtime/launch.py``): a thousand meshes of one service each
        do not wait for their threads one after another."""
        meshes = list(meshes)
        launch([svc for mesh in meshes for svc in mesh._starting()])
        for mesh in meshes:
            mesh._start_rest()

    def _starting(self) -> list[Service]:
        """Mark the mesh started; the services ``start()`` has to start."""
        self._check_open()
        self._started = True
        if self.started_ns is None:
            self.started_ns = time.monotonic_ns()
        self._hold_ticker()
        starting = [svc for svc in self.services.values() if not svc.started]
        log.info("starting %d service(s) and %d component(s)", len(starting),
                 len(self.components))
        return starting

    def _start_rest(self) -> None:
        """Components and port servers, once the services run."""
        for comp in self.components.values():
            comp.start()
        for server in self._port_servers:
            if not server.started:
                server.start()

    def _children(self) -> list[Service | ComponentService]:
        return [*self.services.values(), *self.components.values()]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every service has ended (a component service ends when
        closed); True if all did in time. A service whose thread ended on an
        internal error (nanonet's own fault) raises it here, as InternalError."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for svc in self._children():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ended = svc.join(left)
            if svc.internal_error is not None:
                raise svc.internal_error
            if not ended:
                return False
        return True

    def close_tunnels(self) -> None:
        for t in self.tunnels.values():
            for part in t.parts if isinstance(t, FanIn) else [t]:
                part.control.close()
        for p in self.ports.values():
            p.close()

    def stop(self, grace: float = 1.0, timeout: float = STOP_SECONDS) -> None:
        """Close every tunnel, wait ``grace`` seconds, then interrupt the rest.

        What still runs ``timeout`` seconds after the interrupt (a host
        function that never returns) is reported as StopTimeout naming it; an
        internal error of any service is raised as InternalError."""
        log.info("stopping: closing %d tunnel(s), %g s of grace", len(self.tunnels), grace)
        for svc in self.services.values():
            svc.stop_restarting()
        self.close_tunnels()
        for comp in self.components.values():
            comp.close(timeout=0)  # finishes its queued calls; wait() joins it
        try:
            if not self._wait_all(grace):
                for svc in self.services.values():
                    if svc.running:
                        svc.request_stop()
                for comp in self.components.values():
                    comp.request_stop()
                self.rt.engine.increment_epoch()
                self._wait_all(timeout)
        finally:
            if self._ticking:
                self._ticking = False
                self.rt.ticker.release()
            self.supervisor.bus.flush()
        self._report()

    def _wait_all(self, timeout: float) -> bool:
        """Join every thread within ``timeout`` seconds in all; True if all ended."""
        import time

        deadline = time.monotonic() + timeout
        return all([svc.join(max(0.0, deadline - time.monotonic())) for svc in self._children()])

    def _report(self) -> None:
        """Raise what stop must not hide: threads still running, internal errors."""
        alive = [svc.name for svc in self._children() if svc.running]
        if alive:
            raise StopTimeout(f"service(s) {', '.join(map(repr, alive))} still run after stop "
                              "interrupted them (a host function that does not return?); "
                              "their threads are left running: end what they wait on")
        crashed: list[InternalError] = [svc.internal_error for svc in self._children()
                                        if svc.internal_error is not None]
        if crashed:
            raise crashed[0]

    def upgrade(self, service: str, wasm: WasmSource, *, reads: Iterable[str] | None = None,
                writes: Iterable[str] | None = None,
                geometry: Mapping[str, Geometry] | None = None) -> UpgradeOutcome:
        """Swap running ``service`` for the module ``wasm`` at a commit point
        (docs/runtime.md, "Hot upgrade"): nothing lost, nothing twice.

        ``reads``, ``writes`` and ``geometry`` (tunnel name -> Geometry), when
        given, are what the new module expects: a change of its ends or of a
        tunnel's geometry is refused, as is a module that does not compile.
        A new module that fails to load or traps on probation is rolled back.
        Both raise UpgradeError; the old module then runs on."""
        self._check_open()
        svc = self.services.get(service)
        if svc is None:
            known = ", ".join(sorted(self.services)) or "none"
            raise UpgradeError(f"no module service named {service!r} to upgrade "
                               f"(services: {known})")
        try:
            outcome = self._upgrade(svc, wasm, reads, writes, geometry)
        except UpgradeError as err:
            self.upgrades.failed(service, str(err))
            raise
        self.upgrades.kept(outcome)
        return outcome

    def _upgrade(self, svc: Service, wasm: WasmSource, reads: Iterable[str] | None,
                 writes: Iterable[str] | None, geometry: Mapping[str, Geometry] | None
                 ) -> UpgradeOutcome:
        service = svc.name
        _refuse_changes(svc.spec.ends, self.tunnels, service, reads, writes, geometry)
        code = _read_wasm(wasm)
        data = code if isinstance(code, bytes) else code.encode()
        try:
            self.rt.module(prepare(data).wasm)
        except (LoadError, wasmtime.WasmtimeError) as err:
            raise UpgradeError(f"service {service!r}: the new module does not compile "
                               f"({_one_line(err)}); the old module runs on") from None
        return upgrade(svc, data, self.rt.engine)

    @property
    def traps(self) -> list[GuestTrap]:
        """Every trap so far, in service order (a restarted service may have several)."""
        return [t for s in self.services.values() for t in s.traps]

    def statistics(self) -> dict[str, TunnelStats]:
        self._check_open()
        return {name: t.statistics() for name, t in self.tunnels.items()}

    def close(self) -> None:
        """Stop, then release every store and ring memory the mesh holds.

        Host ends handed out read a closed tunnel from then on; finish with
        them (or close them) first. A closed mesh refuses further use."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        for svc in self.services.values():
            svc.close()
        for comp in self.components.values():
            comp.release()
        for server in self._port_servers:
            server.join(STOP_SECONDS)
        for tunnel in self.tunnels.values():
            tunnel.close()
        for port in self.ports.values():
            port.release_memory()
        self.bells.close()

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _refuse_changes(ends: list[EndSpec], tunnels: Mapping[str, Tunnel], service: str,
                    reads: Iterable[str] | None, writes: Iterable[str] | None,
                    geometry: Mapping[str, Geometry] | None) -> None:
    """UpgradeError, saying why, if the new module's ends or tunnels differ."""
    held = {d: sorted({e.name for e in ends if e.direction is d}) for d in Direction}
    for direction, wanted in ((Direction.READ, reads), (Direction.WRITE, writes)):
        if wanted is not None and sorted(wanted) != held[direction]:
            raise UpgradeError(
                f"service {service!r}: upgrade refused: it {direction.value}s "
                f"{held[direction] or 'nothing'}, the new module {sorted(wanted) or 'nothing'}; "
                "an upgrade keeps a service's tunnel ends: restart the mesh to change them")
    for name, wanted_geometry in (geometry or {}).items():
        tunnel = tunnels.get(name)
        if tunnel is not None and tunnel.geometry != wanted_geometry:
            raise UpgradeError(
                f"service {service!r}: upgrade refused: tunnel {name!r} is "
                f"{_shape(tunnel.geometry)}, the new one {_shape(wanted_geometry)}; a running "
                "ring keeps its geometry: restart the mesh to change it")


def _one_line(err: Exception) -> str:
    """wasmtime's error in one line: its first line and, for WAT text, where."""
    lines = str(err).splitlines() or [type(err).__name__]
    where = next((line.strip()[3:].strip() for line in lines if line.strip().startswith("-->")),
                 "")
    return lines[0] + (f" at {where.replace('<anon>:', 'line ')}" if where else "")


def _shape(g: Geometry) -> str:
    return f"slots={g.slot_count} max_payload={g.max_payload}"


def _fan_groups(claims: list[tuple[Tunnel, Direction]]) -> tuple[tuple[int, int], ...]:
    """The fan-in groups among a service's read ends: (first index, sub-rings)."""
    groups, i = [], 0
    while i < len(claims):
        tunnel, direction = claims[i]
        j = i + 1
        while (direction is Direction.READ and j < len(claims) and claims[j][0] is not tunnel
               and claims[j][0].name == tunnel.name and claims[j][1] is Direction.READ):
            j += 1
        if j - i > 1:
            groups.append((i, j - i))
        i = j
    return tuple(groups)


def _check_claims(owner: str, claims: list[tuple[Tunnel, Direction]]) -> None:
    """Raise EndpointTaken, as taking them would, if ``owner`` cannot take
    every one of ``claims``; takes nothing (its load comes first)."""
    held: dict[int, tuple[str | None, str | None]] = {}  # by ring: a fan-in's share a name
    for tunnel, direction in claims:
        writer, reader = held.get(id(tunnel), (tunnel.writer, tunnel.reader))
        _refuse_end(tunnel.name, direction, owner, writer, reader)
        held[id(tunnel)] = (owner, reader) if direction is Direction.WRITE else (writer, owner)


def _refuse_end(tunnel: str, direction: Direction, owner: str, writer: str | None,
                reader: str | None) -> None:
    """Raise EndpointTaken if ``owner`` may not take that end of ``tunnel``,
    whose ends ``writer`` and ``reader`` hold."""
    held, other = (writer, reader) if direction is Direction.WRITE else (reader, writer)
    if owner != HOST and other == owner:
        raise EndpointTaken(f"{owner!r} already holds the other end of tunnel {tunnel!r}; "
                            "a service cannot hold both ends of one tunnel")
    if held is not None:
        raise EndpointTaken(f"the {direction.value} end of tunnel {tunnel!r} is already "
                            f"held by {held!r}; a tunnel has one writer and one reader "
                            "(for several writers, make it a fan-in tunnel: "
                            "mesh.tunnel(name, writers=[...]))")
