"""The child process of the pattern rows: ``python -m nanonet.bench.patterns_child ...``.

``ROW TRANSPORT COUNT SIZE WARMUP``: one peer run of a pattern row (``pubsub``,
``fanin``, ``reqrep``), printed as the bench children print: one JSON line of
figures, then one latency in ns per line (request/reply only).
``nanonet ROW quick|full``: a nanonet row from its registered function
(``patterns.NANONET_ROWS``), printed as one JSON line.
``serve KIND ...``: a far end (``crowd`` starts them). A peer's library is
imported only when that peer runs.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .patterns import FANIN_WRITERS, NANONET_ROWS, PUBSUB_SUBSCRIBERS

Outcome = tuple[dict[str, float], list[int]]


def _peer(name: str) -> Any:
    return importlib.import_module(f"nanonet.bench.{name}")


def _runs(n: int, size: int, warm: int) -> dict[tuple[str, str], Callable[[], Outcome]]:
    subs, writers = PUBSUB_SUBSCRIBERS, FANIN_WRITERS
    return {
        ("pubsub", "iceoryx2"): lambda: _peer("iox_patterns").fanout(n, size, subs),
        ("pubsub", "zmq-ipc"): lambda: _peer("zmq_patterns").fanout_ipc(n, size, subs),
        ("pubsub", "zmq-inproc"): lambda: _peer("zmq_patterns").fanout_inproc(n, size, subs),
        ("fanin", "zmq-ipc"): lambda: _peer("zmq_patterns").fanin_ipc(n, size, writers),
        ("fanin", "zmq-inproc"): lambda: _peer("zmq_patterns").fanin_inproc(n, size, writers),
        ("reqrep", "iceoryx2"): lambda: _peer("iox_patterns").reqrep(n, size, warm),
        ("reqrep", "zmq-ipc"): lambda: _peer("zmqpeer").ipc("w1", n, size, warm),
        ("reqrep", "nats"): lambda: _peer("natspeer").w1(n, size, warm, 0),
    }


def _serve(kind: str, args: list[str]) -> int:
    servers: dict[str, Callable[[], int]] = {
        "iox-sub": lambda: _peer("iox_patterns").subscriber(int(args[0]), args[1],
                                                            int(args[2])),
        "iox-rr": lambda: _peer("iox_patterns").responder(int(args[0]), args[1]),
        "zmq-sub": lambda: _peer("zmq_patterns").subscriber_ipc(int(args[0])),
        "zmq-push": lambda: _peer("zmq_patterns").writer_ipc(args[0], int(args[1]),
                                                             int(args[2]), int(args[3])),
    }
    return servers[kind]()


def nanonet_row(row: str, quick: bool) -> Any:
    """Call the function registered for ``row``: its figures."""
    module, function = NANONET_ROWS[row]
    return getattr(_peer(module), function)(quick)


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "serve":
        return _serve(argv[1], list(argv[2:]))
    if len(argv) == 3 and argv[0] == "nanonet":
        print(json.dumps(nanonet_row(argv[1], argv[2] == "quick")))
        return 0
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 64
    row, transport, count, size, warmup = argv
    summary, samples = _runs(int(count), int(size), int(warmup))[(row, transport)]()
    sys.stdout.write("\n".join([json.dumps(summary)] + [str(s) for s in samples]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
