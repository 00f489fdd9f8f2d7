"""The ``http`` workload: ``http_bench``'s ingress rows as a bench part.

One part, ``ingress``: the HTTP example's WAT service behind
``HttpIngress`` (row ``nanonet_wat``) and ``http.server``'s threading
server answering the same kind of body (row ``python_stdlib``), driven by
the same client subprocess (8 threads, one keep-alive connection each)
one after the other. Each row: ``requests_per_s``, ``p50_ms``, ``requests``.
"""

from __future__ import annotations

from .rowsets import PartFn, Rows

CLIENTS = 8
REQUESTS = {False: 20_000, True: 800}  # full, quick


def missing() -> str | None:
    """The ingress and the peer are both in the standard library and nanonet."""
    return None


def ingress(quick: bool) -> Rows:
    from .http_bench import nanonet_row, peer_row
    per = REQUESTS[quick] // CLIENTS
    return {"nanonet_wat": nanonet_row(CLIENTS, per), "python_stdlib": peer_row(CLIENTS, per)}


PARTS: dict[str, PartFn] = {"ingress": ingress}
