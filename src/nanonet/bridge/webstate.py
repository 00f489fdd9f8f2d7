"""A mesh's browser tabs as the snapshot shows them: the lease, who joined, who is leased.

``WebHost.start`` registers its ``state`` here, keyed by the mesh weakly (as
the HTTP ingress registers its stats), so the observer reads it without a
handle on the web host, and a mesh with no tabs has none (``web`` null).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

State = Callable[[], dict[str, Any]]
# the keys of ``web`` (WebHost.state), each a row of docs/observability.md
FIELDS = ("lease_s", "transport", "tabs", "leasing", "expired")
_REGISTRY: weakref.WeakKeyDictionary[object, State] = weakref.WeakKeyDictionary()


def register(mesh: object, state: State) -> None:
    _REGISTRY[mesh] = state


def web_of(mesh: object) -> dict[str, Any] | None:
    """The browser tabs of ``mesh`` as plain data; None when it serves none."""
    state = _REGISTRY.get(mesh)
    return None if state is None else state()
