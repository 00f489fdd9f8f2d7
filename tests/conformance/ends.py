"""The end-kind protocol: every kind of tunnel end behind one Writer and one Reader.

The contract tests are written once against these two interfaces; each kind
of end (host, asyncio, guest single-message, guest batch, guest raw, tap)
adapts its own API to them. Errors are the host's: a guest status becomes
``TunnelClosed``, ``MessageTooBig`` or ``TunnelCorrupt``, ``AGAIN`` becomes
``False`` / ``None`` / ``[]`` / ``0``, as the host's own forms return.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from nanonet import (
    MessageTooBig,
    Packed,
    TunnelBroken,
    TunnelClosed,
    TunnelCorrupt,
    TunnelReader,
    TunnelWriter,
)

CLOSED, AGAIN, TOO_BIG, CORRUPT, TRUNCATED, BROKEN = -1, -2, -3, -4, -6, -7  # the guest ABI's
WATCHDOG = 30.0  # a bound on any blocking wait: reaching it is a hang, never a speed check
T = TypeVar("T")


class Writer(Protocol):
    """What the suite does with a write end of any kind."""

    def send(self, data: bytes) -> None: ...

    def try_send(self, data: bytes) -> bool: ...

    def send_many(self, messages: Sequence[bytes]) -> int: ...

    def try_send_many(self, messages: Sequence[bytes]) -> int: ...

    def close(self) -> None: ...

    def shutdown(self) -> None: ...


class Reader(Protocol):
    """What the suite does with a read end of any kind (or a reader-side observer)."""

    def recv(self) -> bytes: ...

    def try_recv(self) -> bytes | None: ...

    def recv_many(self, limit: int) -> list[bytes]: ...

    def try_recv_many(self, limit: int) -> list[bytes]: ...

    def drain(self) -> list[bytes]:
        """Every message until the tunnel is closed and drained (iteration)."""
        ...

    def commit(self) -> None:
        """Give back the slots of the last receive (a no-op where receiving commits)."""
        ...

    def recv_into(self, capacity: int) -> bytes | int:
        """One message into a buffer of ``capacity`` payload bytes, or the status."""
        ...

    def close(self) -> None: ...

    def after_corrupt(self) -> None:
        """Checks of the kind's own once the ring was found corrupt."""
        ...

    def shutdown(self) -> None: ...


def raise_status(status: int) -> None:
    """A guest status as the exception a host end raises for it."""
    if status == CLOSED:
        raise TunnelClosed("tunnel is closed")
    if status == BROKEN:
        raise TunnelBroken("tunnel is broken")
    if status == TOO_BIG:
        raise MessageTooBig("message exceeds the tunnel's slot payload")
    if status == CORRUPT:
        raise TunnelCorrupt("tunnel ring quarantined")
    raise AssertionError(f"unexpected status {status}")


class Background(Generic[T]):
    """One blocking call on a thread of its own, joined with a bound."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as err:  # handed to the test in result()
            self._error = err

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = WATCHDOG) -> T:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the call was still blocked after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class HostWriter:
    """TunnelWriter's sync forms."""

    def __init__(self, end: TunnelWriter) -> None:
        self.end = end

    def send(self, data: bytes) -> None:
        self.end.send(data, timeout=WATCHDOG)

    def try_send(self, data: bytes) -> bool:
        return self.end.try_send(data)

    def send_many(self, messages: Sequence[bytes]) -> int:
        return self.end.send_many(messages, timeout=WATCHDOG)

    def try_send_many(self, messages: Sequence[bytes]) -> int:
        return self.end.try_send_many(messages)

    def close(self) -> None:
        self.end.close()

    def shutdown(self) -> None:
        pass


def run_async(awaitable: Awaitable[T]) -> T:
    """Run one coroutine on a fresh event loop, bounded by the watchdog."""

    async def bounded() -> T:
        return await asyncio.wait_for(awaitable, WATCHDOG)

    return asyncio.run(bounded())


class AsyncHostWriter(HostWriter):
    """TunnelWriter's asyncio forms (the try forms have no asyncio twin)."""

    def send(self, data: bytes) -> None:
        run_async(self.end.asend(data))

    def send_many(self, messages: Sequence[bytes]) -> int:
        return run_async(self.end.asend_many(messages))


def packed(messages: Sequence[bytes]) -> Packed:
    """The messages as one buffer with their bounds."""
    bounds = [0]
    for m in messages:
        bounds.append(bounds[-1] + len(m))
    return Packed.of(b"".join(messages), bounds)


class PackedHostWriter(HostWriter):
    """TunnelWriter's batch forms given one ``Packed`` buffer."""

    def send_many(self, messages: Sequence[bytes]) -> int:
        return self.end.send_many(packed(messages), timeout=WATCHDOG)

    def try_send_many(self, messages: Sequence[bytes]) -> int:
        return self.end.try_send_many(packed(messages))


class HostReader:
    """TunnelReader's sync forms; it commits at once (one-phase)."""

    def __init__(self, end: TunnelReader) -> None:
        self.end = end

    def recv(self) -> bytes:
        return self.end.recv(timeout=WATCHDOG)

    def try_recv(self) -> bytes | None:
        return self.end.try_recv()

    def recv_many(self, limit: int) -> list[bytes]:
        return self.end.recv_many(limit, timeout=WATCHDOG)

    def try_recv_many(self, limit: int) -> list[bytes]:
        return self.end.try_recv_many(limit)

    def drain(self) -> list[bytes]:
        return list(self.end)

    def commit(self) -> None:
        pass  # a host receive has committed already

    def recv_into(self, capacity: int) -> bytes | int:
        raise AssertionError("a host reader has no receive buffer")

    def close(self) -> None:
        self.end.close()

    def after_corrupt(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class AsyncHostReader(HostReader):
    """TunnelReader's asyncio forms: arecv, arecv_many, async for."""

    def recv(self) -> bytes:
        return run_async(self.end.arecv())

    def recv_many(self, limit: int) -> list[bytes]:
        return run_async(self.end.arecv_many(limit))

    def drain(self) -> list[bytes]:
        async def collect() -> list[bytes]:
            return [msg async for msg in self.end]

        return run_async(collect())


class PackedHostReader(HostReader):
    """TunnelReader's packed forms: many messages as one buffer and its bounds."""

    def recv_many(self, limit: int) -> list[bytes]:
        return list(self.end.recv_packed(limit, timeout=WATCHDOG))

    def try_recv_many(self, limit: int) -> list[bytes]:
        return list(self.end.try_recv_packed(limit))


class AsyncPackedHostReader(HostReader):
    """TunnelReader's asyncio packed form (``arecv_packed``)."""

    def recv_many(self, limit: int) -> list[bytes]:
        return list(run_async(self.end.arecv_packed(limit)))
