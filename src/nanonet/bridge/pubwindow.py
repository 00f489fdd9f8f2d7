"""A durable tunnel's publishes in flight: a bounded window of stored
batches the stream has not yet acknowledged, in ring order.

One batch at a time pays a whole PubAck round trip per batch; a window of
``WINDOW`` publishes out at once hides it. Order must still hold when one
of them fails (the server away, the stream full) while a later one would
land: every publish carries ``Nats-Expected-Last-Sequence``, the stream
sequence the batch before it gets, so the server refuses a batch whose
predecessor it does not hold. The first failure cancels the window; its
batches are sent again, the same bytes under the same message ids (the
server's dedup window answers for those it already stored), one at a time
until one is acknowledged, then the window opens again. Only the front of
the window is ever committed: the ring's tail moves up to the highest batch
acknowledged with every batch before it.

The PubAcks come to a reply subject of the window's own (``Acks``):
nats-py's ``publish_async`` loses a refusal (it raises it in its own
callback), and the window must see the refusal to resume.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

WINDOW = 8  # batches published and not yet acknowledged, at most
EXPECTED_LAST = "Nats-Expected-Last-Sequence"
WRONG_LAST = 10071  # JetStream's "wrong last sequence: N"


@dataclass
class Entry:
    """One stored message on its way: a batch of the ring, or the end mark."""

    first: int  # the ring counter of its first message
    count: int  # its messages (0: the end mark)
    body: bytes
    hdrs: dict[str, str]
    ack: asyncio.Future[Any] | None = None


@dataclass(frozen=True)
class PubAck:
    seq: int
    duplicate: bool


class Refused(Exception):
    """The stream refused a publish (JetStream's error: code, err_code, why)."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.err_code = int(error.get("err_code", 0))
        self.description = str(error.get("description", ""))
        super().__init__(f"JetStream refused a batch: {self.description} "
                         f"(err_code {self.err_code})")


class Acks:
    """Publishes whose PubAcks come back as futures, on one reply subject."""

    def __init__(self, nc: Any) -> None:
        self.nc, self.prefix, self.count = nc, "", 0
        self.waiting: dict[str, asyncio.Future[PubAck]] = {}

    async def publish(self, subject: str, body: bytes,
                      hdrs: dict[str, str]) -> asyncio.Future[PubAck]:
        if not self.prefix:
            self.prefix = self.nc.new_inbox()
            await self.nc.subscribe(self.prefix + ".*", cb=self._reply)
        self.count += 1
        token = str(self.count)
        fut: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        self.waiting[token] = fut
        fut.add_done_callback(lambda _f: self.waiting.pop(token, None))
        await self.nc.publish(subject, body, reply=f"{self.prefix}.{token}", headers=hdrs)
        return fut

    async def _reply(self, msg: Any) -> None:
        fut = self.waiting.get(msg.subject.rpartition(".")[2])
        if fut is None or fut.done():
            return
        try:
            resp = json.loads(msg.data)
        except ValueError:
            resp = {"error": {"description": f"no PubAck: {bytes(msg.data[:80])!r}"}}
        if not isinstance(resp, dict) or "error" in resp or "seq" not in resp:
            error = resp.get("error") if isinstance(resp, dict) else None
            fut.set_exception(Refused(error if isinstance(error, dict) else {}))
        else:
            fut.set_result(PubAck(int(resp["seq"]), bool(resp.get("duplicate"))))


class Window:
    """The publishes out, oldest first (see module)."""

    def __init__(self, nc: Any, subject: str, most: int = WINDOW) -> None:
        self.acks, self.subject, self.most = Acks(nc), subject, max(1, most)
        self.limit = self.most  # 1 while the window is being sent again
        self.entries: deque[Entry] = deque()
        self.sent = 0  # entries at the front with a publish out
        self.last = 0  # the stream's sequence the front entry must follow
        self.widest = 0  # the most publishes that were out at once

    def full(self) -> bool:
        return len(self.entries) >= self.limit

    def in_flight(self) -> int:
        return sum(e.count for e in self.entries)

    async def send(self) -> None:
        """Publish the entries not yet out, as far as the limit allows; each
        expects the sequence the one before it will get."""
        while self.sent < min(self.limit, len(self.entries)):
            e = self.entries[self.sent]
            hdrs = {**e.hdrs, EXPECTED_LAST: str(self.last + self.sent)}
            e.ack = await self.acks.publish(self.subject, e.body, hdrs)
            self.sent += 1
        self.widest = max(self.widest, self.sent)

    async def settle(self, timeout: float) -> tuple[Entry, PubAck]:
        """The front entry and its PubAck, taken off the window (raises what
        its publish raised, or TimeoutError). A duplicate's sequence is the
        first storing's, behind the stream's last: it moves nothing."""
        e = self.entries[0]
        assert e.ack is not None, "settle() follows send()"
        ack = await asyncio.wait_for(e.ack, timeout)
        self.entries.popleft()
        self.sent -= 1
        self.last = max(self.last, ack.seq) if ack.duplicate else ack.seq
        self.limit = self.most
        return e, ack

    def fail(self, err: BaseException) -> bool:
        """Take every publish back: they are sent again from the front, one
        at a time. A refusal that names the stream's last sequence is
        believed (a batch of an earlier pump on this ring, or another run's,
        came between): True then, the front may go again at once."""
        for e in self.entries:
            if e.ack is not None:
                if e.ack.done() and not e.ack.cancelled():
                    e.ack.exception()  # retrieved, so asyncio does not log it
                e.ack.cancel()
                e.ack = None
        self.sent, self.limit = 0, 1
        found = re.search(r"(\d+)\s*$", err.description) if isinstance(err, Refused) and \
            err.err_code == WRONG_LAST else None
        if found:
            self.last = int(found.group(1))
        return found is not None
