"""Running a manifest's mesh from the command line: host ends, stop, summary.

The host holds the ends whose writer or reader is ``"host"``. It prints (or
only counts) what arrives on its read ends; its write ends are fed by
``feed.py`` (``--send``, ``--feed``) or closed at the start. The run ends
when every service has ended, at the timeout, on Ctrl-C or SIGTERM, when a
thread that draws asks (``Stop``), or when stdout is closed; all of them
stop the mesh the same way (close every tunnel, then interrupt what still
runs) and print the same summary.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import InternalError, NanonetError, TunnelBroken, TunnelClosed
from ..mesh import Mesh
from ..ring.endpoint import TunnelReader
from ..runtime.lifecycle import State
from .outcomes import exit_meaning, traps_text
from .stopping import Terminated

WAIT_SECONDS = 0.05  # how long the host waits on a read end before looking around
Print = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run: for how long, and how to show what the host receives."""

    timeout: float | None = None
    quiet: bool = False
    form: str = "auto"  # auto, hex or text
    max_bytes: int = 64


def show(data: bytes, form: str, max_bytes: int) -> str:
    """A message as text (if it is printable UTF-8, or asked) or as hex."""
    cut, rest = data[:max_bytes], len(data) - max_bytes
    tail = f" … (+{rest} bytes)" if rest > 0 else ""
    if form != "hex":
        try:
            text = cut.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and (form == "text" or text.isprintable()):
            return repr(text) + tail
    return cut.hex(" ") + tail


CTRL_C = "stopped by Ctrl-C"
SIGTERM = "stopped by SIGTERM"
CLOSED_OUTPUT = "stopped: the output was closed"


@dataclass
class Stop:
    """A stop asked by another thread (the one drawing ``--top``, or ``--call``'s):
    why, once set. ``started`` is set once the mesh has started (or failed to)."""

    why: str | None = None
    started: threading.Event = field(default_factory=threading.Event)


@dataclass
class HostReads:
    """The host's read ends: drained in turn until each is closed and empty."""

    readers: dict[str, TunnelReader]
    opts: RunOptions
    out: Print
    counts: dict[str, int] = field(default_factory=dict)
    silent: bool = False  # stdout is gone: count, print nothing
    # is this tunnel's break held open (a browser tab's lease: it may heal)?
    holds: Callable[[str], bool] = lambda tunnel: False
    held: set[str] = field(default_factory=set)  # ends whose break was told, kept

    def drain(self) -> bool:
        """Take what waits on every open end; True if anything came."""
        got = False
        for name, reader in list(self.readers.items()):
            try:
                messages = reader.try_recv_many(4096)
            except TunnelClosed:
                del self.readers[name]
                continue
            except NanonetError as err:
                self._broken(name, reader, err)
                continue
            self.held.discard(name)  # healed, if it was held
            got = got or bool(messages)
            self._take(name, messages)
        return got

    def _broken(self, name: str, reader: TunnelReader, err: NanonetError) -> None:
        """Say why the end stopped (once), and let go of it unless its break may heal."""
        keep = isinstance(err, TunnelBroken) and self.holds(name)
        if name not in self.held or not keep:  # a held break is told again once final
            # read again: its cause may have turned final since it was raised
            told = reader.control.broken_error() if isinstance(err, TunnelBroken) else err
            self.out(f"host: {name}: {told}")
        if keep:
            self.held.add(name)
        else:
            del self.readers[name]
            self.held.discard(name)

    def _take(self, name: str, messages: list[bytes]) -> None:
        for data in messages:
            n = self.counts[name] = self.counts.get(name, 0) + 1
            if not (self.opts.quiet or self.silent):
                self.out(f"host ← {name} #{n} ({len(data)} bytes): "
                         f"{show(data, self.opts.form, self.opts.max_bytes)}")

    def wait(self, mesh: Mesh) -> None:
        """Sleep in a tunnel wait (not a Python poll) until something may have changed."""
        waiting = [(n, r) for n, r in self.readers.items() if n not in self.held]
        if not waiting:  # none, or every one held broken: park in the services' joins
            idle = not _runs(mesh)
            mesh.wait(WAIT_SECONDS)  # at once if nothing runs; raises an internal error
            if idle:  # nothing to join either (every service is a tab's): sleep, not spin
                time.sleep(WAIT_SECONDS)
            return
        name, reader = waiting[0]
        # closed or broken: drain() sees it, reports a break and lets go of the end
        with contextlib.suppress(TimeoutError, TunnelClosed, TunnelBroken):
            self._take(name, reader.recv_many(4096, timeout=WAIT_SECONDS))


class Bridged(Protocol):
    """A node's bridges, as the run loop sees them (``bridge.node.NodeBridges``)."""

    def all_done(self) -> bool: ...

    def failure(self) -> BaseException | None: ...

    def stop(self) -> None: ...


def _runs(mesh: Mesh) -> bool:
    """Does a service or component still run on this host (a thread to join)?"""
    return (any(s.running for s in mesh.services.values())
            or any(c.running for c in mesh.components.values()))


def _all_ended(mesh: Mesh, bridges: Bridged | None = None) -> bool:
    """Every service ended, and every bridge sent (and had acknowledged) or
    received its tunnel to the end. A mesh of components alone never ends
    by itself: they only answer calls, so it runs until it is stopped (the
    timeout, the last ``--call``, Ctrl-C)."""
    if not mesh.services and any(c.running for c in mesh.components.values()):
        return False
    running = any(s.running for s in mesh.services.values())
    return not running and (bridges is None or bridges.all_done())


def run_mesh(mesh: Mesh, host: HostReads, opts: RunOptions, stop: Stop | None = None,
             bridges: Bridged | None = None) -> str:
    """Start ``mesh``, serve the host's ends, stop; says why the run ended."""
    stop = stop or Stop()
    try:
        mesh.start()
        stop.started.set()
        why = _serve(mesh, host, opts, stop, bridges)
    except Terminated:
        why = SIGTERM
    except KeyboardInterrupt:
        why = CTRL_C
    except BrokenPipeError:
        host.silent, why = True, CLOSED_OUTPUT
    except InternalError as err:
        why = f"nanonet failed: {err}"
    stop.started.set()  # whatever waits for the start does not wait for ever
    if bridges is not None:  # before the rings close under its pumps
        bridges.stop()
    try:
        mesh.stop()
    except InternalError as err:  # the summary shows that service FAILED with the cause
        why = f"nanonet failed: {err}"
    while True:  # until every end is empty: the last call sees a close or a break
        try:
            if not host.drain():
                break
        except BrokenPipeError:
            host.silent = True
    return stop.why or why


def _serve(mesh: Mesh, host: HostReads, opts: RunOptions, stop: Stop,
           bridges: Bridged | None) -> str:
    deadline = None if opts.timeout is None else time.monotonic() + opts.timeout
    while not _all_ended(mesh, bridges):
        if stop.why is not None:
            return stop.why
        if bridges is not None and (err := bridges.failure()) is not None:
            return f"a bridge failed: {err}"
        if deadline is not None and time.monotonic() >= deadline:
            return f"stopped at the timeout ({opts.timeout:g} s)"
        if not host.drain():
            host.wait(mesh)
    return "every service ended" if bridges is None else ENDED_BRIDGED


ENDED_BRIDGED = "every service ended and every bridge finished"


def summary(mesh: Mesh, host: HostReads) -> list[str]:
    """Per service: state, exit code, restarts, traps; per tunnel: its counters."""
    lines = [f"  {'service':<12} {'state':<10} {'exit':>5} {'restarts':>8}  traps"]
    for s in mesh.services.values():
        code = "-" if s.exit_code is None else str(s.exit_code)
        traps = traps_text(s.traps, s.trap_counts)
        if s.state is State.FAILED and s.cause:
            traps += f"; failed: {s.cause}"
        lines.append(f"  {s.name:<12} {s.state.value:<10} {code:>5} {s.restarts:>8}  {traps}")
        if meaning := exit_meaning(s.exit_code):
            lines.append(f"  {'':<12} exit {meaning}")
        if s.asked:
            lines.append(f"  {'':<12} {s.asked}")
    for c in mesh.components.values():
        renewed = str(c.restarts) if c.renew_after_trap else "-"  # fresh after a trap
        lines.append(f"  {c.name:<12} {c.state.value:<10} {'-':>5} {renewed:>8}  "
                     f"{c.cause or '(component: answers calls)'}")
    lines.append(f"  {'tunnel':<12} {'sent':>9} {'received':>9} {'bytes':>11} {'full':>6} "
                 f"{'empty':>6} {'parks w/r':>10}  state")
    for name, st in mesh.statistics().items():
        state = ("quarantined" if st.quarantine else "broken" if st.broken
                 else "closed" if st.closed else "open")
        if st.dead_letters:
            state += f", {st.dead_letters:,} dead letter(s)"
        parks = f"{st.writer_parks}/{st.reader_parks}"
        lines.append(f"  {name:<12} {st.sent:>9,} {st.received:>9,} {st.bytes_in:>11,} "
                     f"{st.times_full:>6,} {st.times_empty:>6,} {parks:>10}  {state}")
    for name, n in host.counts.items():
        lines.append(f"  host received {n:,} message(s) on {name}")
    return lines


BAD_ENDS = (State.TRAPPED, State.FAILED, State.RESTARTING)


def failed(mesh: Mesh, why: str) -> bool:
    """A service (or component) left trapped, failed or mid-restart, or (when
    the services ended on their own) a non-zero exit code; a trap its restart
    recovered from is no failure."""
    ends = [(s.state, s.internal_error) for s in mesh.services.values()]
    ends += [(c.state, c.internal_error) for c in mesh.components.values()]
    if any(state in BAD_ENDS or crash is not None for state, crash in ends):
        return True
    if why not in ("every service ended", ENDED_BRIDGED):
        return False
    return any(s.exit_code not in (None, 0) for s in mesh.services.values())
