"""A three-server NATS cluster with one server on each of three namespaced
hosts (tests/netns.py), and what its monitoring pages say: which server
carries a node's stream, and where it went once that server was killed. The
pages are asked from inside the host, where the addresses exist."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from netns import Mesh

CLIENT, ROUTE, MONITOR = 4222, 6222, 8222  # the same on every host: one server each


def cluster(m: Mesh, exe: str) -> list[list[str]]:
    """The command of each host's server, routed to the other two."""
    routes = [f"nats://{a}:{ROUTE}" for a in m.addrs]
    return [m.run(i, exe, "-a", a, "-p", str(CLIENT), "-m", str(MONITOR), "--cluster",
                  routes[i], "--cluster_name", "nn3", "--routes",
                  ",".join(r for j, r in enumerate(routes) if j != i))
            for i, a in enumerate(m.addrs)]


def _monitor(m: Mesh, i: int, what: str) -> dict[str, object]:
    """Server ``i``'s monitoring page ``what``, asked from inside host ``i``."""
    url = f"http://{m.addrs[i]}:{MONITOR}/{what}"
    code = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=5).read().decode())"
    out = subprocess.run(m.run(i, sys.executable, "-c", code), capture_output=True, text=True,
                         timeout=20)
    return dict(json.loads(out.stdout)) if out.returncode == 0 else {}


def routed(m: Mesh) -> bool:
    """Every server has routes to the two others (bounded wait): the cluster is
    one. A route may be a pool of connections, so the remotes are counted."""
    for _ in range(50):
        if all(len(_remotes(_monitor(m, i, "routez"))) == 2 for i in range(3)):
            return True
        time.sleep(0.2)
    return False


def _remotes(routez: dict[str, object]) -> set[str]:
    routes = routez.get("routes") or []
    assert isinstance(routes, list)
    return {str(r.get("remote_id")) for r in routes}


def _carried(m: Mesh, host: int, on: tuple[int, ...] = (0, 1, 2)) -> list[int]:
    """Bytes each server (of those ``on`` hosts) has had from the node on
    ``host`` so far (a node may hold more than one connection: the busiest
    carries the stream)."""
    got = [0] * len(m.addrs)
    for i in on:
        conns = _monitor(m, i, "connz").get("connections") or []
        assert isinstance(conns, list)
        got[i] = sum(int(c.get("in_bytes", 0)) for c in conns if c.get("ip") == m.addrs[host])
    return got


def carries(m: Mesh, host: int, server: int) -> bool:
    """The server on host ``server`` (the only one, say a restarted one) has
    had bytes from the node on ``host``: asked until it has, bounded."""
    for _ in range(100):
        if _carried(m, host, on=(server,))[server] > 0:
            return True
        time.sleep(0.1)
    return False


def serving(m: Mesh, host: int, on: tuple[int, ...] = (0, 1, 2)) -> int | None:
    """Which server (of those ``on`` hosts) carries the stream from the node on
    ``host``, asked until a megabyte has gone through one (bounded): the
    stream is under way."""
    for _ in range(100):
        got = _carried(m, host, on)
        if max(got) > 1 << 20:
            return got.index(max(got))
        time.sleep(0.1)
    return None


def moved_from(m: Mesh, host: int, dead: int) -> int | None:
    """The server the node on ``host`` carries on through once ``dead`` is
    gone (asked until it shows, bounded; a dead server's page is empty)."""
    for _ in range(100):
        got = _carried(m, host)
        if max(got) > 0:
            assert got[dead] == 0
            return got.index(max(got))
        time.sleep(0.1)
    return None
