"""Several far-end processes at once, started together and always reaped.

A pattern row has more than one far end (four subscribers, four writers).
Each is ``python -m nanonet.bench.patterns_child serve KIND ...``: it prints
one line when ready (an address, or ``ready``), may wait for ``go`` on its
stdin so that all of them start their work at the same instant (and for
``done`` before it closes its sockets), and exits by itself when its run
ends. Lines are read with a timeout (``procs.Server``); whatever happens,
every process is killed if it outlives the run, and reaped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from .procs import LINE_TIMEOUT, Server

MODULE = "nanonet.bench.patterns_child"


def go(servers: Sequence[Server], word: str = "go") -> None:
    """Release every far end waiting on its stdin for ``word``, back to back."""
    for far in servers:
        assert far.proc.stdin is not None
        far.proc.stdin.write(word + "\n")
        far.proc.stdin.flush()


def wait_go(word: str = "go") -> None:
    """A far end's side of ``go``: block until the client says ``word``."""
    if sys.stdin.readline().strip() != word:
        raise SystemExit(f"the client went away before it said {word}")


@contextmanager
def _one(args: Sequence[object]) -> Iterator[Server]:
    cmd = [sys.executable, "-m", MODULE, "serve", *map(str, args)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield Server(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=LINE_TIMEOUT)


@contextmanager
def crowd(members: Sequence[Sequence[object]]) -> Iterator[list[Server]]:
    """Start one far end per argument list, wait until all are ready; yield them."""
    with ExitStack() as stack:
        servers = [stack.enter_context(_one(args)) for args in members]
        for far in servers:
            far.ready = far.line()
        yield servers
        for far in servers:
            far.proc.wait(timeout=LINE_TIMEOUT)
