"""``nanonet run --json``: the run's final summary as one JSON object.

The same facts as the text summary (``manifest_run.summary``): why the run
ended, how long it took, the exit status, per service its state, exit code
(with its meaning when it is an ABI status), restarts and grouped traps; per
tunnel its counters; what the host received.
"""

from __future__ import annotations

import json
from typing import Any

from ..mesh import Mesh
from .manifest_run import HostReads
from .outcomes import exit_meaning, group_traps


def _services(mesh: Mesh) -> list[dict[str, Any]]:
    out = []
    for s in mesh.services.values():
        traps = [{"cause": g.cause, "count": g.count,
                  "places": [{"at": at, "count": n} for at, n in g.places]}
                 for g in group_traps(s.traps, s.trap_counts)]
        out.append({"name": s.name, "kind": "core", "state": s.state.value,
                    "exit_code": s.exit_code, "exit_meaning": exit_meaning(s.exit_code),
                    "restarts": s.restarts, "traps": traps, "cause": s.cause})
    for c in mesh.components.values():
        out.append({"name": c.name, "kind": "component", "state": c.state.value,
                    "cause": c.cause})
    return out


def _tunnels(mesh: Mesh) -> list[dict[str, Any]]:
    return [{"name": name, "sent": st.sent, "received": st.received, "bytes": st.bytes_in,
             "times_full": st.times_full, "times_empty": st.times_empty,
             "writer_parks": st.writer_parks, "reader_parks": st.reader_parks,
             "closed": st.closed, "broken": st.broken, "quarantined": bool(st.quarantine),
             "dead_letters": st.dead_letters}
            for name, st in mesh.statistics().items()]


def summary_json(mesh: Mesh, host: HostReads, why: str, seconds: float, status: int) -> str:
    """The whole summary; ``status`` is the exit status ``nanonet run`` returns."""
    return json.dumps({"ended": why, "seconds": round(seconds, 6), "exit_status": status,
                       "services": _services(mesh), "tunnels": _tunnels(mesh),
                       "host_received": dict(host.counts)}, indent=2)
