"""nanonet: WebAssembly nano-services connected by zero-syscall memory tunnels.

The public API is what this module exports; everything else is private.
"""

from .caps.manifest import Manifest, load_manifest
from .caps.policy import Grants, Limits, Preopen, Restart, RestartPolicy
from .errors import (
    EndpointTaken,
    Frame,
    GuestTrap,
    InvalidValue,
    LoadError,
    ManifestError,
    MessageTooBig,
    NanonetError,
    TunnelBroken,
    TunnelClosed,
    TunnelCorrupt,
)
from .mesh import Mesh, Tunnel
from .ring.endpoint import TunnelReader, TunnelWriter
from .ring.layout import Geometry, Status
from .ring.stats import TunnelStats
from .runtime.lifecycle import State
from .runtime.service import Service

__version__ = "0.1.0"

__all__ = [
    "EndpointTaken",
    "Frame",
    "Geometry",
    "Grants",
    "GuestTrap",
    "InvalidValue",
    "Limits",
    "LoadError",
    "Manifest",
    "ManifestError",
    "Mesh",
    "MessageTooBig",
    "NanonetError",
    "Preopen",
    "Restart",
    "RestartPolicy",
    "Service",
    "State",
    "Status",
    "Tunnel",
    "TunnelBroken",
    "TunnelClosed",
    "TunnelCorrupt",
    "TunnelReader",
    "TunnelStats",
    "TunnelWriter",
    "__version__",
    "load_manifest",
]
