"""One thread per host mailbox: a port client always called from the same thread.

A call through a shared thread pool lands on whichever thread is free, and
measured several times slower per call than the same call made from one
thread each time (the caller's spin-then-park and the wake-ups it depends
on). Each ``Worker`` owns one ``PortClient`` and one thread; the event
loop hands it a request and awaits a future the thread completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

from ..ring.portclient import PortClient

Job = tuple[bytes, float, asyncio.AbstractEventLoop, "asyncio.Future[bytes]"]


class Worker:
    """A port client and the thread that makes its calls."""

    def __init__(self, client: PortClient, name: str) -> None:
        self.client = client
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call(self, data: bytes, timeout: float) -> asyncio.Future[bytes]:
        """The reply, as a future of the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._jobs.put((data, timeout, loop, future))
        return future

    def stop(self) -> None:
        """No more calls: the thread ends after the one it is making, if any."""
        self._jobs.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for the thread (a call in flight ends at its deadline or when its
        port closes); True once it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            data, timeout, loop, future = job
            try:
                reply: bytes | BaseException = self.client.call(data, timeout)
            except BaseException as exc:  # handed to the awaiting request, never lost
                reply = exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits it
                loop.call_soon_threadsafe(_settle, future, reply)


def _settle(future: asyncio.Future[bytes], outcome: bytes | BaseException) -> None:
    """In the loop: the future's result or exception, unless it was cancelled."""
    if future.done():  # cancelled meanwhile: the server stops
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
