"""How big a QUIC packet the path to a peer carries: the route's MTU, not
QUIC's 1,200-byte floor.

aioquic builds, encrypts and parses every packet in Python, so the bytes a
packet carries bound a QUIC link's throughput far more than the bytes
themselves: streaming 4 KiB frames over loopback moved 7.0 MB/s in
1,200-byte packets and 37.1 MB/s in 16,000-byte ones (same machine, one
run each). aioquic does no path MTU discovery and keeps every packet at the
1,200 bytes all paths must carry. So once the handshake is done (its
long-header packets stay at 1,200 bytes), a bridge connection's packets
grow to the largest UDP payload the kernel's route to the peer carries:
the route's MTU (the interface's, or a smaller one the kernel learned from
ICMP) less the IPv6 and UDP headers, at most ``LARGEST``. That is 1,452
bytes over a 1,500-byte Ethernet or veth link and ``LARGEST`` over
loopback or jumbo frames. A router with a smaller MTU further on answers
with ICMP and the kernel fragments from then on; on a path that drops that
ICMP, ``NANONET_QUIC_DATAGRAM=1200`` keeps packets at QUIC's floor.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from aioquic.quic.connection import QuicConnection

SMALLEST = 1200  # every QUIC path carries this (RFC 9000 section 14)
LARGEST = 16000  # measured best on loopback; larger ones cost more per loss
HEADERS = 40 + 8  # IPv6 and UDP: the larger of the two IP headers
IPV6_MTU = getattr(socket, "IPV6_MTU", 24)  # Linux's getsockopt number
IP_MTU = getattr(socket, "IP_MTU", 14)
ENV = "NANONET_QUIC_DATAGRAM"


def route_payload(addr: Any) -> int:
    """The largest UDP payload the kernel's route to ``addr`` carries
    unfragmented, between ``SMALLEST`` and ``LARGEST`` (``SMALLEST`` if the
    kernel cannot say). No packet is sent: a connected UDP socket only asks
    the routing table."""
    family = socket.AF_INET6 if len(addr) == 4 else socket.AF_INET
    level, option = (socket.IPPROTO_IPV6, IPV6_MTU) if len(addr) == 4 else (socket.IPPROTO_IP,
                                                                           IP_MTU)
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(addr)
            mtu = probe.getsockopt(level, option)
    except OSError:
        return SMALLEST
    return max(SMALLEST, min(LARGEST, mtu - HEADERS))


def pinned() -> int | None:
    """The size ``NANONET_QUIC_DATAGRAM`` pins, if set (a clear error if bad)."""
    text = os.environ.get("NANONET_QUIC_DATAGRAM")
    if not text:
        return None
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not a number of bytes: set it between "
                         f"{SMALLEST} and {LARGEST}, or unset it") from None
    if not SMALLEST <= size <= LARGEST:
        raise ValueError(f"{ENV}={size} is out of range: set it between {SMALLEST} and "
                         f"{LARGEST}, or unset it")
    return size


def packet_size(addr: Any) -> int:
    """The packet size for a connection to ``addr``: pinned, else the route's."""
    size = pinned()
    return route_payload(addr) if size is None else size


def grow_packets(quic: QuicConnection, size: int) -> None:
    """Build ``quic``'s packets up to ``size`` bytes from now on, and pace
    and count its congestion window in packets of that size, as aioquic
    does for the size it was configured with (it offers no public way to
    change it once connected). Never below the size it has."""
    if size <= quic._max_datagram_size:
        return
    quic._max_datagram_size = size
    loss = quic._loss
    for part in (getattr(loss, "_pacer", None), getattr(loss, "_cc", None)):
        for name in ("_max_datagram_size", "additive_increase_factor"):  # cubic's step
            if hasattr(part, name):
                setattr(part, name, size)
