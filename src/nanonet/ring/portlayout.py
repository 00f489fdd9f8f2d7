"""The request/reply port, specified like a wire format.

One port is one shared linear memory: a header, then one mailbox per
client (Wasm services first, then the host's pool). A mailbox carries one
call at a time, request and reply side by side, so a reply can only ever
land in the mailbox of the client that asked. The single source of truth
for the offsets: the port template (``port_template.py``), the host's port
control module (``portctl.py``), the host client (``portclient.py``) and
docs/ring.md ("Ports") all read them here.

Header (256 bytes)::

    0   magic       u32   "PTNN"     64  wake        u32  bumped by every post
    4   version     u32              68  server_waiting u32
    8   mailboxes   u32              72  broken      u32  the server is gone for good
                                     76  server_yield u32 (host) an upgrade asks the server
    12  max_payload u32              128 taken       u64  (server-written counters)
    16  box_size    u32              136 replied     u64
    20  header_size u32              144 late        u64  replies dropped: caller gave up
    24  closed      u32              152 refused     u64  requests with a bad length
    28  quarantine  u32              160 requeued    u64  (host) taken -> posted after a trap
                                     168 server_parks u64
    32  name_len    u32
    36  name        28 bytes

Mailbox ``i`` starts at ``HEADER_SIZE + i * box_size``::

    0   word     u64   state (low 32 bits) | call id (high 32 bits)
    8   req_len  u32   (client-written)
    12  rep_len  u32   (server-written)
    16  client_waiting u32
    24  calls    u64   (client-written counters)
    32  timeouts u64
    64  request  max_payload bytes, padded to 8
    ..  reply    max_payload bytes, padded to 8

Every transition of ``word`` is one atomic store or compare-and-swap of the
whole (state, id) pair, so a late reply to call ``n`` can never complete
call ``n + 1``: its CAS expects ``(n, TAKEN)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidValue
from .layout import PAGE

MAGIC = 0x4E4E5450  # b"PTNN" little-endian
VERSION = 2  # 2: server_yield (hot upgrade of a port's server)
HEADER_SIZE = 256
BOX_HEADER = 64
MAX_NAME = 28
MAX_MAILBOXES = 1024
MAX_PAYLOAD = 1 << 16  # keeps every mailbox address inside a positive i32

OFF_MAGIC = 0
OFF_VERSION = 4
OFF_MAILBOXES = 8
OFF_MAX_PAYLOAD = 12
OFF_BOX_SIZE = 16
OFF_HEADER_SIZE = 20
OFF_CLOSED = 24
OFF_QUARANTINE = 28
OFF_NAME_LEN = 32
OFF_NAME = 36
OFF_WAKE = 64
OFF_SERVER_WAITING = 68
OFF_BROKEN = 72
OFF_SERVER_YIELD = 76  # 0 serve on, 1 serve_recv returns YIELD, taking nothing (an upgrade)
OFF_TAKEN = 128
OFF_REPLIED = 136
OFF_LATE = 144
OFF_REFUSED = 152
OFF_REQUEUED = 160
OFF_SERVER_PARKS = 168  # the server's parks on wake: the watchdog's sign of an idle server

BOX_WORD = 0
BOX_REQ_LEN = 8
BOX_REP_LEN = 12
BOX_CLIENT_WAITING = 16
BOX_CALLS = 24
BOX_TIMEOUTS = 32
BOX_REQUEST = BOX_HEADER


class Box:
    """A mailbox's state: the low 32 bits of its word."""

    IDLE = 0  # no call (or the last one is finished)
    POSTED = 1  # a request waits for the server
    TAKEN = 2  # the server took it and has not answered yet
    REPLIED = 3  # the reply waits for the client
    ABANDONED = 4  # the client gave up (deadline): a late reply is dropped
    DEAD = 5  # the host marked the client gone for good: the server skips it
    REFUSED = 6  # the server found the request's length out of range


def _pad8(n: int) -> int:
    return (n + 7) & ~7


@dataclass(frozen=True)
class PortGeometry:
    """How many mailboxes a port has and how large a request or reply may be."""

    mailboxes: int
    max_payload: int

    def __post_init__(self) -> None:
        if not 1 <= self.mailboxes <= MAX_MAILBOXES:
            raise InvalidValue(f"a port has 1 to {MAX_MAILBOXES} mailboxes (clients), not "
                               f"{self.mailboxes}")
        if not 1 <= self.max_payload <= MAX_PAYLOAD:
            raise InvalidValue(f"a port's max_payload is 1 to {MAX_PAYLOAD} bytes, not "
                               f"{self.max_payload}")

    @property
    def box_size(self) -> int:
        return BOX_HEADER + 2 * _pad8(self.max_payload)

    @property
    def reply_offset(self) -> int:
        """Where the reply starts inside a mailbox."""
        return BOX_REQUEST + _pad8(self.max_payload)

    def box(self, index: int) -> int:
        """Byte offset of mailbox ``index``."""
        return HEADER_SIZE + index * self.box_size

    @property
    def pages(self) -> int:
        return -(-(HEADER_SIZE + self.mailboxes * self.box_size) // PAGE)


def word(call_id: int, state: int) -> int:
    """A mailbox word: the state in the low half, the call id in the high half."""
    return ((call_id & 0xFFFFFFFF) << 32) | state
