"""Guest output labelled with its service: ``[ingress] starting``.

When ``nanonet run`` runs several services that write to their granted
stdout or stderr, their lines interleave; each is printed whole, prefixed
with the service's name, as Spin and docker compose do. Each (service,
stream) writes into a pipe of its own (``policy.wasi.route_output`` gives
wasmtime the pipe's path); a thread reads it and prints whole lines (a guest
writes a line in several ``fd_write`` calls as often as not), and what is
left without a newline when the pipe ends.

The pipe ends when nanonet closes its write end and the service's store is
released (``Mesh.close``), which closes wasmtime's.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ..policy.wasi import route_output

JOIN_SECONDS = 2.0  # how long close waits, in all, for the readers to reach the end
CHUNK = 1 << 16


class Labeller:
    """Pipes for ``route_output``; a reader thread per pipe prints its lines."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 lines: Callable[[str], None] | None = None) -> None:
        """``lines``, if given, takes each labelled line in place of both
        streams (``run --top`` prints them above its view, from its thread)."""
        self._streams = {"stdout": out, "stderr": err}
        self._lines = lines
        self._writers: dict[tuple[str, str], int] = {}
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()  # one line printed at a time; one pipe per key

    def __call__(self, owner: str, stream: str) -> str:
        """The path wasmtime opens for ``owner``'s ``stream``."""
        with self._lock:
            if (owner, stream) not in self._writers:
                read, write = os.pipe()
                self._writers[(owner, stream)] = write
                reader = threading.Thread(target=self._read, args=(read, owner, stream),
                                          name=f"nanonet:labels:{owner}", daemon=True)
                reader.start()
                self._readers.append(reader)
            return f"/dev/fd/{self._writers[(owner, stream)]}"

    def _read(self, fd: int, owner: str, stream: str) -> None:
        rest = b""
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(CHUNK):
                *lines, rest = (rest + chunk).split(b"\n")
                self._print(owner, stream, lines)
        if rest:
            self._print(owner, stream, [rest])

    def _print(self, owner: str, stream: str, lines: list[bytes]) -> None:
        if not lines:
            return
        labelled = [f"[{owner}] {line.decode('utf-8', 'replace')}" for line in lines]
        if self._lines is not None:
            for line in labelled:
                self._lines(line)
            return
        out = self._streams[stream] or getattr(sys, stream)
        text = "".join(f"{line}\n" for line in labelled)
        with self._lock:
            out.write(text)
            out.flush()

    def close(self) -> None:
        """Close nanonet's write ends and wait (bounded) for the readers to
        print what is left; a store still alive keeps its pipe open."""
        with self._lock:
            writers, self._writers = list(self._writers.values()), {}
        for fd in writers:
            os.close(fd)
        for reader in self._readers:
            reader.join(JOIN_SECONDS / max(1, len(self._readers)))


@contextmanager
def labelled(on: bool, out: TextIO | None = None,
             lines: Callable[[str], None] | None = None) -> Iterator[None]:
    """While it lasts (and if ``on``), guests' stdio goes through a Labeller;
    ``out`` takes their stdout in place of ours (stderr, under ``--json``),
    ``lines`` every line in place of both."""
    if not on:
        yield
        return
    labeller = Labeller(out, lines=lines)
    route_output(labeller)
    try:
        yield
    finally:
        route_output(None)
        labeller.close()
