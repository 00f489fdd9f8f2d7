"""The component -> component call against the host -> component call, in one run.

The caller and callee of ``component/pair.py`` are composed into one
component (``component/compose.py``): the caller times each call to the
callee's ``scale(point) -> point`` inside Wasm, with WASI's monotonic clock
(wasmtime's own, no Python), and runs an untimed loop for calls/s. The same
callee is then called from Python, each call timed with ``perf_counter_ns``.
"""

from __future__ import annotations

import time

from ..component import pair
from ..component.compose import Plug, compose
from ..component.host import load
from ..host.engine import Runtime
from ..policy.policy import Grants


def _pct(sorted_ns: list[int], q: float) -> float:
    return float(sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))])


def component_to_component(rt: Runtime, n: int = 20000) -> dict[str, float]:
    """p50/p99 ns of a timed call (the clock reads included) and calls/s untimed."""
    both = compose(pair.caller(), {pair.CALC: Plug(pair.callee(), pair.CALC, "callee")},
                   "caller")
    inst = load(rt, both).instantiate(rt.new_store(), {}, wasi=Grants())
    inst.call("timed", 1000)  # warm
    durations = sorted(inst.call("timed", n))
    loops = 20 * n
    t0 = time.perf_counter()
    inst.call("spin", loops)
    seconds = time.perf_counter() - t0
    return {"c2c_p50_ns": _pct(durations, 0.5), "c2c_p99_ns": _pct(durations, 0.99),
            "c2c_calls_per_s": loops / seconds}


def through_python(n: int = 2000) -> dict[str, float]:
    """The same timed calls with the import wired ``"service:callee"`` (what a
    link through the engine's linker can do: a host function calling the
    other component's service), for comparison."""
    from ..mesh import Mesh
    with Mesh() as mesh:
        mesh.component("callee", pair.callee())
        caller = mesh.component("caller", pair.caller(), wasi=True,
                                imports={"calc": "service:callee"})
        mesh.start()
        caller.call("timed", 100)
        durations = sorted(caller.call("timed", n, timeout=600))
    return {"py_link_p50_ns": _pct(durations, 0.5), "py_link_p99_ns": _pct(durations, 0.99)}


def host_to_component(rt: Runtime, n: int = 5000) -> dict[str, float]:
    """p50/p99 ns of Python calling the same callee's ``scale``."""
    inst = load(rt, pair.callee()).instantiate(rt.new_store(), {})
    name = f"{pair.CALC}#scale"
    inst.call(name, {"x": 1, "y": 2})
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        inst.call(name, {"x": i, "y": 7})
        out.append(time.perf_counter_ns() - t0)
    out.sort()
    return {"h2c_p50_ns": _pct(out, 0.5), "h2c_p99_ns": _pct(out, 0.99)}


def bytes_speed(rt: Runtime, size: int = 1 << 20) -> dict[str, float]:
    """MB/s of ``list<u8>`` and of ``string`` through a component and back."""
    from ..component.echo import echo_wat
    inst = load(rt, echo_wat({"bytes": "(list u8)", "string": "string"})).instantiate(
        rt.new_store(), {})
    pad = tuple(range(16))
    out = {}
    for key, fname, value in (("bytes_MBps", "echo-bytes", bytes(size)),
                              ("string_MBps", "echo-string", "a" * size)):
        t0 = time.perf_counter()
        back = inst.call(fname, value, pad)
        seconds = time.perf_counter() - t0
        assert back[0] == value, f"{fname} changed its value"
        out[key] = 2 * size / seconds / 1e6
    return out
