"""The ASGI peer of the HTTP rows: a Starlette echo app served by uvicorn.

What a Python service would more likely run than ``http.server``: one
uvicorn server (one process, its asyncio loop in a thread of the bench's
child process, as the ingress runs in that process) answering every path
with a short text body, as the HTTP example's guest does. It is driven by
``http_bench``'s same client subprocess. Needs uvicorn and starlette (the
``bench`` extra).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any

from ..errors import BenchError

START_TIMEOUT = 30.0


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    for module in ("uvicorn", "starlette"):
        if importlib.util.find_spec(module) is None:
            return f"Python package {module} is not installed (pip install 'nanonet[bench]')"
    return None


def app() -> Any:
    """Starlette answering every GET with ``hello from starlette: PATH #N``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    served = [0]

    async def hello(request: Request) -> PlainTextResponse:
        served[0] += 1
        return PlainTextResponse(f"hello from starlette: {request.url.path} #{served[0]}\n")

    return Starlette(routes=[Route("/{path:path}", hello)])


def asgi_row(clients: int, per: int) -> dict[str, float]:
    """http_bench's clients against the Starlette app under uvicorn."""
    import uvicorn

    from .http_bench import _drive

    config = uvicorn.Config(app(), host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)  # it binds, so asyncio turns Nagle off on each connection
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise BenchError("uvicorn did not start")
            time.sleep(0.01)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        return _drive((str(host), int(port)), clients, per)
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT)
