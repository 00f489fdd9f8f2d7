"""SIGTERM as a clean stop, and a closed stdout as a quiet end.

Containers and systemd stop a process with SIGTERM, so ``nanonet`` treats it
as Ctrl-C is treated: it is raised in the main thread as ``Terminated`` (a
``KeyboardInterrupt``), so every ``except KeyboardInterrupt`` and ``finally``
on the way out runs: the mesh stops, the summary prints, the control file
goes. Only the first SIGTERM interrupts; later ones wait for that stop.

A reader that goes away (``nanonet run m.toml | head``) ends the command
quietly with 141 (128 + SIGPIPE), as Unix tools end.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGTERM_EXIT = 128 + signal.SIGTERM
SIGPIPE_EXIT = 128 + signal.SIGPIPE


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM: stop as on Ctrl-C."""


def _raise_once(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the stop under way is not interrupted
    raise Terminated()


@contextmanager
def sigterm_stops() -> Iterator[None]:
    """Inside the block (main thread only), SIGTERM raises ``Terminated``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_once)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so that the flush at
    exit finds nothing to complain about."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
