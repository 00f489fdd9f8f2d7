"""``nanonet demo``: the telemetry example, built, run and checked.

ingress (C) → "raw" → filter (WAT) → "filtered" → aggregate (C) → "summary"
→ the host. The demo builds the C guests with ``nanonet.toolchain.build`` (cached),
runs the mesh, and checks aggregate's summary against ``telemetry.expected``:
a demo that only printed a speed would not show that nothing was lost.
Without zig (the ``[c]`` extra) it runs the copies built from the same
sources that ship in ``examples/telemetry/prebuilt/`` (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import InvalidValue, NanonetError, TunnelClosed, TunnelTimeout
from .mesh import Mesh
from .policy.policy import Limits
from .ring.endpoint import TunnelReader
from .telemetry import (
    DEFAULT_HI,
    DEFAULT_LO,
    MAX_SENSORS,
    READING,
    SUMMARY_MAX,
    Summary,
    differences,
    expected,
    parse_summary,
    sources,
)
from .toolchain.build import MemoryStyle, compile_c, has_zig

# name, memory style, extra exports: both styles appear, filter.wat imports too
C_GUESTS: tuple[tuple[str, MemoryStyle, tuple[str, ...]], ...] = (
    ("ingress", "import", ("configure",)),
    ("aggregate", "export", ()),
)
POLL_SECONDS = 0.1  # how often the host looks for a failed service while it waits
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """What to run: how many readings, from how many sensors, which range to keep."""

    count: int = 1_000_000
    sensors: int = 16
    seed: int = 1
    lo: int = DEFAULT_LO
    hi: int = DEFAULT_HI
    timeout: float = 120.0
    slots: int = 4096  # per ring: deeper rings, more readings queued, higher latency
    limits: bool = False  # fuel metering, a fuel budget, a deadline and a memory cap on all
    latency: bool = False  # sampling adapters: per-tunnel latency histograms for observers


# what "limits on" means for every service of the demo: generous enough never
# to trip on this work, so the run measures only what enforcing them costs. A
# fuel budget is a stop for runaway code, refilled only where wasmtime lets a
# refill through (docs/runtime.md, "What a fuel budget does"): sized for all a
# service streams between refills, spinning on a loaded machine included
DEMO_LIMITS = Limits(fuel_per_tick=10**12, deadline_ms=1000, memory_bytes=16 << 20)


@dataclass
class DemoResult:
    """The summary the mesh produced, how long it took, and what was wrong with it."""

    summary: Summary
    seconds: float
    dropped: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def prebuilt(name: str) -> Path:
    """The shipped build of C guest ``name`` (``prebuilt/NAME.wasm``)."""
    return sources() / "prebuilt" / f"{name}.wasm"


def build_guests(progress: Progress) -> dict[str, Path]:
    """Build the C guests (or find them cached, or take the prebuilt ones
    where zig is absent) and locate the WAT one."""
    src = sources()
    out = {"filter": src / "filter.wat"}
    for name, memory, exports in C_GUESTS:
        if not has_zig():
            out[name] = prebuilt(name)
            progress(f"  {name}.wasm ({memory}s its memory): {out[name].stat().st_size} "
                     f"bytes, prebuilt (pip install 'nanonet[c]' to build {name}.c)")
            continue
        built = compile_c(src / f"{name}.c", memory=memory, exports=exports)
        progress(f"  {name}.c ({memory}s its memory): {built.size} bytes, {built.how}")
        out[name] = built.path
    return out


def demo_mesh(cfg: DemoConfig, wasm: dict[str, Path]) -> Mesh:
    """The telemetry mesh, configured, not started (for observers and tests)."""
    return _mesh(cfg, wasm)


def _mesh(cfg: DemoConfig, wasm: dict[str, Path]) -> Mesh:
    mesh = Mesh(fuel=cfg.limits, latency=cfg.latency)
    lim = DEMO_LIMITS if cfg.limits else None
    mesh.tunnel("raw", slots=cfg.slots, max_payload=READING.size)
    mesh.tunnel("filtered", slots=cfg.slots, max_payload=READING.size)
    mesh.tunnel("summary", slots=2, max_payload=SUMMARY_MAX)
    ingress = mesh.service("ingress", wasm["ingress"], writes=["raw"], grants=["clock"],
                           limits=lim)
    filt = mesh.service("filter", wasm["filter"].read_text(), reads=["raw"], writes=["filtered"],
                        limits=lim)
    mesh.service("aggregate", wasm["aggregate"], reads=["filtered"], writes=["summary"],
                 grants=["clock"], limits=lim)
    ingress.call("configure", cfg.count, cfg.sensors, cfg.seed)  # control plane, before start
    filt.call("configure", cfg.lo, cfg.hi)
    return mesh


def _failure(mesh: Mesh) -> str | None:
    """Why the mesh cannot finish, if a service trapped or returned an error."""
    if mesh.traps:
        return str(mesh.traps[0])
    bad = [f"{s.name} returned {s.exit_code}" for s in mesh.services.values()
           if s.exit_code not in (None, 0)]
    return "; ".join(bad) or None


def _await_summary(mesh: Mesh, reader: TunnelReader, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return reader.recv(timeout=POLL_SECONDS)
        except TimeoutError:
            pass
        except TunnelClosed:
            raise TunnelClosed("aggregate closed 'summary' without a summary") from None
        why = _failure(mesh)
        if why:
            raise NanonetError(f"the mesh failed: {why}")
    raise TunnelTimeout(f"no summary within {timeout} s: pass a longer --timeout")


def run_demo(cfg: DemoConfig, progress: Progress = print) -> DemoResult:
    """Build, run and check the telemetry mesh once."""
    if not 1 <= cfg.sensors <= MAX_SENSORS:
        raise InvalidValue(f"--sensors {cfg.sensors}: use 1 to {MAX_SENSORS}")
    progress("building the guests")
    wasm = build_guests(progress)
    with _mesh(cfg, wasm) as mesh:
        reader = mesh.reader("summary")
        progress(f"running {cfg.count:,} readings from {cfg.sensors} sensors")
        t0 = time.perf_counter()
        mesh.start()
        data = _await_summary(mesh, reader, cfg.timeout)
        seconds = time.perf_counter() - t0
        if not mesh.wait(cfg.timeout):
            mesh.stop()  # a guest's exports are called only once its thread has ended
        problems = [why] if (why := _failure(mesh)) else []
        dropped = int(mesh.services["filter"].call("dropped"))
    got = parse_summary(data)
    want = expected(cfg.count, cfg.sensors, cfg.seed, cfg.lo, cfg.hi)
    return DemoResult(got, seconds, dropped, problems + differences(got, want))


def report(cfg: DemoConfig, result: DemoResult) -> str:
    """The lines the command prints after a run."""
    s = result.summary
    return "\n".join([
        f"  kept {s.readings:,}, dropped {result.dropped:,} (range [{cfg.lo}, {cfg.hi}])",
        f"  {cfg.count / result.seconds / 1e6:.2f} M readings/s "
        f"({result.seconds:.3f} s from start to summary)",
        f"  end-to-end latency over {s.samples:,} samples taken in Wasm: "
        f"p50 {s.p50_ns / 1e3:.1f} µs, p99 {s.p99_ns / 1e3:.1f} µs, "
        f"max {s.max_ns / 1e3:.1f} µs",
    ])


def _run(args: argparse.Namespace) -> int:
    cfg = DemoConfig(args.count, args.sensors, args.seed, args.lo, args.hi, args.timeout,
                     args.slots)
    runs = [(cfg, "")]
    if args.compare_limits:
        runs = [(cfg, "limits off: "), (replace(cfg, limits=True), "limits on: ")]
    for one, label in runs:
        if label:
            print(f"{label}{_describe(one)}")
        try:
            result = run_demo(one)
        except NanonetError as err:
            print(f"demo failed: {err}")
            return 1
        print(report(one, result))
        if not result.ok:
            print("summary is WRONG:\n  " + "\n  ".join(result.problems))
            return 1
        print("summary matches the Python model of the same readings")
    return 0


def _describe(cfg: DemoConfig) -> str:
    if not cfg.limits:
        return "no fuel metering, no deadline, no memory cap"
    lim = DEMO_LIMITS
    return (f"fuel metered, {lim.fuel_per_tick:,} per 10 ms tick; deadline "
            f"{lim.deadline_ms} ms; memory cap {(lim.memory_bytes or 0) >> 20} MiB")


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="build and run the telemetry example, and check it",
                       description="ingress (C) → filter (WAT) → aggregate (C): synthetic "
                       "sensor readings through two memory tunnels; the summary is checked "
                       "against the same readings computed in Python.")
    p.add_argument("--count", type=int, default=DemoConfig.count, help="readings to send")
    p.add_argument("--sensors", type=int, default=DemoConfig.sensors,
                   help=f"distinct sensors (1 to {MAX_SENSORS})")
    p.add_argument("--seed", type=int, default=DemoConfig.seed, help="generator seed")
    p.add_argument("--lo", type=int, default=DEFAULT_LO, help="lowest value kept (0.1 °C)")
    p.add_argument("--hi", type=int, default=DEFAULT_HI, help="highest value kept (0.1 °C)")
    p.add_argument("--slots", type=int, default=DemoConfig.slots,
                   help="slots per ring (a power of two); latency grows with depth")
    p.add_argument("--timeout", type=float, default=DemoConfig.timeout,
                   help="seconds before giving up")
    p.add_argument("--compare-limits", action="store_true",
                   help="run twice in one go, limits off then on (fuel, deadline, memory "
                   "cap), to show what enforcing them costs")
    p.set_defaults(func=_run)
