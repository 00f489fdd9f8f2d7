"""A mesh's browser tabs as the snapshot shows them: the lease, who joined, who is leased.

``WebHost.start`` registers its ``state`` here, keyed by the mesh weakly (as
the HTTP ingress registers its stats), so the observer reads it without a
handle on the web host, and a mesh with no tabs has none (``web`` null). Its
``revoke`` is kept the same way, for the control API's ``POST /api/revoke``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ..errors import InvalidValue

State = Callable[[], dict[str, Any]]
Revoke = Callable[[str], str]
# the keys of ``web`` (WebHost.state), each a row of docs/observability.md
FIELDS = ("lease_s", "transport", "tabs", "leasing", "expired")
_REGISTRY: weakref.WeakKeyDictionary[object, State] = weakref.WeakKeyDictionary()
_REVOKE: weakref.WeakKeyDictionary[object, Revoke] = weakref.WeakKeyDictionary()


def register(mesh: object, state: State, revoke: Revoke | None = None) -> None:
    _REGISTRY[mesh] = state
    if revoke is not None:
        _REVOKE[mesh] = revoke


def revoke_in(mesh: object, node: str) -> str:
    """Revoke browser node ``node``'s tokens in ``mesh``'s web host (the control
    API's ``POST /api/revoke``); what was done, or ``InvalidValue`` saying why not."""
    revoke = _REVOKE.get(mesh)
    if revoke is None:
        raise InvalidValue("this mesh serves no browser tabs: there is no token to revoke "
                           "(run it with --web or a [web] table)")
    return revoke(node)


def web_of(mesh: object) -> dict[str, Any] | None:
    """The browser tabs of ``mesh`` as plain data; None when it serves none."""
    state = _REGISTRY.get(mesh)
    return None if state is None else state()
