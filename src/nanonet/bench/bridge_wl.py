"""The ``bridge`` workload: the NATS, QUIC and WebSocket bridges against raw nats-py and ZeroMQ.

``bridge_bench.bridge_rows`` measures every row in one child process
(``python -m nanonet.bench.bridge_wl quick|full PLACEMENT PEERS``), run in
the near network namespace that ``netpair.placed`` made for it (or on
loopback), so that its threads and asyncio loop never share the bench's
process. The rows become four ``--json`` keys, each with a figure per
peer: ``bridge_64`` and ``bridge_4096`` (delivered msgs/s, ``lost`` and
``out_of_order`` from the far end's check of every sequence number) and
``bridge_rtt`` and ``bridge_rtt_4096`` (round trip ``p50_ns``/``p99_ns``);
every figure names its ``placement``. The peers: ``nanonet`` (the NATS
bridge), ``nanonet-quic``, ``nanonet-ws``, ``nats`` (nats-py) and
``zmq-tcp``. The targets (``targets.py``) are ratios of these.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from ..errors import BenchError
from .bridge_bench import PEERS, RTT_KEYS, STREAM_KEYS
from .measure import CHILD_TIMEOUT, Figures
from .netpair import Placement, placed

ROWS = (*STREAM_KEYS.values(), *RTT_KEYS.values())
Planned = tuple[str, str, Callable[[], Figures]]


def peers_here(transports: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The peers that run here, and why the others do not."""
    skipped: dict[str, str] = {}
    if importlib.util.find_spec("aioquic") is None:
        skipped["bridge nanonet-quic"] = "no aioquic: pip install 'nanonet[net]'"
    if not any(t.startswith("zmq") for t in transports):
        skipped["bridge zmq-tcp"] = "no zmq transport chosen (or no pyzmq)"
    return [p for p in PEERS if f"bridge {p}" not in skipped], skipped


def measured(quick: bool, peers: tuple[str, ...]) -> dict[str, Any]:
    """``bridge_rows`` from a child process on the near side of a placement."""
    with placed() as place:
        argv = place.near([sys.executable, "-m", "nanonet.bench.bridge_wl",
                           "quick" if quick else "full", place.to_json(), ",".join(peers)])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT * 3)
    if done.returncode != 0:
        raise BenchError(f"the bridge rows exited with {done.returncode}: {done.stderr[-1500:]}")
    rows: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return rows


def figures(rows: dict[str, Any], key: str, peer: str) -> Figures:
    """One peer's figures of one row (an error if that measurement failed)."""
    out: Figures = dict(rows[key][peer])
    if "error" in out:
        raise BenchError(out["error"])
    return out


def _pick(once: Callable[[], dict[str, Any]], key: str, peer: str) -> Figures:
    return figures(once(), key, peer)


def plan(quick: bool, transports: tuple[str, ...]) -> tuple[list[Planned], dict[str, str]]:
    """The bridge steps (one measurement shared by all of them), or why none."""
    if "nanonet" not in transports or "nats" not in transports:
        return [], {"bridge": "needs the nanonet and nats transports (nats-py, nats-server)"}
    peers, skipped = peers_here(transports)
    once = functools.cache(functools.partial(measured, quick, tuple(peers)))
    return [(key, peer, functools.partial(_pick, once, key, peer))
            for key in ROWS for peer in peers], skipped


def main(argv: list[str]) -> int:
    from .bridge_bench import bridge_rows
    mode, place, peers = argv
    print(json.dumps(bridge_rows(mode == "quick", Placement.from_json(place),
                                 peers.split(","))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
