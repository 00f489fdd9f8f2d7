"""A route served by a component service: one ``handle`` call per request.

A component speaks WIT (``nanonet:http``), so a route naming one skips the
port and its binary forms: the request, read whole, becomes a ``request``
record, the component's ``handle`` export is called on the component's own
thread (``ComponentService.submit``), and the ``response`` record becomes
the response. The event loop only awaits the call's future, so a slow
component holds no thread of the ingress. wasmtime refuses any call into
an instance that trapped, so the component is set to be instantiated afresh
after a trap: the client of the trapping request gets 500, the next one a
fresh instance. A call past the route's deadline is 504: skipped if it has
not started, else cut (trapped at the engine's next epoch, and the instance
renewed), so one runaway request does not hold every later one behind it.
A request that comes before the mesh started the component waits for it
within its deadline (then 503), as a port route's waits for its server.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..errors import GuestTrap, InvalidValue, NanonetError
from .forms import Reply
from .head import Head, HttpError
from .records import EXPORT, request_record, response_reply

START_POLL_S = 0.01

if TYPE_CHECKING:
    from ..component.service import ComponentService
    from ..mesh import Mesh
    from .routes import HttpRoute


class ComponentTarget:
    """The component service behind one or more routes."""

    def __init__(self, mesh: Mesh, name: str, routes: list[HttpRoute]) -> None:
        comp = mesh.components.get(name)
        if comp is None:
            known = ", ".join(mesh.components) or "none"
            raise InvalidValue(f"an HTTP route names component {name!r}, which this mesh "
                               f"does not have (components: {known}); add it with "
                               "mesh.component() first")
        if EXPORT not in comp.loaded.exports:
            raise InvalidValue(f"component {name!r} does not export nanonet:http/handler "
                               f"(its exports: {', '.join(sorted(comp.loaded.exports)) or 'none'}"
                               "); build it for the world nanonet:http/server (`nanonet wit "
                               "http` prints it)")
        for r in routes:
            if r.stream:
                raise InvalidValue(f"route {r.pattern!r} streams, but component {name!r} "
                                   "takes whole requests (a record each); remove stream = true")
        comp.renew_after_trap = True
        self.name = name
        self.service: ComponentService = comp

    async def call(self, route: HttpRoute, head: Head, body: bytes) -> Reply:
        """The response to one request read whole; its failures as HTTP errors."""
        record = request_record(head, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + route.timeout_ms / 1000
        while not self.service.started and loop.time() < deadline:
            await asyncio.sleep(START_POLL_S)  # the ingress starts before the mesh does
        try:
            future = self.service.submit(EXPORT, record)
        except NanonetError as err:
            raise HttpError(503, f"component {self.name!r} does not serve now: {err}") from None
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                value = await asyncio.wrap_future(future)
        except TimeoutError:
            if not future.cancel():  # skipped if it has not started, else cut short
                self.service.cut(future)
            raise HttpError(504, f"component {self.name!r} did not answer within the route's "
                            f"timeout_ms ({route.timeout_ms} ms)") from None
        except GuestTrap as err:
            if self.service.watchdog.stop_requested:
                raise HttpError(503, f"component {self.name!r} is stopping") from None
            raise HttpError(500, f"component {self.name!r} trapped: {err.message}; the "
                            "next request gets a fresh instance") from None
        except NanonetError as err:
            raise HttpError(503, f"component {self.name!r} does not serve now: {err}") from None
        return response_reply(value, f"component {self.name!r}")


def targets(mesh: Mesh, routes: list[HttpRoute]) -> dict[str, ComponentTarget]:
    """A target for each component the routes name."""
    names = dict.fromkeys(r.port for r in routes if r.component)
    return {n: ComponentTarget(mesh, n, [r for r in routes if r.component and r.port == n])
            for n in names}
