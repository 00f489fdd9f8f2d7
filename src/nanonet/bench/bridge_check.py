"""What every bridge row shares: the sequence check, percentiles, the far process.

Each message of a bridge row starts with its sequence number (i64). The
receiving end counts what arrived and how much of it was out of sequence
(``SeqCheck``), a batch at a time where the batch is fixed-size records in
one buffer (a strided view of the first words, compared in C), and stamps
the arrival of the last message with ``time.perf_counter``: that clock is
the system's monotonic one, the same in every process and network
namespace, so the near end divides what arrived by the time from its first
send to that stamp. A far end runs in a process of its own (in the far
namespace when there is one, ``netpair.Placement``), one per kind for all
its rows, and is always reaped.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..ring.packed import Packed
from .netpair import Placement
from .pace import seq_of
from .procs import Server

Figures = dict[str, Any]


class SeqCheck:
    """Messages received, those out of sequence, and when the last came."""

    def __init__(self, size: int) -> None:
        self.size, self.received, self.errors, self.last = size, 0, 0, 0.0

    def one(self, data: bytes | memoryview) -> None:
        self.errors += len(data) != self.size or seq_of(data) != self.received
        self.received += 1
        self.last = time.perf_counter()

    def packed(self, batch: Packed) -> None:
        """A whole batch: one comparison when it is ``size``-byte records end to end."""
        k, b = len(batch), batch.bounds
        if not (batch.most == self.size and b[-1] - b[0] == k * self.size and
                self.size % 8 == 0):
            for msg in batch:
                self.one(msg)
            return
        seqs = batch.data[b[0]:b[-1]].cast("q")[:: self.size // 8]
        want = array("q", range(self.received, self.received + k))
        if seqs != want:
            self.errors += sum(1 for got, w in zip(seqs.tolist(), want, strict=True) if got != w)
        self.received += k
        self.last = time.perf_counter()

    def summary(self) -> Figures:
        return {"received": self.received, "errors": self.errors, "last": self.last}


def cpu_seconds() -> float:
    """CPU time (user and system) this process has used, all its threads."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def udp_drops() -> int:
    """UDP datagrams the kernel dropped for a full receive buffer, in this
    process's network namespace (``RcvbufErrors``; 0 where it is not told)."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
        return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["RcvbufErrors"])
    except (OSError, IndexError, KeyError, ValueError):
        return 0


def stream_figures(n: int, t0: float, near_cpu: float, far: Figures,
                   place: Placement) -> Figures:
    """A stream row's figures: delivered msgs/s from the first send to the
    last arrival, what was lost and what came out of sequence, and the CPU
    seconds each end's process spent on the row (a row whose ends sum to
    about the cores it had is bound by CPU, not by waits), and the UDP
    datagrams the far side's kernel dropped meanwhile (QUIC's losses; in a
    namespace of its own, only the row's)."""
    received = int(far["received"])
    seconds = max(far["last"] - t0, 1e-9)
    return {"msgs_per_s": received / seconds, "messages": n, "received": received,
            "lost": n - received, "out_of_order": int(far["errors"]), "seconds": seconds,
            "near_cpu_s": near_cpu, "far_cpu_s": float(far["cpu_s"]),
            "far_udp_drops": int(far["udp_drops"]), "placement": place.where}


def rtt_figures(times_ns: list[int], errors: int, place: Placement) -> Figures:
    """A round-trip row's figures: p50 and p99 of the rounds, the wrong
    answers. Every round was answered: one that was not timed out and
    failed the row, saying so."""
    s = sorted(times_ns)

    def pick(q: float) -> float:
        return float(s[min(len(s) - 1, int(q * len(s)))]) if s else 0.0
    return {"p50_ns": pick(0.50), "p99_ns": pick(0.99), "rounds": len(s),
            "out_of_order": errors, "placement": place.where}


class FarEnds:
    """The far processes of a run, one per kind, each taking one job at a
    time (``ROLE SIZE``, a line on its stdin): a far end starts once, not
    once per row. A job that fails takes its process with it (it may be
    stuck in that job); the next job of that kind starts a new one."""

    def __init__(self, place: Placement, url: str) -> None:
        self.place, self.url = place, url
        self._procs: dict[str, Server] = {}

    def _server(self, kind: str) -> Server:
        far = self._procs.get(kind)
        if far is None or far.proc.poll() is not None:
            cmd = self.place.far([sys.executable, "-m", "nanonet.bench.bridge_far", kind,
                                  self.url, self.place.far_addr])
            far = self._procs[kind] = Server(subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        return far

    @contextmanager
    def job(self, kind: str, role: str, size: int) -> Iterator[Server]:
        """The far end of ``kind`` ready for one job (``ready PORT``)."""
        far = self._server(kind)
        try:
            assert far.proc.stdin is not None
            far.proc.stdin.write(f"{role} {size}\n")
            far.proc.stdin.flush()
            far.ready = far.line()
            yield far
        except BaseException:
            self._end(kind)
            raise

    def _end(self, kind: str) -> None:
        far = self._procs.pop(kind, None)
        if far is None:
            return
        if far.proc.stdin is not None:
            far.proc.stdin.close()  # no more jobs: it exits
        try:
            far.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            far.proc.kill()
            far.proc.wait(timeout=30)

    def close(self) -> None:
        for kind in list(self._procs):
            self._end(kind)

    def __enter__(self) -> FarEnds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def port_of(far: Server) -> int:
    return int(far.ready.split()[1])


def result_of(far: Server, timeout: float = 120.0) -> Figures:
    """The far end's last line: its JSON figures."""
    out: Figures = json.loads(far.line(timeout))
    return out
