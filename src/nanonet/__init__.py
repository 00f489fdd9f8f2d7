"""nanonet: WebAssembly nano-services connected by zero-syscall memory tunnels.

The public API is what this module exports; everything else is private.
"""

from .errors import (
    BridgeProtocolError,
    BridgeRefused,
    CallTimeout,
    EndpointTaken,
    Frame,
    GuestTrap,
    InvalidValue,
    LoadError,
    ManifestError,
    MessageTooBig,
    NanonetError,
    NotFound,
    PcapngError,
    TapError,
    TapStalled,
    TunnelBroken,
    TunnelClosed,
    TunnelCorrupt,
    TunnelTimeout,
    WrongType,
)
from .manifest.manifest import Manifest, load_manifest
from .mesh import FanIn, Mesh, Tunnel
from .policy.policy import Grants, Limits, Preopen, Restart, RestartPolicy
from .ring.endpoint import TunnelReader, TunnelWriter
from .ring.layout import Geometry, Status
from .ring.packed import Packed
from .ring.port import Port, PortStats
from .ring.portclient import PortClient, PortServer
from .ring.stats import SubscriberStats, TunnelStats
from .ring.subscriber import TunnelSubscriber
from .ring.waitpolicy import WaitPolicy
from .runtime.lifecycle import State
from .runtime.service import Service
from .version import __version__
from .web.routes import HttpRoute
from .web.server import HttpIngress, HttpLimits

__all__ = [
    "BridgeProtocolError",
    "BridgeRefused",
    "CallTimeout",
    "EndpointTaken",
    "FanIn",
    "Frame",
    "Geometry",
    "Grants",
    "GuestTrap",
    "HttpIngress",
    "HttpLimits",
    "HttpRoute",
    "InvalidValue",
    "Limits",
    "LoadError",
    "Manifest",
    "ManifestError",
    "Mesh",
    "MessageTooBig",
    "NanonetError",
    "NotFound",
    "Packed",
    "PcapngError",
    "Port",
    "PortClient",
    "PortServer",
    "PortStats",
    "Preopen",
    "Restart",
    "RestartPolicy",
    "Service",
    "State",
    "Status",
    "SubscriberStats",
    "TapError",
    "TapStalled",
    "Tunnel",
    "TunnelBroken",
    "TunnelClosed",
    "TunnelCorrupt",
    "TunnelReader",
    "TunnelStats",
    "TunnelSubscriber",
    "TunnelTimeout",
    "TunnelWriter",
    "WaitPolicy",
    "WrongType",
    "__version__",
    "load_manifest",
]
