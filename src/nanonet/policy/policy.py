"""What a service may reach and use: grants, limits and its restart policy.

Nothing is granted by default. Each grant names one capability; the linker
resolves a guest's imports only from what its grants allow, and the WASI
context of its store is built from the grants alone (no inherited
environment, arguments, stdio or files). The manifest (``nanonet.toml``) and
the Python API (``Mesh.service``) both produce these objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..errors import InvalidValue


@dataclass(frozen=True)
class Preopen:
    """A host directory made visible to the guest at ``guest_path``."""

    host_path: Path
    guest_path: str
    writable: bool = False


@dataclass(frozen=True)
class Grants:
    """Capabilities beyond the service's tunnel ends; all off by default."""

    clock: bool = False
    random: bool = False
    stdout: bool = False
    stderr: bool = False
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[Preopen, ...] = ()
    network: bool = False
    raw: tuple[str, ...] = ()  # tunnels the guest may map read-only (zero-copy)

    def __post_init__(self) -> None:
        """WASI hands args and env to the guest as C strings: a NUL would cut one short."""
        problems = [nul_problem(f"args[{i}]", a) for i, a in enumerate(self.args)]
        for name, value in dict(self.env).items():
            problems += [env_name_problem(name), nul_problem(f"env {name!r}", value)]
        for d in self.dirs:
            problems += [nul_problem("the guest path of a dir", d.guest_path),
                         nul_problem("the host path of a dir", str(d.host_path))]
        problem = next((p for p in problems if p is not None), None)
        if problem is not None:
            raise InvalidValue(f"grants: {problem}")

    @classmethod
    def of(cls, value: Grants | Iterable[str] | None) -> Grants:
        """Accept a Grants, or names of boolean grants (``["clock", "random"]``)."""
        if value is None:
            return NO_GRANTS
        if isinstance(value, Grants):
            return value
        names = list(value)
        if not names:
            return NO_GRANTS
        flags = set(FLAG_GRANTS)
        unknown = sorted(set(names) - flags)
        if unknown:
            raise InvalidValue(f"unknown grant(s) {unknown}; known: {sorted(flags)} "
                               "(args, env, dirs and raw take values: pass a Grants)")
        return cls(clock="clock" in names, random="random" in names, stdout="stdout" in names,
                   stderr="stderr" in names, network="network" in names)

    @property
    def wasi(self) -> bool:
        """True if any grant is served by WASI."""
        return bool(self.clock or self.random or self.stdout or self.stderr or self.args
                    or self.env or self.dirs or self.network)

    def names(self) -> list[str]:
        """The grants that are on, for messages and ``nanonet check``."""
        on = [f for f in FLAG_GRANTS if getattr(self, f)]
        on += [k for k in ("args", "env", "dirs", "raw") if getattr(self, k)]
        return on


FLAG_GRANTS = ("clock", "random", "stdout", "stderr", "network")
NO_GRANTS = Grants()  # frozen: one shared by every service granted nothing


def nul_problem(what: str, text: str) -> str | None:
    """Why ``text`` cannot be handed to a guest as a C string, or None."""
    if "\0" not in text:
        return None
    return (f"{what} holds a NUL character at index {text.index(chr(0))}, where the guest "
            "would see it end; remove the NUL")


def env_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an environment variable, or None."""
    if name and "=" not in name and "\0" not in name:
        return None
    return f"{name!r} is not a variable name; use letters, digits and _"


@dataclass(frozen=True)
class Limits:
    """Per-service limits; None means unlimited.

    ``fuel_per_tick``: Wasm instructions (fuel units) a service may use per
    scheduler tick (10 ms); more traps it with "fuel exhausted". Needs a mesh
    created with ``fuel=True`` (fuel metering costs every service some speed).
    Waiting in a tunnel spins before it parks, and spinning burns fuel too: a
    tight loop here burns about 1e8 fuel per 10 ms, so a budget below that
    caps a service's CPU share, and one of 1e9 only stops runaway code.
    ``deadline_ms``: the longest a service may run without touching any of its
    tunnels (an infinite loop); more traps it with "deadline exceeded".
    ``memory_bytes``: the cap on its memory and tables together (under a cap
    a guest may have one memory of its own; see docs/runtime.md); growth past
    it fails, and a guest that traps after a refused growth is reported as
    over its memory cap. ``instances``: the most Wasm instances its store may hold.
    """

    fuel_per_tick: int | None = None
    deadline_ms: int | None = None
    memory_bytes: int | None = None
    instances: int | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.fuel_per_tick, self.deadline_ms,
                                            self.memory_bytes, self.instances))


NO_LIMITS = Limits()  # frozen, shared


class Restart(Enum):
    NEVER = "never"
    ON_FAILURE = "on-failure"


@dataclass(frozen=True)
class RestartPolicy:
    """When a trapped service is started again, and how long to wait first.

    Like an OTP supervisor's intensity and period: at most ``max_restarts``
    restarts within any ``window_s`` seconds; one more trap inside the window
    and the service is FAILED. Restarts older than the window are forgotten,
    so a service that traps once a day runs for ever.

    The delay before the n-th restart of a burst (from 0) is
    ``min(initial_ms * factor**n, max_ms)``; a service that ran ``healthy_s``
    seconds without trapping starts the next burst at ``initial_ms`` again.
    """

    mode: Restart = Restart.NEVER
    max_restarts: int = 5
    initial_ms: float = 10.0
    factor: float = 2.0
    max_ms: float = 1000.0
    window_s: float = 60.0
    healthy_s: float = 10.0
    # a message whose redelivery trapped the reader this many times (after the
    # trap of its first delivery) is moved to the ``dead_letter`` tunnel, or
    # dropped and counted if none is named; None: never
    dead_letter_after: int | None = None
    dead_letter: str | None = None

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.healthy_s < 0:
            raise ValueError(f"restart: window_s must be > 0 and healthy_s >= 0 (got "
                             f"{self.window_s:g} and {self.healthy_s:g}); give positive seconds")
        if self.dead_letter_after is not None and self.dead_letter_after < 1:
            raise ValueError(f"restart: dead_letter_after must be at least 1 (got "
                             f"{self.dead_letter_after}); give how many redeliveries may trap")
        if self.dead_letter is not None and self.dead_letter_after is None:
            raise ValueError(f"restart: dead_letter = {self.dead_letter!r} needs "
                             "dead_letter_after: say after how many redeliveries")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart ``attempt`` of a burst."""
        try:
            grown = self.initial_ms * self.factor ** attempt
        except OverflowError:  # 2.0 ** 1024: long past max_ms
            grown = self.max_ms
        return min(grown, self.max_ms) / 1000.0

    @property
    def restarts(self) -> bool:
        return self.mode is Restart.ON_FAILURE


NEVER_RESTART = RestartPolicy()  # frozen, shared


@dataclass(frozen=True)
class ServicePolicy:
    """Everything about a service besides its code and its tunnel ends."""

    grants: Grants = NO_GRANTS
    limits: Limits = NO_LIMITS
    restart: RestartPolicy = NEVER_RESTART
