"""``nanonet top``'s line about browser tabs, from the snapshot's ``web``.

The ``[web] lease`` (how long a tab that left has to rejoin and resume), the
tab nodes joined, each lease running with the seconds it has left, and the
nodes whose lease ran out: what decides whether a closed tab's tunnels heal.
"""

from __future__ import annotations

from typing import Any


def web_lines(snap: dict[str, Any]) -> list[str]:
    """[] for a mesh with no tabs, else one line (two while leases run)."""
    web = snap.get("web")
    if not web:
        return []
    lease = f"lease {web['lease_s']:g} s" if web["lease_s"] else "no lease"
    line = (f"web: {lease}, transport {web['transport']}; tabs joined: "
            f"{', '.join(web['tabs']) or 'none'}")
    if web["expired"]:
        line += f"; lease ran out: {', '.join(web['expired'])}"
    out = [line]
    if web["leasing"]:
        out.append("  leasing: " + "; ".join(
            f"{k['node']} ({_left(k['left_s'])} left to rejoin, "
            f"{', '.join(k['tunnels']) or 'no tunnel'} held broken)" for k in web["leasing"]))
    return out


def _left(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.1f} s"
