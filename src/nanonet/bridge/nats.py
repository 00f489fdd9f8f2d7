"""The NATS transport: the bridge's frames as NATS messages on subjects
named after the mesh and the tunnel.

Each bridged tunnel has two subjects, ``nanonet.<mesh>.<tunnel>.data``
(sender to receiver: HELLO, DATA, CLOSE, PING) and ``...ctl`` (receiver
to sender: WELCOME, ACK, REFUSE, PONG); a name that is not a plain NATS
token is written as ``%`` and its UTF-8 in hex. One NATS message carries
one or more whole frames (up to 1 MiB, NATS's default ``max_payload``), so a
batch of thousands of small messages is one NATS message. NATS delivers at
most once: a message published while a server restarts, or to a subject
nobody listens on yet, is gone, and the bridge protocol sends it again
(docs/bridge.md). What arrives waits in a queue bounded in bytes; what does
not fit is dropped, and recovered the same way.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .inbox import INBOX_BYTES, Inbox
from .linkstats import nats_reconnects
from .natsconnect import connect

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
__all__ = ["NatsLink", "NatsOptions", "connect", "subject_token", "subjects", "unsubscribe"]


def subject_token(name: str) -> str:
    """``name`` as one NATS subject token (no dots, wildcards or spaces)."""
    return name if _TOKEN.fullmatch(name) else "%" + name.encode().hex()


def subjects(mesh: str, tunnel: str) -> tuple[str, str]:
    """(data, ctl): the subjects a tunnel's bridge sends and answers on."""
    base = f"nanonet.{subject_token(mesh)}.{subject_token(tunnel)}"
    return f"{base}.data", f"{base}.ctl"


@dataclass(frozen=True)
class NatsOptions:
    """How to reach the NATS server: URL, login (token, credentials or an
    NKey seed), TLS."""

    url: str  # one URL, or a cluster's URLs joined by commas
    token: str | None = None  # the NATS server's auth token (not the bridge's)
    credentials: Path | None = None  # a .creds file (JWT and NKey)
    nkey: Path | None = None  # a file holding an NKey user seed (SU...), for nkey-only users
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def tls(self) -> ssl.SSLContext | None:
        if not (self.tls_ca or self.tls_cert or self.url.startswith("tls://")):
            return None
        ctx = ssl.create_default_context(cafile=str(self.tls_ca) if self.tls_ca else None)
        if self.tls_cert:
            ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key) if self.tls_key else None)
        return ctx


async def unsubscribe(sub: Any) -> None:
    """End a nats-py subscription; on a connection already closed there is
    none left to end, and nats-py's error then says only that."""
    try:
        await sub.unsubscribe()
    except Exception as err:  # a closed connection has no subscription left
        log.debug("nats unsubscribe: %s", err)


class NatsLink:
    """One side of a tunnel's bridge over NATS: publishes on one subject,
    queues what arrives on the other (a ``pump.Link``)."""

    def __init__(self, nc: Any, send_on: str, receive_on: str,
                 most: int = INBOX_BYTES) -> None:
        self.nc, self.send_on, self.receive_on, self.most = nc, send_on, receive_on, most
        self.inbox = Inbox(most)
        self.unsent = 0  # wire messages nats-py would not take (no connection, its buffer full)
        self._sub: Any = None

    @classmethod
    async def sender(cls, nc: Any, mesh: str, tunnel: str) -> NatsLink:
        data, ctl = subjects(mesh, tunnel)
        return await cls(nc, data, ctl).start()

    @classmethod
    async def receiver(cls, nc: Any, mesh: str, tunnel: str) -> NatsLink:
        data, ctl = subjects(mesh, tunnel)
        return await cls(nc, ctl, data).start()

    async def start(self) -> NatsLink:
        self._sub = await self.nc.subscribe(self.receive_on, cb=self._arrived,
                                            pending_msgs_limit=-1, pending_bytes_limit=-1)
        await self.nc.flush()
        return self

    @property
    def nats_reconnects(self) -> int:
        """How often this link's NATS client connected again to a server."""
        return nats_reconnects(self.nc)

    async def _arrived(self, msg: Any) -> None:
        self.inbox.put(msg.data)

    async def send(self, data: bytes) -> None:
        try:
            await self.nc.publish(self.send_on, data)
        except Exception as err:  # nats-py raises its own errors and OSErrors: all are losses
            self.unsent += 1
            log.debug("nats publish on %s dropped: %s", self.send_on, err)

    async def close(self) -> None:
        if self._sub is not None:
            await unsubscribe(self._sub)
            self._sub = None
