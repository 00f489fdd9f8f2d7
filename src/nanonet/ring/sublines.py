"""Who holds which subscriber line of a pub-sub ring, and the rules of a line.

A pub-sub ring (docs/ring.md, "Publish-subscribe") has a fixed number of
subscriber lines. A subscriber declared for a service, or one the host takes
at run time (``Mesh.subscribe``), gets a free line: the host sets its tail
(the newest message, or ``history`` back), zeroes its counters, then stores
its mode, and the writer obeys the line from its next re-read on. Freeing a
line stores mode 0: the writer ignores it from then on.

The rules a line's cursor follows are in ``pubsub_model`` (the model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import EndpointTaken, InvalidValue
from . import layout as L
from .layout import SubMode
from .memory import RingMemory, fence
from .pubsub_wat import Sub

U64 = (1 << 64) - 1
POLICIES = {"block": SubMode.BLOCK, "lossy": SubMode.LOSSY}
LINE_COUNTERS = (L.SUB_BYTES_OUT, L.SUB_EMPTY, L.SUB_PARKS, L.SUB_WAKES, L.SUB_MISSED)


def free_line(ring: RingMemory, line: int) -> None:
    """Mode 0: the writer ignores the line from its next re-read (its park has
    a timeout, so a writer parked on the line's tail sees it then)."""
    ring.put_u32(ring.geometry.sub_line(line) + L.SUB_MODE, SubMode.FREE)


def policy_of(name: str, what: str) -> str:
    if name not in POLICIES:
        raise InvalidValue(f"{what}: policy {name!r} is not one of {sorted(POLICIES)}; "
                           'use "block" (lossless) or "lossy"')
    return name


class SubscriberLines:
    """The lines of one pub-sub ring: the declared service subscribers and
    their policies, and which line each holder has."""

    def __init__(self, ring: RingMemory, declared: Mapping[str, str]) -> None:
        self.ring = ring
        self.declared = {k: policy_of(v, f"subscriber {k!r}") for k, v in declared.items()}
        self.holders: dict[int, tuple[str, str]] = {}  # line -> (owner, policy)

    @classmethod
    def parse(cls, subscribers: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
        """``["a", "b"]`` (all blocking) or ``{"a": "block", "b": "lossy"}``."""
        if isinstance(subscribers, Mapping):
            return dict(subscribers)
        return {name: "block" for name in subscribers}

    def reserve(self, owner: str, tunnel: str) -> Sub:
        """The line a declared subscriber service would get (nothing taken yet)."""
        policy = self.declared.get(owner)
        if policy is None:
            raise EndpointTaken(f"service {owner!r} reads pub-sub tunnel {tunnel!r} but is not "
                                f"one of its subscribers ({sorted(self.declared)}); add it "
                                "to the tunnel's subscribers")
        if any(who == owner for who, _ in self.holders.values()):
            raise EndpointTaken(f"service {owner!r} already subscribes to tunnel {tunnel!r}")
        return Sub(self.free_line_for(tunnel), policy == "lossy")

    def free_line_for(self, tunnel: str) -> int:
        for line in range(self.ring.geometry.subscribers):
            if line not in self.holders:
                return line
        raise EndpointTaken(f"tunnel {tunnel!r} has no free subscriber line (all "
                            f"{self.ring.geometry.subscribers} held); create it with a larger "
                            "max_subscribers")

    def take(self, owner: str, line: int, policy: str, history: int = 0) -> int:
        """Start ``line`` for ``owner``: its tail ``history`` messages back from
        the newest (at most what is safe to read), its counters zeroed, then its
        mode. Returns the tail it starts at."""
        ring, g = self.ring, self.ring.geometry
        at = g.sub_line(line)
        head = ring.head()
        start = (head - min(max(0, history), g.lossy_window, head)) & U64
        for off in LINE_COUNTERS:
            ring.put_u64(at + off, 0)
        # SYNC POINT with the writer's subscriber hold (pubsub_wat.SUB_HOLD): the
        # tail is stored before the mode; the writer loads the mode, then the tail
        ring.put_u64(at + L.SUB_TAIL, start)
        fence()
        ring.put_u32(at + L.SUB_MODE, POLICIES[policy])
        self.holders[line] = (owner, policy)
        return start

    def free(self, line: int) -> None:
        """The line's holder is gone: the writer ignores it from its next re-read."""
        free_line(self.ring, line)
        self.holders.pop(line, None)

    def free_owner(self, owner: str) -> None:
        for line in [k for k, (who, _) in self.holders.items() if who == owner]:
            self.free(line)
