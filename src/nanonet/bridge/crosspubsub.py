"""A pub-sub subscriber on another node: the bridge subscribes for it.

On the writer's node the bridge takes one more subscriber line of the
pub-sub ring, with the far subscriber's policy, and copies what it reads
into an *outbox*: a plain ring of the tunnel's shape that a ``SendPump``
carries to the subscriber's node exactly as it carries a one-reader tunnel
(sequence numbers, acknowledgements, credit, resume). A ``block`` copy
waits for room in the outbox, and the outbox drains only as the far side
acknowledges, so the far reader's pace holds the writer back through the
bridge's credit, as a local blocking subscriber would. A ``lossy`` copy
never waits: what the outbox has no room for is dropped, counted with what
the line itself missed, and the count is published on the link's
``missed`` subject (``missed_subject``) for the far node to show.

The copy runs on a thread of its own (``SubscriberRelay.run``): Python per
batch, never per message.
"""

from __future__ import annotations

import logging
import threading

from ..errors import TunnelBroken, TunnelClosed, TunnelTimeout
from ..host.engine import Runtime
from ..ring.control import BreakInfo, RingControl
from ..ring.layout import Geometry
from ..ring.memory import RingMemory
from ..ring.packed import Packed
from ..ring.peek import PeekingReader
from ..ring.subscriber import TunnelSubscriber
from ..ring.writer import TunnelWriter
from .nats import subject_token

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05  # how long one wait for the line lasts (then the stop flag is read)


def missed_subject(mesh: str, link: str) -> str:
    """Where a lossy copy's missed count (decimal text) is published."""
    return f"nanonet.{subject_token(mesh)}.{subject_token(link)}.missed"


class Outbox:
    """A plain ring of a tunnel's shape, outside any mesh: the relay writes
    it, the bridge's ``SendPump`` peeks it. ``close`` releases it."""

    def __init__(self, rt: Runtime, geometry: Geometry, name: str) -> None:
        g = Geometry.for_payload(geometry.slot_count, geometry.max_payload)
        self.ring = RingMemory(rt.engine, g, name)
        self.control = RingControl(rt, self.ring)
        self.writer = TunnelWriter(self.ring, self.control)
        self.reader = PeekingReader(self.ring, self.control)

    def close(self) -> None:
        self.control.release()
        self.ring.close()


class SubscriberRelay:
    """One far subscriber's copy: its line here, into an outbox."""

    def __init__(self, sub: TunnelSubscriber, outbox: Outbox, link: str, lossy: bool) -> None:
        self.sub, self.outbox, self.link, self.lossy = sub, outbox, link, lossy
        self.dropped = 0  # lossy: what the outbox had no room for
        self.copied = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"nanonet-relay:{link}",
                                       daemon=True)

    @property
    def missed(self) -> int:
        """What the far subscriber will not get: lapped here, or no room."""
        return self.sub.missed + self.dropped

    def start(self) -> SubscriberRelay:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.thread.join(timeout)
        self.sub.close()

    def _copy(self, batch: Packed) -> None:
        w = self.outbox.writer
        if self.lossy:
            sent = w.try_send_many(batch)
            self.dropped += len(batch) - sent
        else:
            sent = 0
            while sent < len(batch) and not self._stop.is_set():
                if (n := w.try_send_many(batch.part(sent, len(batch)))) > 0:
                    sent += n
                    continue
                try:  # one message waits for room: sent whole, or not at all
                    w.send(batch[sent], timeout=POLL_SECONDS)
                    sent += 1
                except TunnelTimeout:
                    pass
        self.copied += sent

    def _broken(self, err: TunnelBroken) -> None:
        """The pub-sub writer's service is gone: break the outbox the same way."""
        info = self.sub.control.broken_by
        code = self.sub.ring.broken or 1
        who, cause = (info.service, info.cause) if info is not None else ("", str(err))
        self.outbox.control.break_(BreakInfo("writer", who, code, cause))

    def run(self) -> None:
        """Until the pub-sub ring is closed and drained (then the outbox is
        closed, or broken if the writer's service is gone), or ``stop``."""
        while not self._stop.is_set():
            try:
                batch = self.sub.recv_packed(self.outbox.ring.geometry.slot_count,
                                             timeout=POLL_SECONDS)
            except TunnelTimeout:
                continue
            except TunnelBroken as err:
                self._broken(err)
                return
            except TunnelClosed:
                self.outbox.writer.close()
                return
            self._copy(batch)
