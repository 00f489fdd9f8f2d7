"""Which port a request goes to: ``[[http]]`` routes, exact or prefix (``/api/*``).

An exact route wins over a prefix one; among prefixes the longest wins, so
``/api/admin/*`` can go to another port than ``/api/*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .head import HttpError

DEFAULT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class HttpRoute:
    pattern: str  # "/exact" or "/prefix/*"
    port: str
    methods: tuple[str, ...] | None = None  # None: any method
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    stream: bool = False  # bodies cross in parts (docs/http.md, "Streamed bodies")
    component: bool = False  # ``port`` names a component service (docs/http.md)

    @property
    def prefix(self) -> bool:
        return self.pattern.endswith("*")

    def matches(self, path: str) -> bool:
        if self.prefix:
            return path.startswith(self.pattern[:-1])
        return path == self.pattern


class Routes:
    """The routes of one ingress, ordered for matching."""

    def __init__(self, routes: list[HttpRoute]) -> None:
        exact = [r for r in routes if not r.prefix]
        prefixes = sorted((r for r in routes if r.prefix), key=lambda r: -len(r.pattern))
        self.all = routes
        self._order = exact + prefixes

    def find(self, path: bytes) -> HttpRoute:
        """The route for ``path``; 404 when none matches."""
        text = path.decode("ascii")
        route = next((r for r in self._order if r.matches(text)), None)
        if route is None:
            raise HttpError(404, f"no route for {text[:200]}")
        return route

    def match(self, path: bytes) -> HttpRoute | None:
        """The route for ``path``, or None (the 404 is raised once the body is read)."""
        try:
            return self.find(path)
        except (HttpError, UnicodeDecodeError):
            return None


def allow(route: HttpRoute, method: bytes) -> None:
    """405 when the route lists its methods and ``method`` is not among them."""
    if route.methods is not None and method.decode() not in route.methods:
        raise HttpError(405, f"{method.decode()} is not among route {route.pattern}'s "
                        f"methods ({', '.join(route.methods)})",
                        [(b"allow", ", ".join(route.methods).encode())])
