"""Each service's part in the mesh's messaging patterns, for ``nanonet check --json``.

The text report says it in sentences ("serves rpc (max 256 B) to a, b,
host", "writes stream to subscribers ..."); a script wants the same as data:
per service, the tunnels it holds and in which role (``reads``, ``writes``,
``publishes`` to a pub-sub tunnel, ``subscribes`` with its policy,
``fan_in_writer`` of one ring of a fan-in tunnel, ``fan_in_reader`` of all
of them), and the ports it serves and calls.
"""

from __future__ import annotations

from typing import Any

from ..manifest.manifest import Manifest, ServiceDef
from ..manifest.schema import TunnelTable


def _read_role(t: TunnelTable, svc: str) -> dict[str, Any]:
    if t.subscribers is not None:
        return {"role": "subscribes", "policy": t.policies()[svc]}
    return {"role": "fan_in_reader" if t.writers is not None else "reads"}


def _write_role(t: TunnelTable) -> str:
    if t.writers is not None:
        return "fan_in_writer"
    return "publishes" if t.subscribers is not None else "writes"


def tunnel_roles(m: Manifest, svc: ServiceDef) -> list[dict[str, Any]]:
    """The tunnels ``svc`` holds, each with its role (reads first, then writes)."""
    tunnels = m.table.tunnels
    roles = [{"tunnel": name, **_read_role(tunnels[name], svc.name)} for name in svc.reads]
    roles += [{"tunnel": name, "role": _write_role(tunnels[name])} for name in svc.writes]
    return roles


def service_roles(m: Manifest) -> dict[str, dict[str, Any]]:
    """Every service: its tunnel roles and its ports (served, called)."""
    return {name: {"tunnels": tunnel_roles(m, svc),
                   "ports": {"serves": list(svc.serves), "calls": list(svc.calls)}}
            for name, svc in m.services.items()}
