"""The Observer: one owner for everything that watches a mesh.

It owns one poll thread (every ``interval`` seconds: latency samples into
histograms, one snapshot with rates), a subscription to the supervisor's
lifecycle events (spans, and transition counts for metrics), the taps, the host
writers that replay and the write path send through (``feeds.py``: offered by
``nanonet run``, or taken here when nobody holds the end), the inspector, and
the control endpoint. The data plane never waits
for any of it: the poll thread only reads the ring headers and the service
objects. ``close`` (or leaving the ``with`` block) takes one last snapshot,
marked ``ended`` (what the dashboard shows as the mesh's end), then stops it
all and waits. ``name`` names the mesh: in snapshots and as the spans'
``service.name``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from opentelemetry.trace import TracerProvider

from ..errors import EndpointTaken, InvalidValue, NotFound, TapError, TunnelClosed
from ..mesh import HOST, Mesh, Tunnel
from ..runtime.supervisor import Transition
from .feeds import SharedWriter
from .inspector import Inspector, Seen
from .latency import LatencySampler
from .metrics import exposition, registry
from .pcapng import PcapngWriter, Sink, replay_messages
from .snapshot import Counts, MeshSnapshot, take, with_rates
from .tap import EVERY, Tap, TapFilter
from .traces import LifecycleTracer, provider, shutdown

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from .server import ControlServer

MESH_NAME = "nanonet"  # a mesh's name when nobody gave it one
INTERVAL = 0.25  # four snapshots a second: what the dashboard and top show
TAP_STALL = 5.0  # seconds a tap's output (an HTTP client) may take no bytes before it is detached


class Observer:
    """Counters, latency, spans, taps and replay for one mesh."""

    def __init__(self, mesh: Mesh, *, name: str = MESH_NAME, interval: float = INTERVAL,
                 tracer_provider: TracerProvider | None = None,
                 traces: str | SpanExporter = "none", tap_stall: float = TAP_STALL) -> None:
        self.mesh = mesh
        self.name = name
        self.interval = interval
        self.tap_stall = tap_stall
        self.provider = tracer_provider or provider(traces, name)
        self.tracer = LifecycleTracer(self.provider)
        self.samplers = {name: LatencySampler(t.ring) for name, t in mesh.tunnels.items()}
        self.registry = registry(self.fresh)
        self.taps: dict[str, Tap] = {}
        self._taps_lock = threading.Lock()  # request threads and close change taps at once
        self._feeds: dict[str, SharedWriter] = {}
        self._feeds_lock = threading.Lock()
        self.inspector = Inspector()
        self._lock = threading.Lock()
        self._latest: MeshSnapshot | None = None
        self._final: MeshSnapshot | None = None  # taken by close: the mesh ended
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._servers: list[ControlServer] = []
        self.counts: Counts = {}  # lifecycle events per service, from the bus
        self._unsubscribe = mesh.supervisor.bus.subscribe(self._on_event)

    def _on_event(self, ev: Transition) -> None:
        """A lifecycle event (on the bus's thread): a span, and one more count."""
        self.tracer.on_event(ev)
        with self._lock:
            per = dict(self.counts.get(ev.service, {}))
            per[ev.event.value] = per.get(ev.event.value, 0) + 1
            self.counts[ev.service] = per

    # -- polling -----------------------------------------------------------
    def start(self) -> Observer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nanonet-observer",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
            for tap in list(dict.fromkeys(self.taps.values())):  # no output may hold a writer
                tap.check_stall(self.tap_stall)

    def poll(self) -> MeshSnapshot:
        """Take latency samples (message spans) and one snapshot now."""
        with self._lock:
            for name, sampler in list(self.samplers.items()):
                for counter, ns in sampler.poll():
                    self.tracer.message(name, counter, ns)
            snap = with_rates(take(self.mesh, self.samplers, self.counts, self.name),
                              self._latest)
            self._latest = snap
        return snap

    def snapshot(self) -> MeshSnapshot:
        """The latest polled snapshot (with rates); polls once if there is none.
        Once ``close`` began, the last one, ``ended``."""
        return self._final or self._latest or self.poll()

    def fresh(self) -> MeshSnapshot:
        """Counters read now (Prometheus scrapes want exact counts, rates are theirs)."""
        with self._lock:
            counts = dict(self.counts)
        return take(self.mesh, self.samplers, counts, self.name)

    def metrics(self, accept: str | None = None) -> bytes:
        """The mesh now in the Prometheus text format (or OpenMetrics, if ``accept``
        asks for ``application/openmetrics-text``)."""
        return self.exposition(accept)[0]

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics body and its content type, as ``accept`` (an HTTP Accept) asks."""
        return exposition(self.registry, accept)

    # -- taps and replay ----------------------------------------------------
    def tap(self, tunnel: str | Sequence[str], out: Sink | str | Path,
            flt: TapFilter = EVERY, limit: int | None = None) -> Tap:
        """Mirror ``tunnel`` (or several, into one capture) into a pcapng file
        (path) or stream; returns the started tap. A path is created only once
        every tunnel is attached, so a refused tap leaves no file."""
        names = [tunnel] if isinstance(tunnel, str) else list(dict.fromkeys(tunnel))
        if not names:
            raise InvalidValue("name at least one tunnel to tap")
        tunnels = [self._tunnel(name) for name in names]
        with self._taps_lock:
            for name in names:
                old = self.taps.get(name)
                if old is not None and old.attached:
                    raise TapError(f"tunnel {name!r} already has a tap: stop it first")
            tap = self._start_tap(tunnels, out, flt, limit)
            self.taps.update(dict.fromkeys(names, tap))
        return tap

    def _start_tap(self, tunnels: list[Tunnel], out: Sink | str | Path, flt: TapFilter,
                   limit: int | None) -> Tap:
        owned: list[BinaryIO] = []

        def writer(firsts: list[int]) -> PcapngWriter:
            notes = [f"nanonet tunnel {t.name!r} from message {first}, sample 1/{flt.sample}"
                     + (f", stream {flt.stream}" if flt.stream is not None else "")
                     + "; packet id = ring counter" for t, first in zip(tunnels, firsts,
                                                                      strict=True)]
            if isinstance(out, str | Path):
                owned.append(open(out, "wb"))  # noqa: SIM115 (closed by the tap's end)
                return PcapngWriter(owned[0], [t.name for t in tunnels], notes)
            return PcapngWriter(out, [t.name for t in tunnels], notes)

        return Tap(self.mesh.rt, tunnels, writer, flt, limit,
                   on_end=lambda: [f.close() for f in owned],
                   abort=None if owned else getattr(out, "abort", None)).start()

    def stop_tap(self, tunnel: str | Tap) -> Tap:
        """Stop the tap on ``tunnel`` (or this very tap); on return it is detached."""
        tap = tunnel if isinstance(tunnel, Tap) else self.taps.get(tunnel)
        if tap is None:
            raise TapError(f"tunnel {tunnel!r} has no tap")
        self._end_tap(tap)
        return tap

    def _end_tap(self, tap: Tap) -> None:
        """Stop ``tap`` and forget it, unless a newer tap took its place meanwhile.

        It stays listed until it is detached, so a ``close`` running beside a
        server thread that stops the same tap still waits for it."""
        tap.stop()
        with self._taps_lock:
            for name in tap.names:
                if self.taps.get(name) is tap:
                    del self.taps[name]

    def replay(self, source: BinaryIO | str | Path, tunnel: str, timeout: float = 30.0) -> int:
        """Send every packet of a pcapng capture into ``tunnel`` through a host writer.

        The whole capture is read and checked first (a file that is not a
        tap's capture raises ``PcapngError`` and sends nothing); then it is one
        ``send_many``, stopped the same way: a message too big for the tunnel's
        slots raises ``MessageTooBig`` whose ``sent`` counts those delivered.
        Returns how many were sent (0 for a capture with no packets).
        """
        feed = self._feed(tunnel)
        if isinstance(source, str | Path):
            with open(source, "rb") as f:
                messages = replay_messages(f)
        else:
            messages = replay_messages(source)
        return feed.send_many(messages, timeout)

    def offer(self, feed: SharedWriter) -> None:
        """Let replay and the write path send through a host write end held elsewhere
        (``nanonet run --feed``); the caller keeps it and closes it."""
        with self._feeds_lock:
            self._feeds[feed.name] = feed

    def send(self, tunnel: str, messages: Sequence[bytes], timeout: float = 30.0) -> int:
        """Send ``messages`` into ``tunnel`` through the host's write end; how many went.

        Refused (``EndpointTaken``, naming who holds it) when the host holds no
        write end it offered: a service writes the tunnel, or it was closed."""
        feed = self._feed(tunnel)
        try:
            return feed.send_many(messages, timeout)
        except TunnelClosed:
            raise TunnelClosed(f"tunnel {tunnel!r} is closed: nothing more can be sent into it "
                               "(nanonet run --send closes it at the end of its file, unless "
                               "--send-keep-open)") from None

    def _feed(self, tunnel: str) -> SharedWriter:
        """The write end offered for ``tunnel``, else the host's, taken once and kept."""
        t = self._tunnel(tunnel)
        with self._feeds_lock:
            if tunnel in self._feeds:
                return self._feeds[tunnel]
            if t.writer is not None:
                raise EndpointTaken(_not_writable(t))
            feed = self._feeds[tunnel] = SharedWriter(tunnel, self.mesh.writer(tunnel))
            return feed

    def writable(self, tunnel: str) -> str | None:
        """None if ``send`` can write into ``tunnel``, else why not (one line)."""
        t = self._tunnel(tunnel)
        with self._feeds_lock:
            if tunnel in self._feeds or t.writer is None:
                return None
        return _not_writable(t)

    def recent(self, tunnel: str, last: int = 20) -> list[Seen]:
        """The last ``last`` messages the inspector saw on ``tunnel``; the first call
        starts inspecting it (until ``inspector.LEASE`` seconds after the last)."""
        return self.inspector.recent(self._tunnel(tunnel), last)

    def _tunnel(self, name: str) -> Tunnel:
        try:
            return self.mesh.tunnels[name]
        except KeyError:
            known = ", ".join(sorted(self.mesh.tunnels)) or "none"
            raise NotFound(f"no tunnel named {name!r} (tunnels: {known})") from None

    # -- serving -------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
              token_file: str | Path | None = None,
              origins: Iterable[str] = ()) -> ControlServer:
        """Start the control endpoint (HTTP + WebSocket) and the poll thread.

        ``origins`` are web origins besides the server's own whose pages may
        use it (with the token), e.g. ``["http://127.0.0.1:8888"]``."""
        from .server import ControlServer

        self.start()
        server = ControlServer(self, host, port, token, token_file, origins).start()
        self._servers.append(server)
        return server

    def close(self) -> None:
        """Stop everything (once; closing again does nothing)."""
        if self._stop.is_set():
            return
        self._final = replace(self.poll(), ended=True)  # every WebSocket's last message
        for server in self._servers:
            server.close()
        self._servers.clear()
        for tap in list(dict.fromkeys(self.taps.values())):
            self._end_tap(tap)
        self.inspector.close()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()  # a poll only reads counters: it ends
        self.mesh.supervisor.bus.flush()  # the events so far reach the tracer first
        self._unsubscribe()
        self.tracer.close()
        shutdown(self.provider)

    def __enter__(self) -> Observer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()



def _not_writable(t: Tunnel) -> str:
    """Why the host cannot send into ``t``: who holds its write end."""
    if t.writer == HOST:
        return (f"the host's write end of tunnel {t.name!r} is not open for sending (nanonet "
                f"run closes it at the start): run the mesh with --feed {t.name} (or --send "
                f"{t.name}=FILE)")
    return (f"the write end of tunnel {t.name!r} is held by {t.writer!r}: only a tunnel whose "
            "writer is the host (writer = \"host\") can be sent into")
