"""A host read end that does not give slots back until told: the ring as a
retransmit buffer.

A bridge is a tunnel's remote reader. It reads the local ring from the
committed tail on, sends what it read, and commits only what the far side
acknowledged, so the writer's room is what the far reader freed (backpressure
runs end to end) and whatever was in flight when a link broke is still in
the ring to be sent again. ``PeekingReader`` is a ``TunnelReader`` whose
every receive form peeks: the cursor's ``pos`` moves, ``tail`` does not.
``commit_to(counter)`` publishes the tail (waking a parked writer, as a
commit does); ``rewind(counter)`` moves the peek position back to any
uncommitted message. Lengths are checked as every host reader checks them.
"""

from __future__ import annotations

from ..errors import InvalidValue
from .packed import Packed
from .reader import TunnelReader


class PeekingReader(TunnelReader):
    """A read end whose receives leave the tail where it is (see module)."""

    @property
    def committed(self) -> int:
        """The published tail: messages given back to the writer."""
        return self._cur.done

    @property
    def position(self) -> int:
        """The next message a receive returns."""
        return self._cur.pos

    def _commit(self, count: int, nbytes: int) -> None:
        self._cur.take(count)  # moved past, not given back

    def _recv_one(self) -> bytes | None:
        return None  # the one-message fast path commits: take the general one

    def peek_packed(self, limit: int = 1 << 30) -> tuple[int, Packed]:
        """The counter of the first message, and up to ``limit`` waiting
        messages from the peek position as one ``Packed`` (maybe none)."""
        first = self._cur.pos
        return first, self.try_recv_packed(limit)

    def peek_batch(self, limit: int) -> tuple[int, list[int], bytes]:
        """The counter of the first message, the (checked) lengths of up to
        ``limit`` waiting messages and their payloads end to end. Raises
        TunnelClosed once closed and peeked to the end."""
        first, n, table = self.peek_table(limit, 0)
        if not n:
            return first, [], b""
        return first, memoryview(table)[:4 * n].cast("I").tolist(), bytes(table[4 * n:])

    def peek_table(self, limit: int, prefix: int) -> tuple[int, int, bytearray]:
        """The counter of the first message, how many of at most ``limit``
        waiting messages were peeked, and one new buffer: ``prefix`` bytes
        left for the caller, their (checked) lengths as u32s (little-endian,
        as the ring holds them), then their payloads end to end. A bridge's
        DATA frame and a durable tunnel's stored batch are a head and then
        this, so a batch leaves the ring in one copy. Raises TunnelClosed
        once closed and peeked to the end."""
        first = self._cur.pos
        n = self._ready_count(limit)
        if not n:
            return first, 0, bytearray(prefix)
        table = memoryview(bytearray(4 * n)).cast("I")
        size = self._checked_table(n, table)
        lengths: list[int] = [] if size else table.tolist()
        total = n * size if size else sum(lengths)
        out = bytearray(prefix + 4 * n + total)
        view = memoryview(out)
        view[prefix: prefix + 4 * n] = table.cast("B")
        body = view[prefix + 4 * n:]
        if size:
            self.ring.read_alike_into(first, n, size, body)
        else:
            self.ring.read_packed_into(first, lengths, body)
        self._cur.take(n)
        return first, n, out

    def idle(self) -> bool:
        """Everything published was peeked and committed: the ring is empty,
        so no writer is parked on it (a commit would have nobody to wake)."""
        cur = self._cur
        return cur.done == cur.pos == self.ring.head()

    def may_park(self) -> bool:
        """Everything published was peeked, and the ring is not full: no
        writer waits for room, and none can until it publishes more, which
        ends a ``park`` (so a commit's wake never waits long for the park's
        control lock). Uncommitted messages may be held."""
        cur = self._cur
        head = self.ring.head()
        return cur.pos == head and head - cur.done < self.geometry.slot_count

    def park(self, timeout_ns: int) -> None:
        """Sleep (in Wasm, the GIL let go) until the writer publishes past the
        peek position, or ``timeout_ns``. Only when ``may_park``: the park
        holds this end's control lock, which a commit's wake would wait for."""
        self.control.park_reader(self._cur.pos, timeout_ns)

    def rewind(self, counter: int) -> None:
        """Receive again from ``counter`` (committed <= counter <= position)."""
        cur = self._cur
        if not cur.done <= counter <= cur.pos:
            raise InvalidValue(f"cannot rewind to {counter}: only messages {cur.done} to "
                               f"{cur.pos} are held uncommitted")
        cur.pos = counter

    def commit_to(self, counter: int) -> None:
        """Give back every slot before ``counter`` (committed <= counter <= head)."""
        cur = self._cur
        if counter == cur.done:
            return
        if counter > cur.peer:
            self._available()  # re-reads head
        if not cur.done < counter <= cur.peer:
            raise InvalidValue(f"cannot commit up to {counter}: the ring holds messages "
                               f"{cur.done} to {cur.peer}")
        nbytes = sum(self.ring.slot_lengths(cur.done, counter - cur.done))
        cur.done, cur.pos = counter, max(cur.pos, counter)
        # SYNC POINT with $wait in the writer adapter: the payloads were copied out (when
        # peeked) before publish_tail stores tail, then (behind a fence) reads writer_waiting
        if self.ring.publish_tail(counter, nbytes):
            self._wake_writer()
