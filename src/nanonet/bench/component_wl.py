"""The ``components`` workload: ``component_cost``'s rows as bench parts.

Rows (``result["components"][row]``, statistics as ``component_cost
--json`` names them):

- ``pair``: a component's call to a component composed with it
  (``c2c_p50_ns``, ``c2c_p99_ns``, ``c2c_calls_per_s``), Python calling the
  same callee (``h2c_p50_ns``, ``h2c_p99_ns``) and the same import linked
  through Python (``py_link_p50_ns``, ``py_link_p99_ns``);
- ``boundary``: a host call in (``call_in_us``), a component's call out
  to a host function (``call_out_us``), ``list<u8>`` and strings of 1 MiB
  and 64 KiB through the value layer (``bytes_MBps``, ``string_MBps``,
  ``bytes_roundtrip_MBps``);
- ``bulk``: strings and ``list<u8>`` through the core API beside the value
  layer (``canon_*_MBps``, ``values_*_MBps``);
- ``stream``: component -> tunnel through a host function, the split data
  plane and the core-module path (``component_stream_msg_per_s``,
  ``fast_path_msg_per_s``, ``core_msg_per_s``);
- ``ring``: a component writing a tunnel with and without the Wasm tunnel
  path (``component_ring_msg_per_s``, ``component_ring_host_msg_per_s``,
  ``component_ring_speedup``);
- ``coldstart_core``, ``coldstart_c``, ``coldstart_python``,
  ``coldstart_javascript``: ``size_MB`` (components), ``load_ms``,
  ``first_ms``, ``again_ms``, ``reload_ms``, and for components a start
  from an empty compiled-module cache (``cold_cpu_s``,
  ``cold_compiled_MB``, ``cold_wasm_path``).
"""

from __future__ import annotations

import functools

from .rowsets import PartFn, Rows

SIZE = 64
# full, quick
STREAM = {False: 20_000, True: 1_000}  # component -> tunnel messages (the host path)
C2C = {False: 20_000, True: 2_000}
H2C = {False: 5_000, True: 500}
PY_LINK = {False: 2_000, True: 200}
CALLS = {False: 2_000, True: 200}
COLD_SAMPLES = {False: 5, True: 2}
_COLD = ("load_ms", "first_ms", "again_ms", "reload_ms")
# every row and its statistics, as docs/performance.md lists them
KEYS: dict[str, tuple[str, ...]] = {
    "pair": ("c2c_p50_ns", "c2c_p99_ns", "c2c_calls_per_s", "h2c_p50_ns", "h2c_p99_ns",
             "py_link_p50_ns", "py_link_p99_ns"),
    "boundary": ("call_in_us", "call_out_us", "bytes_roundtrip_MBps", "bytes_MBps",
                 "string_MBps"),
    "bulk": tuple(f"{path}_{kind}_{size}_MBps" for size in ("64k", "1m")
                  for kind in ("bytes", "string") for path in ("canon", "values")),
    "stream": ("component_stream_msg_per_s", "fast_path_msg_per_s", "core_msg_per_s"),
    "ring": ("component_ring_msg_per_s", "component_ring_host_msg_per_s",
             "component_ring_speedup"),
    "coldstart_core": _COLD,
    **{f"coldstart_{lang}": ("size_MB", *_COLD, "cold_cpu_s", "cold_compiled_MB",
                             "cold_wasm_path") for lang in ("c", "python", "javascript")},
}


def left_out(quick: bool) -> dict[str, str]:
    """The parts a --quick run leaves out, and why: from an empty cache (as in tests)
    componentize-py and componentize-js take ~30 s each to build the relay guest."""
    if not quick:
        return {}
    why = ("a --quick run does not build the {} relay guest (~30 s from an empty cache); "
           "the full run measures it")
    return {f"coldstart_{lang}": why.format(name)
            for lang, name in (("python", "Python"), ("javascript", "JavaScript"))}


def missing() -> str | None:
    """Nothing beyond wasmtime: a missing guest toolchain fails only its cold-start row."""
    return None


def pair(quick: bool) -> Rows:
    from ..host.engine import runtime
    from .component_pair import component_to_component, host_to_component, through_python
    rt = runtime()
    return {"pair": {**component_to_component(rt, C2C[quick]), **host_to_component(
        rt, H2C[quick]), **through_python(PY_LINK[quick])}}


def boundary(quick: bool) -> Rows:
    from ..host.engine import runtime
    from .component_cost import calls
    from .component_pair import bytes_speed
    return {"boundary": {**calls(CALLS[quick]), **bytes_speed(runtime())}}


def bulk(quick: bool) -> Rows:
    from .component_bulk import figures
    return {"bulk": figures()}


def stream(quick: bool) -> Rows:
    from .component_cost import component_stream, fast_path_stream
    from .wasm_runs import w2_nanonet
    n = STREAM[quick]
    outcome, _ = w2_nanonet(n * 10, SIZE)
    return {"stream": {"component_stream_msg_per_s": component_stream(n, SIZE),
                       "fast_path_msg_per_s": fast_path_stream(n * 10, SIZE),
                       "core_msg_per_s": outcome["count"] / outcome["seconds"]}}


def ring(quick: bool) -> Rows:
    from .component_ring import figures
    return {"ring": figures(STREAM[quick] * 10, SIZE)}


def coldstart(who: str, quick: bool) -> Rows:
    from . import component_coldstart as cs
    row = cs.core(COLD_SAMPLES[quick]) if who == "core" else cs.component(
        who, COLD_SAMPLES[quick])
    return {f"coldstart_{who}": row}


PARTS: dict[str, PartFn] = {
    "pair": pair, "boundary": boundary, "bulk": bulk, "stream": stream, "ring": ring,
    **{f"coldstart_{w}": functools.partial(coldstart, w)
       for w in ("core", "c", "python", "javascript")},
}
