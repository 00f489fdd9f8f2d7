"""Far-end processes of the process-to-process peers, always reaped.

A server is ``python -m nanonet.bench.child serve KIND ...``: it prints one
line when ready (its address, or ``ready``), serves one client and exits by
itself; a stream server prints its counts as a last line. The client side
reads those lines here, with a timeout on each, and kills the server if it
outlives the run.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BenchError

LINE_TIMEOUT = 30.0


class Server:
    """A running far end: its process and the lines it prints."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.ready = ""  # the first line: an address, or "ready"

    def line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next line the server prints; an error if none comes in time."""
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise BenchError(f"the server printed nothing for {timeout:.0f} s")
        text = self.proc.stdout.readline()
        if not text:
            raise BenchError(f"the server exited early (code {self.proc.poll()})")
        return text.strip()

    def counts(self) -> tuple[int, int]:
        """A stream server's last line: messages received and out of sequence."""
        received, errors = self.line().split()
        return int(received), int(errors)


@contextmanager
def server(*args: str) -> Iterator[Server]:
    """Start a server process, wait for its ready line, and always reap it."""
    cmd = [sys.executable, "-m", "nanonet.bench.child", "serve", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        far = Server(proc)
        far.ready = far.line()
        yield far
        proc.wait(timeout=LINE_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=LINE_TIMEOUT)
