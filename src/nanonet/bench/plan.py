"""What one bench run measures: workloads, transports and message counts.

Counts differ per transport because a loopback socket round trip costs a
hundred times a tunnel's: the same count would make one run last seconds and
the other minutes. ``--quick`` shrinks every count for tests and CI.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSPORTS = ("nanonet", "nanonet-host", "py-tcp", "py-unix", "c-tcp", "c-unix", "c-ring")
WORKLOADS = ("w1", "w2", "w3", "w4")
NATIVE = {"c-tcp": "tcp", "c-unix": "unix", "c-ring": "ring"}
SIZES = (64, 4096)
W1_SIZE = 64
W3_SIZE = 64

# (full, quick) counts per transport
_W1_ROUNDS = {"nanonet": (200_000, 2_000), "nanonet-host": (20_000, 500),
              "py-tcp": (20_000, 500), "py-unix": (20_000, 500),
              "c-tcp": (50_000, 1_000), "c-unix": (50_000, 1_000), "c-ring": (200_000, 2_000)}
_W2_64 = {"nanonet": (20_000_000, 200_000), "nanonet-host": (200_000, 20_000),
          "py-tcp": (500_000, 20_000), "py-unix": (500_000, 20_000),
          "c-tcp": (5_000_000, 100_000), "c-unix": (5_000_000, 100_000),
          "c-ring": (20_000_000, 200_000)}
_W2_4K = {"nanonet": (1_000_000, 20_000), "nanonet-host": (50_000, 5_000),
          "py-tcp": (100_000, 5_000), "py-unix": (100_000, 5_000),
          "c-tcp": (500_000, 10_000), "c-unix": (500_000, 10_000),
          "c-ring": (1_000_000, 20_000)}
W4_SERVICES = (200, 20)


@dataclass(frozen=True)
class Job:
    """One measured run: a workload over a transport, ``count`` messages of ``size``."""

    workload: str  # "w1" or "w2": what the child process runs
    transport: str
    count: int
    size: int
    warmup: int = 0

    def args(self) -> list[str]:
        """The arguments shared by the Python child and the native peers."""
        return [self.workload, self.transport, str(self.count), str(self.size),
                str(self.warmup)]


def w1_job(transport: str, quick: bool) -> Job:
    rounds = _W1_ROUNDS[transport][quick]
    return Job("w1", transport, rounds, W1_SIZE, min(10_000, rounds // 10))


def w2_job(transport: str, size: int, quick: bool) -> Job:
    table = _W2_64 if size <= 64 else _W2_4K
    return Job("w2", transport, table[transport][quick], size)


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
        raise ValueError(f"unknown {what} {', '.join(bad)}: choose from {', '.join(known)}")
    return items
