"""The ``http`` workload: ``http_bench``'s ingress rows as a bench part.

One part, ``ingress``: the HTTP example's WAT service behind
``HttpIngress`` (row ``nanonet_wat``), a Starlette echo app under uvicorn
(row ``uvicorn_starlette``, ``asgi_peer.py``; ``{"error": ...}`` with the
reason where they are not installed) and ``http.server``'s threading server
(row ``python_stdlib``), each answering the same kind of short body to the
same client subprocess (8 threads, one keep-alive connection each), one
after the other. Each row: ``requests_per_s``, ``p50_ms``, ``requests``.
"""

from __future__ import annotations

from .rowsets import PartFn, Rows

CLIENTS = 8
REQUESTS = {False: 20_000, True: 800}  # full, quick
ROW_KEYS = ("requests_per_s", "p50_ms", "requests")
KEYS: dict[str, tuple[str, ...]] = {
    row: ROW_KEYS for row in ("nanonet_wat", "uvicorn_starlette", "python_stdlib")}


def missing() -> str | None:
    """The ingress and the peer are both in the standard library and nanonet."""
    return None


def ingress(quick: bool) -> Rows:
    from .asgi_peer import asgi_row
    from .asgi_peer import missing as asgi_missing
    from .http_bench import nanonet_row, peer_row
    per = REQUESTS[quick] // CLIENTS
    why = asgi_missing()
    return {"nanonet_wat": nanonet_row(CLIENTS, per),
            "uvicorn_starlette": {"error": why} if why else asgi_row(CLIENTS, per),
            "python_stdlib": peer_row(CLIENTS, per)}


PARTS: dict[str, PartFn] = {"ingress": ingress}
