"""What a bridge session tells its driver (``session.py``): plain values."""

from __future__ import annotations

from dataclasses import dataclass

from .frames import Batch


@dataclass(frozen=True)
class Accepted:
    """Sender: the receiver took the hello; it expects ``next_seq`` next."""

    version: int
    next_seq: int
    credit: int


@dataclass(frozen=True)
class Acked:
    """Sender: every message before ``next_seq`` is in the far ring (commit
    the local ring up to it); ``credit`` more may follow."""

    next_seq: int
    credit: int


@dataclass(frozen=True)
class Refused:
    """Sender: the receiver refused us (``by_peer``); receiver: we refused a
    hello. ``code`` is a ``frames.Refusal``."""

    code: int
    reason: str
    by_peer: bool


@dataclass(frozen=True)
class Connected:
    """Receiver: a sender authenticated (a new session, or a resume)."""

    version: int
    next_seq: int


@dataclass(frozen=True)
class Messages:
    """Receiver: new messages, in order, duplicates already dropped; write
    them, then ``acknowledge``."""

    batch: Batch
    skip: int  # leading messages of the batch that were duplicates

    @property
    def first_seq(self) -> int:
        return self.batch.first_seq + self.skip

    @property
    def count(self) -> int:
        return len(self.batch.lengths) - self.skip


@dataclass(frozen=True)
class Ended:
    """Receiver: the sender's stream ends here, every message before ``end_seq``
    was delivered."""

    end_seq: int
    # the writer's service is gone: (layout.Broken code, its service, why); None: closed
    broken: tuple[int, str, str] | None = None


@dataclass(frozen=True)
class LinkLost:
    """Either side: nothing heard from the peer for too long."""

    silent_for: float


Event = Accepted | Acked | Refused | Connected | Messages | Ended | LinkLost
