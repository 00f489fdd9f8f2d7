"""nanonet's exceptions: a small set, each with one meaning.

``TunnelClosed`` means the tunnel was closed (by either end, or by stop) and,
for a reader, everything before the close has been read. ``TunnelCorrupt``
means the ring failed a check and is quarantined. ``GuestTrap`` carries the
service name, the trap message and the Wasm frames. ``LoadError`` is raised
before anything runs and names what to change. ``ManifestError`` points at
the file, line and key of a ``nanonet.toml`` that cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass


class NanonetError(Exception):
    """Base class of every error nanonet raises on purpose."""


class TunnelClosed(NanonetError):
    """The tunnel is closed; a reader sees this only after draining it."""


class TunnelBroken(NanonetError):
    """The service at the other end is gone for good (it trapped with no
    restart policy, or failed); the cause is chained. A reader sees this only
    after draining what was sent before the break."""


class TunnelCorrupt(NanonetError):
    """The ring failed a consistency check and was quarantined."""


class MessageTooBig(NanonetError, ValueError):
    """A message does not fit one slot; raise the tunnel's max_payload.

    Raised from a batch, it stops the batch at that message: the ones before
    it are sent and published, none after it; ``sent`` counts them.
    """

    def __init__(self, message: str, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent

    def __str__(self) -> str:
        base = super().__str__()
        if not self.sent:
            return base
        n = self.sent
        went = "1 message before it was" if n == 1 else f"{n} messages before it were"
        return f"{base} ({went} sent, none after it)"


class InvalidValue(NanonetError, ValueError):
    """A value given to build a mesh (a name, a ring's shape, a grant) is outside
    what nanonet accepts; the message names the allowed form."""


class EndpointTaken(NanonetError):
    """A tunnel end was handed out twice: each end has exactly one owner."""


class LoadError(NanonetError):
    """A service cannot be loaded: a missing export, an unknown import..."""


@dataclass(frozen=True)
class Frame:
    """One Wasm frame of a trap's backtrace."""

    module: str | None
    function: str | None
    offset: int

    def __str__(self) -> str:
        return f"{self.module or '?'}!{self.function or '?'}+{self.offset:#x}"


class LifecycleError(NanonetError):
    """nanonet drove a lifecycle (state, event) pair its table lacks: a bug in
    nanonet, recorded as the service's internal error."""


class InternalError(NanonetError):
    """nanonet itself went wrong, never the user's input: a Python exception on
    a service's thread (chained as the cause), or a generated adapter that does
    not fill or compile; the message names the part at fault."""


class StopTimeout(NanonetError):
    """Services still ran after stop interrupted them; the message names them."""


class GuestTrap(NanonetError):
    """A service trapped; only that service stopped."""

    def __init__(self, service: str, message: str, frames: tuple[Frame, ...] = (),
                 cause: str = "") -> None:
        self.service = service
        self.message = message
        self.frames = frames
        self.cause = cause or message
        where = "\n".join(f"  at {f}" for f in frames)
        tail = f"\n{where}" if where else ""
        why = f" ({cause})" if cause and cause not in message else ""
        super().__init__(f"service {service!r} trapped: {message}{why}{tail}")


class ManifestError(NanonetError):
    """A manifest is invalid; the message names the file, the line and the fix.

    The format is ``FILE:LINE[:COLUMN]: KEY: PROBLEM; FIX`` so that editors and
    terminals can jump to the spot; ``key`` is the dotted path of the key at
    fault (empty for a syntax error, which has no key yet).
    """

    def __init__(self, path: str, line: int, problem: str, *, key: str = "",
                 column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.key = key
        self.problem = problem
        where = f"{path}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class ControlFileError(NanonetError, ValueError):
    """The control file (a running mesh's URL and token) cannot be written or trusted."""
