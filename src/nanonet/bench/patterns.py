"""The ``patterns`` workload: pub-sub fan-out, fan-in, request/reply, wait-any.

Each row (``pubsub_64``, ``fanin_64``, ``reqrep``, ``waitany``) is its own
``--json`` key with a nanonet figure and the peers' figures of the same run:
iceoryx2 and ZeroMQ for 1 -> 4 publish-subscribe, ZeroMQ PUSH/PULL for
4 -> 1 fan-in, iceoryx2, ZeroMQ REQ/REP and NATS for request/reply. Every
peer runs in a child process of its own (``patterns_child``) with its far
ends in further processes (``crowd``), as the other peer rows do.

The nanonet rows are functions of their own modules, found through
``NANONET_ROWS`` and imported only in their child process: a row whose
module is not there is listed in ``result["skipped"]`` as not built.
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
from .measure import CHILD_TIMEOUT, Figures, latency, run_child

# row -> (module under nanonet.bench, function taking ``quick``)
NANONET_ROWS: dict[str, tuple[str, str]] = {
    "pubsub_64": ("pubsub_bench", "pubsub_row"),
    "fanin_64": ("many_bench", "fanin_row"),
    "waitany": ("many_bench", "waitany_row"),
    "reqrep": ("rpc_bench", "reqrep_rows"),
}
REQREP_ROWS = ("nanonet-wasm", "nanonet-host")  # the rows reqrep_rows returns
PUBSUB_SUBSCRIBERS = 4
FANIN_WRITERS = 4
SIZE = 64
# row -> (what the peer child runs, peers in the order shown)
PEERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pubsub_64": ("pubsub", ("iceoryx2", "zmq-inproc", "zmq-ipc")),
    "fanin_64": ("fanin", ("zmq-inproc", "zmq-ipc")),
    "reqrep": ("reqrep", ("iceoryx2", "zmq-ipc", "nats")),
}
# (what the peer child runs, peer) -> (full, quick) messages per sender, or round trips
_COUNTS = {"pubsub": (200_000, 5_000), "fanin": (100_000, 5_000), "reqrep": (20_000, 500)}
_NATS_REQREP = (5_000, 200)
Planned = tuple[str, str, Callable[[], Figures]]  # (row, transport, run)


def count(kind: str, peer: str, quick: bool) -> int:
    return (_NATS_REQREP if (kind, peer) == ("reqrep", "nats") else _COUNTS[kind])[quick]


def _argv(*args: object) -> list[str]:
    return [sys.executable, "-m", "nanonet.bench.patterns_child", *map(str, args)]


def stream(kind: str, peer: str, quick: bool) -> Figures:
    """A fan-out or fan-in run: delivered messages per second, all senders together."""
    summary, _ = run_child(_argv(kind, peer, count(kind, peer, quick), SIZE, 0))
    if summary["errors"] and summary["received"] == summary["count"]:
        raise BenchError(f"{summary['errors']:.0f} messages out of sequence")
    return {"msgs_per_s": summary["received"] / summary["seconds"],
            "messages": summary["count"], "received": summary["received"],
            "lost": summary["count"] - summary["received"], "seconds": summary["seconds"]}


def reqrep(peer: str, quick: bool) -> Figures:
    """One client's request/reply round trips: p50/p99 of the whole trip, calls/s."""
    n = count("reqrep", peer, quick)
    summary, samples = run_child(_argv("reqrep", peer, n, SIZE, min(1_000, n // 10)))
    if len(samples) != n:
        raise BenchError(f"expected {n} round trips, got {len(samples)}")
    return {**latency(samples, halve=False), "calls_per_s": n / summary["seconds"]}


def nanonet(row: str, quick: bool) -> Any:
    """A nanonet row's figures, from its registered function in a child process."""
    argv = _argv("nanonet", row, "quick" if quick else "full")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"{row} exited with {done.returncode}: {done.stderr[-1500:]}")
    return json.loads(done.stdout.splitlines()[-1])


def built(row: str) -> str | None:
    """Why ``row``'s nanonet figure cannot be measured yet, or None if it can."""
    module, function = NANONET_ROWS[row]
    if importlib.util.find_spec(f"nanonet.bench.{module}") is None:
        return f"not built: nanonet.bench.{module}.{function} does not exist yet"
    return None


def _nanonet_steps(row: str, quick: bool) -> list[Planned]:
    if row != "reqrep":
        return [(row, "nanonet", functools.partial(nanonet, row, quick))]
    once = functools.cache(functools.partial(nanonet, row, quick))
    return [(row, name, functools.partial(_pick, once, name)) for name in REQREP_ROWS]


def _pick(rows: Callable[[], Any], name: str) -> Figures:
    """One of the rows a function returns (it runs once for all of them)."""
    figures: Figures = dict(rows()[name])
    return figures


def plan(quick: bool, transports: tuple[str, ...]) -> tuple[list[Planned], dict[str, str]]:
    """The pattern steps for ``transports`` (peers that can run here) and the rows skipped."""
    out: list[Planned] = []
    skipped: dict[str, str] = {}
    for row in NANONET_ROWS:
        if "nanonet" in transports:
            if why := built(row):
                skipped[f"{row} nanonet"] = why
            else:
                out += _nanonet_steps(row, quick)
        kind, peers = PEERS.get(row, ("", ()))
        for peer in (p for p in peers if p in transports):
            run = (functools.partial(reqrep, peer, quick) if kind == "reqrep"
                   else functools.partial(stream, kind, peer, quick))
            out.append((row, peer, run))
    return out, skipped
