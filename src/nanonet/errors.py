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
from typing import ClassVar


class NanonetError(Exception):
    """Base class of every error nanonet raises on purpose.

    ``code`` is a short stable name for the class (docs/errors.md lists them
    all); the CLI prints ``nanonet: CODE: MESSAGE``. A code never changes once
    published, so scripts may match it.
    """

    code: ClassVar[str] = "error"


class TunnelClosed(NanonetError):
    """The tunnel is closed; a reader sees this only after draining it."""

    code: ClassVar[str] = "tunnel-closed"


class TunnelBroken(NanonetError):
    """The service at the other end is gone for good (it trapped with no
    restart policy, or failed); the cause is chained. A reader sees this only
    after draining what was sent before the break."""

    code: ClassVar[str] = "tunnel-broken"


class TunnelCorrupt(NanonetError):
    """The ring failed a consistency check and was quarantined."""

    code: ClassVar[str] = "tunnel-corrupt"


class MessageTooBig(NanonetError, ValueError):
    """A message is longer than the tunnel's max_payload; raise it.

    Raised from a batch, it stops the batch at that message: the ones before
    it are sent and published, none after it; ``sent`` counts them.
    """

    code: ClassVar[str] = "message-too-big"

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

    code: ClassVar[str] = "invalid-value"


class EndpointTaken(NanonetError):
    """A tunnel end was handed out twice: each end has exactly one owner."""

    code: ClassVar[str] = "endpoint-taken"


class LoadError(NanonetError):
    """A service cannot be loaded: a missing export, an unknown import..."""

    code: ClassVar[str] = "load-failed"


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

    code = "lifecycle"


class InternalError(NanonetError):
    """nanonet itself went wrong, never the user's input: a Python exception on
    a service's thread (chained as the cause), or a generated adapter that does
    not fill or compile; the message names the part at fault."""

    code = "internal"


class StopTimeout(NanonetError):
    """Services still ran after stop interrupted them; the message names them."""

    code = "stop-timeout"


class UpgradeError(NanonetError):
    """A hot upgrade did not happen: refused (a change of tunnel ends or
    geometry, a service not running), or rolled back (the new module failed
    to load, or trapped within its probation); the old module runs on."""

    code: ClassVar[str] = "upgrade-failed"


class GuestTrap(NanonetError):
    """A service trapped; only that service stopped."""

    code: ClassVar[str] = "guest-trap"

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

    code: ClassVar[str] = "manifest-invalid"

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

    code: ClassVar[str] = "control-file"


# The classes below complete the vocabulary: each replaces a builtin exception
# nanonet used to raise, and keeps that builtin as a second base so that code
# written against the old behaviour (``except TimeoutError``) still works.


class TunnelTimeout(NanonetError, TimeoutError):
    """A host end waited its whole timeout: no message came, or no room did."""

    code: ClassVar[str] = "tunnel-timeout"


class CallTimeout(NanonetError, TimeoutError):
    """A component service, or a port's server, did not answer a call within
    the caller's timeout (a port call is then abandoned: a late reply is dropped)."""

    code: ClassVar[str] = "call-timeout"


class NotFound(NanonetError, LookupError):
    """A name this mesh does not have: a tunnel, a service's export, an example."""

    code: ClassVar[str] = "not-found"


class WrongType(NanonetError, TypeError):
    """A Python value does not fit where it is passed: the WIT type of a component
    call, or the Wasm signature of a service's export."""

    code: ClassVar[str] = "wrong-type"


class TapError(NanonetError, RuntimeError):
    """A tap cannot start, or it stopped because the ring broke its rules."""

    code: ClassVar[str] = "tap-failed"


class TapStalled(TapError):
    """The tap's output took no bytes for longer than its bound: the tap let go."""

    code: ClassVar[str] = "tap-stalled"


class PcapngError(NanonetError, ValueError):
    """The file is not a pcapng capture nanonet can trust or replay."""

    code: ClassVar[str] = "pcapng-invalid"


class BuildTimeout(NanonetError):
    """A manifest's build command ran past its timeout; its process group was killed.

    Not a ``TimeoutError``: that is an ``OSError``, which means the command
    could not be started at all."""

    code: ClassVar[str] = "build-timeout"


class MissingTool(NanonetError, RuntimeError):
    """An optional package or program a feature needs is not installed."""

    code: ClassVar[str] = "missing-tool"


class BenchError(NanonetError, RuntimeError):
    """A benchmark run did not complete or its peers disagreed on what was sent."""

    code: ClassVar[str] = "bench-failed"


class BridgeProtocolError(NanonetError, ValueError):
    """A bridge peer sent bytes that break the bridge protocol (docs/bridge.md)."""

    code: ClassVar[str] = "bridge-protocol"


class BridgeRefused(NanonetError):
    """The far side of a bridge refused this one: a wrong token, no common
    version, or a tunnel of another name or shape."""

    code: ClassVar[str] = "bridge-refused"


class BridgeUnreachable(NanonetError, ConnectionError):
    """No NATS server answered a node's first connection within its deadline
    (a wrong ``--nats`` URL, a server not started): the node stops instead of
    waiting for ever."""

    code: ClassVar[str] = "bridge-unreachable"
