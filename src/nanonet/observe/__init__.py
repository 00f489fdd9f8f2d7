"""Observability: see every tunnel without slowing it.

``Observer(mesh)`` owns the poll thread (counters, latency histograms,
lifecycle spans), taps, replay and the write path (through a ``SharedWriter``
it takes or is offered), the inspector and the control endpoint (``serve``); see
docs/observability.md. ``preflight`` and ``attach`` are what a command such
as ``nanonet run`` calls for ``--dashboard`` / ``--top``.
"""

from __future__ import annotations

from .feeds import SharedWriter
from .hook import add_arguments, attach, preflight
from .observer import Observer
from .pcapng import Packet, PcapngWriter, read_packets
from .snapshot import MeshSnapshot, ServiceSnapshot, TunnelSnapshot, take
from .tap import Tap, TapError, TapFilter

__all__ = ["MeshSnapshot", "Observer", "Packet", "PcapngWriter", "ServiceSnapshot",
           "SharedWriter", "Tap", "TapError", "TapFilter", "TunnelSnapshot", "add_arguments",
           "attach", "preflight", "read_packets", "take"]
