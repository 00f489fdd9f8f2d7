"""A component service: one component, in its own Store, on its own thread.

    auth = ComponentService("auth", "auth.wasm", rt=mesh.rt,
                            imports={"access-logs": {"log-attempt": to_tunnel(w, enc)}})
    auth.call("authenticate", token)      # from any thread

A Store is not thread-safe, so the store is created, instantiated and used
only by the service's own thread; other threads hand it calls through a
queue and wait for the answer. Its imports are wired only to what
``imports`` gives: a Python function, another service's export
(``other.export("name")``) or a tunnel end (``to_tunnel``). An import that
nothing is given for is a ``LoadError`` naming it, raised by the
constructor, before anything runs.

A call into a component from Python, and each host function it calls, costs
tens of µs (see docs/components.md): these are control-plane paths. Bulk
data goes through tunnels, whose data plane never enters Python.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

import wasmtime

from ..capi.epoch import install_epoch_callback
from ..errors import (
    CallTimeout,
    GuestTrap,
    InternalError,
    LifecycleError,
    NanonetError,
    NotFound,
)
from ..host.engine import Runtime, runtime
from ..host.traps import trap_cause, trap_frames, trap_message
from ..policy.policy import Grants
from ..ring.end import End
from ..ring.endpoint import TunnelWriter
from ..runtime.lifecycle import Event, State, next_state
from ..runtime.supervisor import Outcome, Supervisor
from ..runtime.watchdog import Watchdog
from .host import Instance, Loaded, load

_Call = tuple[str, tuple[Any, ...], Future[Any]] | None


class ComponentService:
    """A loaded component answering calls on a thread of its own."""

    def __init__(self, name: str, source: Loaded | bytes | str | Path, *,
                 imports: Mapping[str, Any] | None = None, rt: Runtime | None = None,
                 wasi: bool = False, grants: Grants | Iterable[str] = (),
                 start: bool = True, owns: Iterable[End] = (),
                 supervisor: Supervisor | None = None) -> None:
        """``wasi=True`` links WASIp2 over a context holding only ``grants``
        (nothing by default: no files, env, args, stdio or network), for
        toolchains whose runtime imports it (componentize-py's does).
        ``start=False`` checks the imports now and waits for ``start()`` (a
        mesh starts its components with its services). The tunnel ends in
        ``owns`` are closed when the service ends, so their readers finish."""
        self.name = name
        self.supervisor = supervisor or Supervisor()
        self.state = State.CREATED  # the module services' table; written by its own thread
        self.cause: str | None = None
        self.outcome: Outcome | None = None
        self.internal_error: InternalError | None = None
        self.restarts = 0  # fresh instances after a trap (only with renew_after_trap)
        # an HTTP route's component is instantiated afresh after a trap: wasmtime
        # refuses any later call into an instance that trapped
        self.renew_after_trap = False
        self.exit_code: int | None = None
        self.rt = rt or runtime()
        self.loaded: Loaded = load(self.rt, source)
        self._imports = dict(imports or {})
        self._owns = list(owns)
        self._wasi = Grants.of(grants) if wasi else None
        self.loaded.check(self._imports, f"component {name!r}", wasi=wasi)
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._instance: Instance | None = None
        # no deadline or fuel of its own: only a stop ends the component's Wasm
        self.watchdog = Watchdog((), (), None, None)
        self._thread = threading.Thread(target=self._serve, name=f"nanonet:{name}",
                                        daemon=True)
        self._ready: Future[None] = Future()
        self._ended = False  # no call is queued once set (under _lock)
        self._lock = threading.Lock()
        self._running: Future[Any] | None = None  # the call being made (under _lock)
        if start:
            self.start()

    def start(self) -> None:
        """Instantiate on the service's own thread; a LoadError from it is raised
        here. Starting again is harmless: the thread is started once."""
        with self._lock:
            if self._thread.ident is None:
                self._thread.start()
        self._ready.result()

    @property
    def given_imports(self) -> dict[str, Any]:
        """What its imports were given (a composition wires the same things)."""
        return dict(self._imports)

    @property
    def wasi(self) -> Grants | None:
        """The grants of its WASI context, or None if it has none."""
        return self._wasi

    @property
    def owned_ends(self) -> list[End]:
        """The tunnel ends it closes when it ends."""
        return list(self._owns)

    def take_ends(self) -> list[End]:
        """Hand over the tunnel ends it would close (to the service it is plugged into)."""
        ends, self._owns = self._owns, []
        return ends

    @property
    def thread(self) -> threading.Thread:
        """The component's own thread (``nanonet:NAME``): what its CPU time is."""
        return self._thread

    @property
    def started(self) -> bool:
        return self._ready.done()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (after ``close``); True if it has, or never began."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _event(self, event: Event, cause: str | None = None) -> None:
        """Apply one transition; only the service's own thread may."""
        if threading.current_thread() is not self._thread:
            raise LifecycleError(f"component {self.name!r}: {event.value} applied from another "
                                 "thread than its own")
        before = self.state
        self.state = next_state(before, event)
        self.cause = cause or self.cause
        self.supervisor.emit(self.name, before, self.state, event, cause)

    def _serve(self) -> None:
        """The thread's body: instantiate, answer calls until closed; every way
        it ends is recorded in ``outcome``."""
        running = False
        try:
            running = self._instantiate()
            if running:
                while self.outcome is None and (item := self._queue.get()) is not None:
                    self._answer(*item)
                if self.outcome is None:  # not failed while renewing
                    self.outcome = Outcome("stopped", "closed")
                    self._event(Event.STOP)
        except BaseException as exc:  # nanonet's own fault: surfaced by Mesh.wait/stop
            self._crash(exc)
        finally:
            # a component that never ran leaves its ends open: nothing went
            # through them, and Mesh.component gives them back for a corrected call
            self._end(close_ends=running)

    def _instantiate(self) -> bool:
        ready = self._ready
        try:
            store = self.rt.new_store()
            # its Wasm (start functions included) ends at a stop, like a service's
            install_epoch_callback(store, self.watchdog.callback)
            self._instance = self.loaded.instantiate(store, self._imports,
                                                     f"component {self.name!r}", wasi=self._wasi,
                                                     owner=self.name)
        except Exception as exc:
            self.outcome = Outcome("failed", str(exc))
            self._event(Event.FAIL, f"could not be instantiated: {exc}")
            ready.set_exception(exc)  # after the event: FAILED once start() raises
            return False
        self._event(Event.START)  # before start() returns: it is running by then
        ready.set_result(None)
        return True

    def _crash(self, exc: BaseException) -> None:
        err = InternalError(f"nanonet failed while running component {self.name!r}: "
                            f"{type(exc).__name__}: {exc}")
        err.__cause__ = exc
        self.internal_error, self.outcome = err, Outcome("internal", str(err))
        before, self.state, self.cause = self.state, State.FAILED, str(err)
        self.supervisor.emit(self.name, before, State.FAILED, Event.FAIL, str(err))
        if not self._ready.done():
            self._ready.set_exception(err)

    def _end(self, close_ends: bool = True) -> None:
        """Refuse new calls, and fail those queued behind the close: nobody
        waits for an answer that will never come."""
        with self._lock:
            self._ended = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item[2].set_running_or_notify_cancel():
                item[2].set_exception(NanonetError(
                    f"component service {self.name!r} closed before answering {item[0]!r}"))
        if close_ends:
            self._close_ends()

    def _close_ends(self) -> None:
        for end in self._owns:
            end.close()

    def _answer(self, fname: str, args: tuple[Any, ...], fut: Future[Any]) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        assert self._instance is not None
        with self._lock:
            self._running = fut
        try:
            result: Any = self._instance.call(fname, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            result = self._trapped(exc)
        except BaseException as exc:
            result = exc
        with self._lock:  # a cut asked for after the call ended must not hit the next
            self._running, self.watchdog.cut_requested = None, False
        if isinstance(result, GuestTrap) and self.renew_after_trap \
                and not self.watchdog.stop_requested:
            self._renew()
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)

    def cut(self, fut: Future[Any]) -> bool:
        """Trap the call of ``fut`` at the engine's next epoch if it is the one running
        (its caller's deadline passed); True if it was. Only with ``renew_after_trap``:
        the instance is renewed after it."""
        with self._lock:
            if self._running is not fut or not self.renew_after_trap:
                return False
            self.watchdog.cut_requested = True
        self.rt.engine.increment_epoch()  # the store's deadline is one tick ahead
        return True

    def _renew(self) -> None:
        """A fresh instance in a fresh Store, with the same imports, in place of
        one that trapped (its globals and memory start over)."""
        assert self._instance is not None
        old, store = self._instance, self.rt.new_store()
        install_epoch_callback(store, self.watchdog.callback)
        try:
            self._instance = self.loaded.instantiate(store, self._imports,
                                                     f"component {self.name!r}",
                                                     wasi=self._wasi, owner=self.name)
        except Exception as exc:  # its start function trapped this time: it has ended
            self.outcome = Outcome("failed", str(exc))
            self._event(Event.FAIL, f"could not be instantiated again after a trap: {exc}")
            return
        old.store.close()
        self.restarts += 1

    def _trapped(self, exc: Exception) -> GuestTrap:
        """A trap in a call, as a service's trap is raised: the trap's own
        words, its Wasm frames and one short cause (the engine's error chained)."""
        trap = GuestTrap(self.name, trap_message(exc), trap_frames(exc),
                         trap_cause(exc, self.watchdog.cause, False))
        trap.__cause__ = exc
        return trap

    def call(self, fname: str, *args: Any, timeout: float | None = None) -> Any:
        """Call export ``fname`` on the service's thread; its Python result."""
        if threading.current_thread() is self._thread:
            assert self._instance is not None
            return self._instance.call(fname, *args)  # from one of its own imports
        fut = self.submit(fname, *args)
        try:
            return fut.result(timeout)
        except TimeoutError:
            if fut.done():  # it finished just now, or the call itself raised TimeoutError
                return fut.result()
            raise CallTimeout(f"component service {self.name!r} did not answer {fname!r} within "
                              f"{timeout} s: pass a longer timeout, or look at what its imports "
                              "wait for") from None

    def submit(self, fname: str, *args: Any) -> Future[Any]:
        """Queue a call of export ``fname`` without waiting (from another thread than
        its own); cancelling the future before the call starts skips it."""
        if not self._thread.is_alive():
            state = "closed" if self.started else "not started: start the mesh first"
            raise NanonetError(f"component service {self.name!r} is {state}")
        fut: Future[Any] = Future()
        with self._lock:
            if self._ended:
                raise NanonetError(f"component service {self.name!r} is closed")
            self._queue.put((fname, args, fut))
        return fut

    def export(self, fname: str) -> Callable[..., Any]:
        """A function calling export ``fname``: what another service's import is wired to."""
        self.loaded_export(fname)
        return lambda *args: self.call(fname, *args)

    def loaded_export(self, fname: str) -> None:
        if fname not in self.loaded.exports:
            known = ", ".join(sorted(self.loaded.exports)) or "none"
            raise NotFound(f"component service {self.name!r} exports no {fname!r} "
                           f"(exports: {known})")

    def request_stop(self) -> None:
        """Trap whatever Wasm the component runs at the engine's next epoch
        (``Mesh.stop`` after its grace): a call that loops ends, its caller
        gets the trap."""
        self.watchdog.stop_requested = True

    def close(self, timeout: float | None = 5.0) -> None:
        """Finish the calls already queued, then end the thread."""
        self._queue.put(None)
        self.join(timeout)

    def release(self) -> None:
        """Close the store once the thread has ended (its mesh is closing)."""
        if self._thread.is_alive():
            raise NanonetError(f"component service {self.name!r} is still running: "
                               "close it first")
        if self._instance is not None:
            self._instance.store.close()
            self._instance = None

    def __enter__(self) -> ComponentService:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def to_tunnel(writer: TunnelWriter, encode: Callable[..., bytes]) -> Callable[..., None]:
    """A host function that sends ``encode(*args)`` down a tunnel: an import
    wired to whatever service reads that tunnel."""
    def send(*args: Any) -> None:
        writer.send(encode(*args))
    return send
