"""``nanonet run --call 'router.handle("/admin", "42.admin.…")' --calls 2000``.

A component answers calls but sends nothing by itself, so a run of a mesh
of components needs someone to call it: ``--call`` names a component
service's export and its arguments (Python literals), and a thread of the
run calls it ``--calls`` times once the mesh has started, timing each call,
while the main thread keeps draining the host's ends (so the tunnels that
the calls fill keep moving). The run stops when the calls are done, and its
summary says calls/s, p50 and p99 latency, and the last answer.
"""

from __future__ import annotations

import ast
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import NanonetError
from ..mesh import Mesh
from .manifest_run import Stop

_SPEC = re.compile(r"^\s*([A-Za-z0-9_-]+)\.([A-Za-z0-9_#:/@.-]+)\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class CallSpec:
    """One export of one component service, with the arguments to give it."""

    service: str
    export: str
    args: tuple[Any, ...]

    @classmethod
    def parse(cls, text: str) -> CallSpec:
        match = _SPEC.match(text)
        if match is None:
            raise ValueError(f"--call {text!r} is not SERVICE.EXPORT(ARGS): write e.g. "
                             "'router.handle(\"/\", \"42.admin.sig\")'")
        try:
            args = ast.literal_eval(f"({match[3]},)") if match[3].strip() else ()
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"--call {text!r}: its arguments are not Python literals "
                             f"({err}); quote strings, e.g. (\"/\", 3)") from None
        return cls(match[1], match[2], tuple(args))

    def __str__(self) -> str:
        return f"{self.service}.{self.export}"


@dataclass
class Calls:
    """The calls made so far, each one's duration in ns, and how they ended."""

    spec: CallSpec
    count: int
    ns: list[int] = field(default_factory=list)
    seconds: float = 0.0
    last: Any = None
    error: str | None = None

    def report(self) -> str:
        if self.error is not None:
            return f"calls: {self.spec} failed after {len(self.ns)} call(s): {self.error}"
        if not self.ns:
            return f"calls: {self.spec}: none made"
        ns = sorted(self.ns)
        p50, p99 = ns[len(ns) // 2], ns[min(len(ns) - 1, int(len(ns) * 0.99))]
        rate = len(ns) / self.seconds if self.seconds else 0.0
        return (f"calls: {len(ns)} × {self.spec}: {rate:,.0f} calls/s, p50 {p50 / 1e3:.1f} µs, "
                f"p99 {p99 / 1e3:.1f} µs; last answer: {self.last!r}")


def _drive(mesh: Mesh, calls: Calls, stop: Stop) -> None:
    spec = calls.spec
    try:
        comp = mesh.components.get(spec.service)
        if comp is None:
            raise NanonetError(f"no component service {spec.service!r} in this mesh "
                               f"(components: {', '.join(mesh.components) or 'none'})")
        stop.started.wait()
        t0 = time.perf_counter()
        for _ in range(calls.count):
            c0 = time.perf_counter_ns()
            calls.last = comp.call(spec.export, *spec.args, timeout=60)
            calls.ns.append(time.perf_counter_ns() - c0)
        calls.seconds = time.perf_counter() - t0
    except Exception as exc:  # reported in the summary: the run still stops cleanly
        calls.error = f"{type(exc).__name__}: {exc}"
    stop.why = f"stopped after the calls to {spec}"


def start_calls(mesh: Mesh, spec: CallSpec, count: int, stop: Stop,
                ) -> tuple[Calls, threading.Thread]:
    """A thread calling ``spec`` ``count`` times once the mesh has started
    (``stop.started``); join it before reading its ``Calls``."""
    calls = Calls(spec, count)
    thread = threading.Thread(target=_drive, args=(mesh, calls, stop),
                              name="nanonet:calls", daemon=True)
    thread.start()
    return calls, thread
