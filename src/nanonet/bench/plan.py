"""What one bench run measures: workloads, transports and message counts.

Counts differ per transport because a loopback socket round trip costs a
hundred times a tunnel's, and a broker's ten times that: the same count would
make one run last seconds and another minutes. So each transport sits in a
tier with its own counts; ``--quick`` shrinks every count for tests and CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidValue

TRANSPORTS = ("nanonet", "nanonet-host", "nanonet-py", "py-tcp", "py-unix", "c-tcp", "c-unix",
              "c-ring", "mp-pipe", "zmq-ipc", "zmq-inproc", "iceoryx2", "nats")
WORKLOADS = ("w1", "rate", "w2", "w3", "w4", "scale", "observe", "patterns", "bridge", "http",
             "components", "browser")
# what a run without --only measures: components build C, JavaScript and Python guests on a
# fresh machine (minutes) and browser opens Chromium tabs (minutes), so they run on request
ROW_SETS = ("http", "components", "browser")  # rows from the standalone benches (rowsets.py)
DEFAULT_WORKLOADS = tuple(w for w in WORKLOADS if w not in ("components", "browser"))
NATIVE = {"c-tcp": "tcp", "c-unix": "unix", "c-ring": "ring"}
SIZES = (64, 1024, 4096)
W1_SIZE = 64
W3_SIZE = 64
RATE_PER_S = 10_000  # the fixed offered rate of the "rate" workload

_TIER = {"nanonet": "spin", "c-ring": "spin", "c-tcp": "native", "c-unix": "native",
         "nats": "broker"}  # every other transport: "py"
# tier -> workload -> (full, quick) counts
_COUNTS = {
    "spin": {"w1": (200_000, 2_000), 64: (20_000_000, 200_000), 1024: (4_000_000, 50_000),
             4096: (1_000_000, 20_000)},
    "native": {"w1": (50_000, 1_000), 64: (5_000_000, 100_000), 1024: (1_000_000, 20_000),
               4096: (500_000, 10_000)},
    "py": {"w1": (20_000, 500), 64: (500_000, 20_000), 1024: (200_000, 5_000),
           4096: (100_000, 5_000)},
    "broker": {"w1": (5_000, 200), 64: (200_000, 10_000), 1024: (100_000, 5_000),
               4096: (50_000, 5_000)},
}
RATE_COUNT = (10_000, 500)
W4_SERVICES = (200, 20)
SCALE_SERVICES = (100, 1_000)
IDLE_WINDOW_MS = (5_000, 500)  # wall time over which parked services' CPU is counted
PIPELINES = 8
PIPELINE_COUNT = {"full": 2_000_000, "quick": 50_000}
# observe: (stream messages, ping-pong rounds, repeats of each mode), full and quick
OBSERVE = {"full": (40_000_000, 200_000, 5), "quick": (400_000, 2_000, 1)}


@dataclass(frozen=True)
class Job:
    """One measured run: a workload over a transport, ``count`` messages of ``size``.

    ``interval_ns`` > 0 paces a W1 run at a fixed offered rate: each message has
    an intended send time, and its latency is counted from that time.
    """

    workload: str  # "w1" or "w2": what the child process runs
    transport: str
    count: int
    size: int
    warmup: int = 0
    interval_ns: int = 0

    def args(self) -> list[str]:
        """The arguments shared by the Python child and the native peers."""
        return [self.workload, self.transport, str(self.count), str(self.size),
                str(self.warmup), str(self.interval_ns)]


def _count(transport: str, key: str | int, quick: bool) -> int:
    return _COUNTS[_TIER.get(transport, "py")][key][quick]


def w1_job(transport: str, quick: bool) -> Job:
    rounds = _count(transport, "w1", quick)
    return Job("w1", transport, rounds, W1_SIZE, min(10_000, rounds // 10))


def rate_job(transport: str, quick: bool) -> Job:
    count = RATE_COUNT[quick]
    return Job("w1", transport, count, W1_SIZE, count // 10, 1_000_000_000 // RATE_PER_S)


def w2_job(transport: str, size: int, quick: bool) -> Job:
    return Job("w2", transport, _count(transport, size, quick), size)


def w3_job(transport: str, quick: bool) -> Job:
    return w2_job(transport, W3_SIZE, quick)


def w4_services(quick: bool) -> int:
    return W4_SERVICES[quick]


def parse_list(text: str | None, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``a,b`` -> ("a", "b"), checked against ``known``; None means all."""
    if not text:
        return known
    items = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in known]
    if bad:
        raise InvalidValue(f"unknown {what} {', '.join(bad)}: choose from {', '.join(known)}")
    return items
