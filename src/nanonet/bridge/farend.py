"""The far writer's end, played on the local ring by a bridge's receiving side.

Both receivers, the streaming one (``pump.py``) and the durable one
(``durable_receive.py``), end the local ring as the far writer ended: a
close, or, when the far writer's service is gone, a break, so that the local
reader gets TunnelBroken as it would beside the writer.
"""

from __future__ import annotations

import logging

from ..ring.control import BreakInfo
from ..ring.endpoint import TunnelWriter


def end_as_far_writer(writer: TunnelWriter, tunnel: str,
                      broken: tuple[int, str, str] | None, log: logging.Logger) -> None:
    """Close ``writer``'s ring, or break it with ``broken`` (reason code,
    service, cause), saying so on ``log`` (the receiver's own logger)."""
    if broken is None:
        writer.close()
        return
    code, service, cause = broken
    log.warning("bridge %r: the far writer %r is gone (%s); breaking the tunnel here",
                tunnel, service, cause)
    writer.control.break_(BreakInfo("writer", f"{service} (far node)", code, cause))
