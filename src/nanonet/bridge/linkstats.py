"""What one bridged tunnel's link is doing, as plain data for the snapshot.

A pump's ``stats()`` folds its live session and the sessions it replaced
into one ``LinkStats``: the state of the session, the last measured round
trip (PING to PONG), messages in flight (sent, not yet acknowledged; on
the receiving side always 0), messages sent again after a loss,
reconnects (sessions after the first: a new hello after a lost link or a
protocol error), the bytes each way, and, on a tunnel sent as datagrams
(``delivery`` "datagram"), the messages the receiver gave up as lost
(``missed``; always 0 on a stream), and on a link over NATS the times the
node's NATS client connected again to a server (``nats_reconnects``: a
server restarted, a cluster server lost; nats-py's own count, which the
bridge sessions do not see when nothing was lost). A node's bridges add the tunnel's far
end (``far_end``: the node and the service on the other side, which only
the manifest knows). ``observe/snapshot.py`` lists them
under ``links`` and ``observe/metrics.py`` exports them per tunnel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LinkStats:
    tunnel: str
    side: str  # "send" (the writer's node) or "receive" (the reader's node)
    transport: str  # "nats", "jetstream", "quic", "websocket", "memory"...
    state: str  # the session's: hello, open, refused; waiting, open
    rtt_s: float | None
    in_flight: int
    retransmits: int
    reconnects: int
    duplicates: int  # dropped by the receiver as already had
    bytes_sent: int
    bytes_received: int
    missed: int = 0  # given up by the receiver: datagrams lost on the way
    delivery: str = "stream"  # or "datagram": a tunnel that opts into loss, over QUIC
    nats_reconnects: int = 0  # the NATS client's reconnects to a server; 0 off NATS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FAR_END_FIELDS = ("far_node", "far_service")  # what ``far_end`` adds to a link's row


def far_end(row: dict[str, Any], far: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A link's row with ``far_node`` and ``far_service`` (None for a link
    the map does not name)."""
    node, service = far.get(row["tunnel"], (None, None))
    return {**row, **dict(zip(FAR_END_FIELDS, (node, service), strict=True))}


@dataclass
class Totals:
    """What the sessions a pump replaced had counted (a pump keeps one)."""

    sessions: int = 0
    retransmits: int = 0
    duplicates: int = 0
    missed: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def retire(self, session: Any) -> None:
        """Add a session that is being replaced."""
        self.sessions += 1
        self.retransmits += getattr(session, "retransmits", 0)
        self.duplicates += getattr(session, "duplicates", 0)
        self.missed += getattr(session, "missed", 0)
        self.bytes_sent += session.bytes_out
        self.bytes_received += session.bytes_in


def nats_reconnects(nc: Any) -> int:
    """How often a nats-py client connected again after losing its server."""
    return int(nc.stats.get("reconnects", 0))


def transport_of(link: Any) -> str:
    """The name of a link's transport, from its class (``NatsLink`` -> nats)."""
    name = type(link).__name__.lower().removesuffix("link")
    return {"ws": "websocket", "mem": "memory"}.get(name, name)
