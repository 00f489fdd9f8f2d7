"""Three (or more) local nats-servers joined as one NATS cluster.

Each server listens for clients on its own port and for its peers on a
cluster port, with routes to every other server; ``url`` lists all client
URLs joined by commas, the form ``NatsOptions.url`` takes, so a client that
loses its server moves to another. ``start`` returns once every server
reports a route to each of the others (its monitoring ``/routez``): a
message published before the routes exist would reach only local
subscribers. Used by the fault tests and by anyone who wants a cluster on
one machine.
"""

from __future__ import annotations

import json
import time
import urllib.request
from types import TracebackType

from ..errors import NanonetError
from .natsd import START_TIMEOUT, NatsServer, free_port


class NatsCluster:
    """``size`` nats-servers on ``host``, fully routed."""

    def __init__(self, size: int = 3, host: str = "127.0.0.1", name: str = "nanonet") -> None:
        self.host, self.size = host, size
        cluster = [free_port(host) for _ in range(size)]
        self.monitor = [free_port(host) for _ in range(size)]
        routes = [f"nats://{host}:{p}" for p in cluster]
        self.servers = [
            NatsServer(host, args=("--cluster", routes[i], "--cluster_name", name,
                                   "--routes", ",".join(r for j, r in enumerate(routes) if j != i),
                                   "-m", str(self.monitor[i])))
            for i in range(size)]

    @property
    def url(self) -> str:
        return ",".join(s.url for s in self.servers)

    def server_at(self, url: str) -> NatsServer:
        """The server whose client URL is ``url`` (a client's ``connected_url``)."""
        for s in self.servers:
            if url.rstrip("/").endswith(f":{s.port}"):
                return s
        raise NanonetError(f"no server of this cluster listens at {url}")

    def start(self) -> NatsCluster:
        for s in self.servers:
            s.start()
        self._wait_routed()
        return self

    def routes(self, i: int) -> int:
        """How many routes server ``i`` has to its peers (from ``/routez``)."""
        url = f"http://{self.host}:{self.monitor[i]}/routez"
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(json.load(r).get("num_routes", 0))

    def _wait_routed(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if all(self.routes(i) >= self.size - 1 for i in range(self.size)):
                return
            time.sleep(0.05)
        raise NanonetError(f"the {self.size} nats-servers did not route to each other in time")

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
