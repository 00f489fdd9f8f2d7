"""A durable tunnel's JetStream plumbing: its stream, its consumer, and the
stored form of a batch.

Each durable tunnel has a stream of its own (``nanonet-<mesh>-<tunnel>``,
work-queue retention: a message stays until the reader's node acks it)
holding one subject, ``nanonet.<mesh>.<tunnel>.js``, and one durable pull
consumer (``reader``). A stored message is one batch: a little-endian u32
count, the count's u32 lengths, the payloads end to end; or, with the
``Nanonet-End`` header, the end of the stream (``closed``, or ``broken``
with why). ``Nanonet-Mac`` is an HMAC-SHA256 of the message id, the end
and break headers and the body under the bridge token, so only a node that holds the token can put
messages in the tunnel. The stream's sequence numbers order the batches and
are what the receiver drops duplicates by.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import struct
import sys
import time
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ..errors import BridgeProtocolError
from .nats import subject_token

CONSUMER = "reader"
STREAM_BYTES = 256 << 20  # a stream refuses new batches (the writer waits) past this
MSG_ID, END, BREAK, MAC = "Nats-Msg-Id", "Nanonet-End", "Nanonet-Break", "Nanonet-Mac"
_COUNT = struct.Struct("<I")


def stream_name(mesh: str, tunnel: str) -> str:
    """The tunnel's stream (names take no dots: the tokens' hex form has none)."""
    return f"nanonet-{subject_token(mesh)}-{subject_token(tunnel)}".replace("%", "x")


def stream_subject(mesh: str, tunnel: str) -> str:
    return f"nanonet.{subject_token(mesh)}.{subject_token(tunnel)}.js"


async def ensure_stream(js: Any, mesh: str, tunnel: str, most: int = STREAM_BYTES) -> str:
    """Create the tunnel's stream unless it exists (either node may start
    first; a restarted one finds what is stored); its name."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError
    name = stream_name(mesh, tunnel)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(StreamConfig(
            name=name, subjects=[stream_subject(mesh, tunnel)],
            retention=RetentionPolicy.WORK_QUEUE, discard=DiscardPolicy.NEW,
            storage=StorageType.FILE, max_bytes=most))
    return name


async def last_sequence(js: Any, mesh: str, tunnel: str) -> int:
    """The stream's last sequence: what a writer's first publish follows
    (``Nats-Expected-Last-Sequence``, ``pubwindow``)."""
    return int((await js.stream_info(stream_name(mesh, tunnel))).state.last_seq)


async def fresh_consumer(js: Any, mesh: str, tunnel: str, ack_wait: float) -> tuple[Any, int]:
    """The reader's pull subscription, on a consumer made anew, and the stream
    sequence of the first batch it will deliver.

    Making it anew hands back at once what a dead (or confused) reader's
    node had been given but not acked, instead of after ``ack_wait``: on a
    work-queue stream every batch not acked is still stored, and a new
    consumer delivers them all from the oldest."""
    from nats.js.api import AckPolicy, ConsumerConfig
    from nats.js.errors import NotFoundError
    name = stream_name(mesh, tunnel)
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(name, CONSUMER)
    state = (await js.stream_info(name)).state
    first = state.first_seq if state.messages else state.last_seq + 1
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait,
                            max_ack_pending=-1)
    sub = await js.pull_subscribe(stream_subject(mesh, tunnel), durable=CONSUMER, stream=name,
                                  config=config)
    return sub, first


def _mac(token: bytes, msg_id: str, body: bytes, end: str, brk: str) -> bytes:
    head = f"{msg_id}\0{end}\0{brk}\0".encode("utf-8", "surrogateescape")
    return hmac.new(token, head + body, hashlib.sha256).hexdigest()[:32].encode()


def encode_batch(lengths: list[int], data: bytes) -> bytes:
    """One stored batch: count, lengths, payloads."""
    table = array("I", lengths)
    if sys.byteorder == "big":
        table.byteswap()
    return _COUNT.pack(len(lengths)) + table.tobytes() + data


def headers(token: bytes, msg_id: str, body: bytes, end: str = "",
            broken: tuple[int, str, str] | None = None) -> dict[str, str]:
    """A stored message's headers: its dedup id, its end mark, its MAC."""
    brk = "" if broken is None else json.dumps(list(broken))
    out = {MSG_ID: msg_id, MAC: _mac(token, msg_id, body, end, brk).decode()}
    if end:
        out[END] = end
    if brk:
        out[BREAK] = brk
    return out


@dataclass(frozen=True)
class Stored:
    """A stored message read back: a batch (bounds into data) or the end."""

    bounds: list[int]  # n + 1 offsets into data
    data: memoryview
    end: str = ""  # "", "closed" or "broken"
    broken: tuple[int, str, str] | None = None

    @property
    def count(self) -> int:
        return len(self.bounds) - 1


def decode(token: bytes, body: bytes, hdrs: dict[str, str] | None, max_payload: int) -> Stored:
    """A stored message, checked (a MAC under the token; lengths within the
    body and ``max_payload``); BridgeProtocolError names what is wrong."""
    h = hdrs or {}
    end = h.get(END, "")
    mac = h.get(MAC, "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(mac, _mac(token, h.get(MSG_ID, ""), body, end, h.get(BREAK, ""))):
        raise BridgeProtocolError("a stored message's MAC does not match this node's bridge "
                                  "token: give every node the same token")
    if end:
        return Stored([0], memoryview(b""), end, _broken(h.get(BREAK)))
    return _batch(body, max_payload)


def count_of(body: bytes, hdrs: dict[str, str] | None) -> int:
    """How many messages a stored batch says it holds (0 for an end, or a
    body too short to say), unchecked: for counting duplicates only."""
    if (hdrs or {}).get(END) or len(body) < 4:
        return 0
    return int(_COUNT.unpack_from(body)[0])


def _broken(text: str | None) -> tuple[int, str, str] | None:
    if text is None:
        return None
    try:
        code, service, cause = json.loads(text)
        return int(code), str(service), str(cause)
    except (ValueError, TypeError) as err:
        raise BridgeProtocolError(f"a stored end's {BREAK} header is not [code, service, "
                                  f"cause]: {err}") from None


def _batch(body: bytes, max_payload: int) -> Stored:
    if len(body) < 4:
        raise BridgeProtocolError("a stored batch is shorter than its count")
    (n,) = _COUNT.unpack_from(body)
    start = 4 + 4 * n
    if n == 0 or start > len(body):
        raise BridgeProtocolError(f"a stored batch counts {n} messages its body cannot hold")
    table = array("I", body[4:start])
    if sys.byteorder == "big":
        table.byteswap()
    if (longest := max(table)) > max_payload:
        raise BridgeProtocolError(f"a stored message of {longest} bytes is over the "
                                  f"tunnel's max_payload {max_payload}")
    bounds = list(accumulate(table, initial=0))
    if bounds[-1] != len(body) - start:
        raise BridgeProtocolError(f"a stored batch's lengths add up to {bounds[-1]} bytes, "
                                  f"its payload has {len(body) - start}")
    return Stored(bounds, memoryview(body)[start:])


async def wait_drained(url: str, mesh: str, tunnels: list[str], timeout: float | None,
                       every: float = 0.05) -> bool:
    """Until every tunnel's stream is empty (its reader's node acked it all),
    or ``timeout`` seconds: a node that started the nats-server itself keeps
    it up that long, for the store goes with the server. False at the timeout."""
    import nats
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    js, deadline = nc.jetstream(), None if timeout is None else time.monotonic() + timeout
    try:
        for tunnel in tunnels:
            while (await js.stream_info(stream_name(mesh, tunnel))).state.messages:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(every)
        return True
    finally:
        await nc.close()
