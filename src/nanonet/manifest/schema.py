"""The shape of ``nanonet.toml``: one pydantic model per table.

Every table forbids unknown keys and every value is strict (``"5"`` is not
``5``, ``1`` is not ``true``): a typo in a manifest that grants capabilities
must fail loudly, never silently mean "nothing" or "something else". Checks
that need more than one table (does the writer name a service? does the file
exist?) live in ``manifest.py``; this module checks each table on its own.
Validator messages are written as ``problem; fix``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ..policy.names import name_problem
from ..policy.policy import env_name_problem, nul_problem
from ..ring.layout import MAX_SLOT_COUNT, MAX_SUBSCRIBERS, MIN_SLOT_SIZE, SLOT_HEADER, Geometry

DEFAULT_SLOTS = 1024
DEFAULT_MAX_PAYLOAD = 248
DELIVERIES = ("stream", "datagram")  # a crossing tunnel: reliable, or loss allowed
BIG = 1 << 62  # keeps every count inside the i64 wasmtime takes


class Table(BaseModel):
    """Strict, frozen, no unknown keys, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class AtKey(ValueError):
    """A whole-table check's error about one key: it points at that key's line.

    pydantic places a model validator's error at the table; this names the
    key whose value is at fault, so the error shows the line it is written on.
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


def _rule(problem: str | None, value: str) -> str:
    if problem is not None:
        raise ValueError(problem)
    return value


def _c_string(value: str) -> str:
    return _rule(nul_problem("the value", value), value)


def _service_name(name: str) -> str:
    return _rule(name_problem("service", name), name)


def _tunnel_name(name: str) -> str:
    return _rule(name_problem("tunnel", name), name)


def _plain(value: str) -> str:
    if "\0" in value:
        raise ValueError(f"holds a NUL character at index {value.index(chr(0))}, which no "
                         "path, command or name may hold; remove it")
    return value


CString = Annotated[str, AfterValidator(_c_string)]  # handed to the guest as a C string
Plain = Annotated[str, AfterValidator(_plain)]  # a path, a command or an export name
ServiceName = Annotated[str, AfterValidator(_service_name)]
TunnelName = Annotated[str, AfterValidator(_tunnel_name)]


class MeshTable(Table):
    name: TunnelName | None = None  # names the mesh's bridge subjects (docs/bridge.md)
    fuel: bool = False
    max_stack_kb: int | None = Field(default=None, ge=16, le=4096)
    compact: bool = False


class TunnelTable(Table):
    slots: int = Field(default=DEFAULT_SLOTS, ge=2, le=MAX_SLOT_COUNT)
    max_payload: int | None = Field(default=None, ge=1, le=1 << 30)
    slot_size: int | None = Field(default=None, ge=MIN_SLOT_SIZE, le=1 << 30)
    writer: str | None = Field(default=None, min_length=1)
    # a fan-in tunnel: one ring per writer, read as one by its reader
    writers: list[str] | None = Field(default=None, min_length=1, max_length=32)
    reader: str | None = Field(default=None, min_length=1)
    # a pub-sub tunnel (docs/ring.md, "Publish-subscribe"): services reading
    # every message, each at its own pace, instead of one reader
    subscribers: list[ServiceName] | None = Field(default=None, min_length=1)
    policy: dict[str, Literal["block", "lossy"]] = {}  # per subscriber; default "block"
    max_subscribers: int | None = Field(default=None, ge=1, le=MAX_SUBSCRIBERS)
    # a typed tunnel: each message one WIT record ("nanonet:tunnel/types.packet")
    type: str | None = Field(default=None, min_length=1)
    # the .wit file or folder (relative to the manifest) defining `type`;
    # default: nanonet's own WIT packages
    wit: str | None = Field(default=None, min_length=1)
    # how its blocked ends wait (docs/runtime.md, "Wait policies")
    wait: Literal["spin", "adaptive", "park"] = "adaptive"
    # bridged through a JetStream stream: survives a node's death (docs/bridge.md)
    durable: bool = False
    # a crossing tunnel over QUIC: "datagram" opts into loss (batches as QUIC
    # datagrams, the lost ones counted as missed); over NATS, WebSocket or
    # memory it stays reliable (docs/bridge.md, "Datagrams")
    delivery: str = Field(default="stream", json_schema_extra={"enum": list(DELIVERIES)})

    @property
    def all_writers(self) -> list[str]:
        """``writers`` of a fan-in tunnel, else the one ``writer``."""
        return list(self.writers) if self.writers is not None else [self.writer or ""]

    @property
    def writer_label(self) -> str:
        """How ``nanonet check`` names its writer(s)."""
        if self.writers is None:
            return self.writer or ""
        return f"{', '.join(self.writers)} (fan-in, one ring each)"

    @model_validator(mode="after")
    def _one_writer_key(self) -> TunnelTable:
        if (self.writer is None) == (self.writers is None):
            raise ValueError("needs writer = \"NAME\" (one writer) or writers = [\"A\", "
                             "\"B\"] (a fan-in tunnel), exactly one of them")
        return self

    @field_validator("slots")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            low = 1 << (v.bit_length() - 1)
            raise ValueError(f"must be a power of two (got {v}); use {low} or {low * 2}")
        return v

    @field_validator("delivery")
    @classmethod
    def _delivery(cls, v: str) -> str:
        if v not in DELIVERIES:
            raise ValueError(f"delivery = {v!r} is not a delivery; write \"stream\" (the "
                             "default: every message, in order) or \"datagram\" (loss "
                             "allowed and counted, over QUIC)")
        return v

    @field_validator("slot_size")
    @classmethod
    def _multiple_of_8(cls, v: int | None) -> int | None:
        if v is not None and v % 8:
            raise ValueError(f"must be a multiple of 8 (got {v}); use {(v + 7) // 8 * 8}")
        return v

    @model_validator(mode="after")
    def _readers(self) -> TunnelTable:
        if self.reader is None and self.subscribers is None:
            raise ValueError("required key reader is missing; add it (see docs/manifest.md)")
        if self.reader is not None and self.subscribers is not None:
            raise AtKey("subscribers",
                        "sets both reader and subscribers; keep reader for one reader, "
                        "or subscribers for a pub-sub tunnel")
        subs = self.subscribers or []
        if len(set(subs)) != len(subs):
            raise AtKey("subscribers", "names a subscriber twice in subscribers; name each once")
        stray = sorted(set(self.policy) - set(subs))
        if stray:
            raise AtKey("policy",
                        f"policy names {stray}, which are not among its subscribers "
                        f"{subs}; add them to subscribers, or remove them from policy")
        if self.durable and (self.writer is None or self.reader is None):
            raise AtKey("durable",
                        "durable = true is for one-writer, one-reader tunnels (the "
                        "bridge carries no fan-in or pub-sub one); remove it")
        if self.delivery == "datagram" and (self.durable or self.reader is None
                                            or self.writer is None):
            raise AtKey("delivery",
                        "delivery = \"datagram\" is for one-writer, one-reader tunnels "
                        "that are not durable (loss and durability contradict); remove "
                        "one of them")
        if self.max_subscribers is not None and self.max_subscribers < len(subs):
            raise AtKey("max_subscribers",
                        f"max_subscribers = {self.max_subscribers} is fewer than its "
                        f"{len(subs)} subscribers; raise it")
        return self

    def readers(self) -> list[str]:
        """Who holds a read end: the reader, or every subscriber."""
        return [self.reader] if self.reader is not None else list(self.subscribers or [])

    def policies(self) -> dict[str, str]:
        """Each subscriber's policy ("block" unless ``policy`` says "lossy")."""
        return {name: self.policy.get(name, "block") for name in self.subscribers or []}

    def read_by(self) -> str:
        """Who reads it, for ``nanonet check``: the reader, or the subscribers and policies."""
        if self.reader is not None:
            return self.reader
        return "subscribers " + ", ".join(f"{n} ({p})" for n, p in self.policies().items())

    @model_validator(mode="after")
    def _one_size(self) -> TunnelTable:
        if self.max_payload is not None and self.slot_size is not None:
            raise AtKey("slot_size",
                        "sets both max_payload and slot_size; keep one of them "
                        f"(slot_size is max_payload + {SLOT_HEADER}, rounded up to 8)")
        try:
            self.geometry()
        except ValueError as err:
            raise ValueError(f"{err}; use fewer slots or smaller ones") from None
        return self

    def geometry(self) -> Geometry:
        """The ring's shape; ``max_payload`` defaults to 248 bytes."""
        if self.slot_size is not None:
            return Geometry(self.slots, self.slot_size)
        return Geometry.for_payload(self.slots, self.max_payload or DEFAULT_MAX_PAYLOAD)


class PortTable(Table):
    """A request/reply port: its server, its callers, its sizes (docs/manifest.md)."""

    server: ServiceName
    clients: list[ServiceName] = []  # may call it (as may a service with calls = [it])
    max_payload: int = Field(default=256, ge=1, le=1 << 16)
    host_clients: int = Field(default=1, ge=0, le=256)


class DirGrant(Table):
    host: Plain = Field(min_length=1)
    guest: str = Field(min_length=1)
    write: bool = False

    @field_validator("guest")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"must be an absolute guest path (got {v!r}); write '/{v}'")
        return _c_string(v)


class GrantsTable(Table):
    clock: bool = False
    random: bool = False
    stdout: bool = False
    stderr: bool = False
    network: bool = False
    args: list[CString] = []
    env: dict[str, CString] = {}
    dirs: list[DirGrant] = []
    raw: list[Plain] = []

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            _rule(env_name_problem(name), name)
        return v


class LimitsTable(Table):
    fuel_per_tick: int | None = Field(default=None, ge=1, le=BIG)
    deadline_ms: int | None = Field(default=None, ge=1, le=1 << 40)
    memory_mb: int | None = Field(default=None, ge=1, le=1 << 26)
    memory_bytes: int | None = Field(default=None, ge=1, le=1 << 46)
    instances: int | None = Field(default=None, ge=1, le=1 << 20)

    @model_validator(mode="after")
    def _one_memory(self) -> LimitsTable:
        if self.memory_mb is not None and self.memory_bytes is not None:
            raise AtKey("memory_bytes", "sets both memory_mb and memory_bytes; keep one of them")
        return self

    @property
    def memory(self) -> int | None:
        """The memory cap in bytes, from whichever key set it."""
        return self.memory_bytes if self.memory_mb is None else self.memory_mb << 20


class RestartTable(Table):
    policy: Literal["never", "on-failure"] = "never"
    max_restarts: int = Field(default=5, ge=0, le=1 << 20)
    initial_ms: float = Field(default=10.0, ge=0, le=1e9)
    factor: float = Field(default=2.0, ge=1, le=1e3)
    max_ms: float = Field(default=1000.0, ge=0, le=1e9)
    window_s: float = Field(default=60.0, gt=0, le=1e9)
    healthy_s: float = Field(default=10.0, ge=0, le=1e9)
    dead_letter_after: int | None = Field(default=None, ge=1, le=1 << 20)
    dead_letter: TunnelName | None = None

    @model_validator(mode="after")
    def _dead_letter_needs_a_count(self) -> RestartTable:
        if self.dead_letter is not None and self.dead_letter_after is None:
            raise AtKey("dead_letter",
                        f"dead_letter = {self.dead_letter!r} needs dead_letter_after "
                        "(after how many redeliveries that trapped); set it")
        return self


IMPORT_TARGETS = ("tunnel:", "service:", "component:")
BUILT_SOURCES = (".c", ".rs")  # sources nanonet compiles itself: zig cc, rustc


class ServiceTable(Table):
    component: Plain | None = Field(default=None, min_length=1)
    imports: dict[str, str] = {}
    wasi: bool = False
    wit: Plain | None = Field(default=None, min_length=1)
    world: Plain | None = Field(default=None, min_length=1)
    wasm: Plain | None = Field(default=None, min_length=1)
    source: Plain | None = Field(default=None, min_length=1)
    build: list[Plain] | None = Field(default=None, min_length=1)
    build_timeout: float | None = Field(default=None, gt=0, le=86400)
    memory: Literal["import", "export"] | None = None
    entry: Plain | None = Field(default=None, min_length=1)
    exports: list[Plain] = []
    names: dict[str, str] = {}  # the guest's tunnel names -> the mesh's (namecheck.py)
    calls: list[Plain] = []  # the ports it calls ([ports.NAME])
    grants: GrantsTable = Field(default_factory=GrantsTable)
    limits: LimitsTable = Field(default_factory=LimitsTable)
    restart: RestartTable = Field(default_factory=RestartTable)
    node: TunnelName | None = None  # the node that runs it (docs/bridge.md); none: the main one

    @field_validator("imports")
    @classmethod
    def _targets(cls, v: dict[str, str]) -> dict[str, str]:
        for name, target in v.items():
            kind, _, what = target.partition(":")
            if f"{kind}:" not in IMPORT_TARGETS or not what:
                raise ValueError(f"{name} = {target!r} names nothing nanonet can wire; write "
                                 "\"tunnel:NAME\" (a tunnel it writes), \"service:NAME\" "
                                 "(a component service's exports) or \"component:NAME\" "
                                 "(that component's export, composed in)")
        return v

    @model_validator(mode="after")
    def _code(self) -> ServiceTable:
        if self.component is not None:
            return self._component()
        if self.imports or self.wasi or self.wit or self.world:
            raise ValueError("imports, wasi, wit and world apply only to component = "
                             "\"x.wasm\" (or \"x.py\"); remove them, or set component")
        if self.build is not None:
            if self.wasm is None:
                raise ValueError("has a build command but no wasm; set wasm = \"the .wasm "
                                 "it produces\"")
        elif (self.wasm is None) == (self.source is None):
            raise ValueError("needs exactly one of wasm = \"x.wasm\" or source = \"x.c\" "
                             "(or \"x.rs\", \"x.wat\"); set one")
        elif self.source is not None and not self.source.endswith((*BUILT_SOURCES, ".wat")):
            raise ValueError(f"source {self.source!r} is not .c, .rs or .wat; add a build "
                             "command and wasm, or point source at a .c, .rs or .wat file")
        if self.build is None and self.build_timeout is not None:
            raise AtKey("build_timeout",
                        "build_timeout applies only to a build command; remove it, or "
                        "add build = [...]")
        built = self.build is None and (self.source or "").endswith(BUILT_SOURCES)
        if not built and (self.memory is not None or self.exports):
            raise ValueError("memory and exports apply only to source = \"x.c\" or "
                             "\"x.rs\" built by nanonet; remove them")
        return self


    def _component(self) -> ServiceTable:
        core = [k for k in ("wasm", "source", "build", "build_timeout", "memory", "entry")
                if getattr(self, k) is not None]
        core += [k for k in ("exports", "names") if getattr(self, k)]
        core += [k for k in ("limits", "restart")
                 if getattr(self, k) != type(getattr(self, k))()]
        if core:
            raise ValueError(f"is a component, so {', '.join(core)} "
                             f"{'does' if len(core) == 1 else 'do'} not apply; remove "
                             f"{'it' if len(core) == 1 else 'them'}")
        py = self.component is not None and self.component.endswith((".py", ".js", ".c"))
        if py and (self.wit is None or self.world is None):
            raise ValueError("a Python, JavaScript or C component needs wit (\"auth\", "
                             "\"tunnel\", \"http\" or a folder) and world; set both (a "
                             "Python one without wasi = true is built with WASI stubbed out)")
        if not py and (self.wit is not None or self.world is not None):
            raise ValueError("wit and world apply only to a component built by nanonet "
                             "(component = \"x.py\", \"x.js\" or \"x.c\"); remove them")
        if self.grants.network or self.grants.raw:
            raise ValueError("a component is given no network and no raw tunnel access; "
                             "remove grants.network and grants.raw")
        if not self.wasi and self.grants != GrantsTable():
            raise ValueError("a component's grants make its WASI context, so they need "
                             "wasi = true; set it, or remove the grants")
        return self


WEB_LISTEN = "127.0.0.1:8765"  # where the tabs' page is served without [web] listen


class WebTable(Table):
    """Browser tabs as nodes (docs/browser.md): where the page is served,
    which nodes are tabs, and what each tab's guests are configured with."""

    listen: Plain | None = Field(default=None, min_length=3)  # HOST:PORT; --web overrides
    browsers: list[TunnelName] = []  # nodes (a service's node = ...) that are browser tabs
    configure: dict[str, list[int]] = {}  # service -> its configure(...) arguments
    token_ttl: float = Field(default=3600.0, gt=0, le=30 * 86400)  # seconds
    # seconds a tab that left has to rejoin with its token and resume (0: none)
    lease: float = Field(default=10.0, ge=0, le=86400)
    # how tabs bridge their tunnels: WebTransport where the browser offers it,
    # else WebSocket ("auto"); or only one of them
    transport: Literal["auto", "websocket", "webtransport"] = "auto"
    share: bool = False  # also print the URL of each [[http]] route (as --share does)


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def listen_address(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` as (host, port); ValueError naming the form otherwise."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. \"127.0.0.1:8080\"; port 0 "
                         "takes any free one)")
    return host.strip("[]"), int(port)


class IngressTable(Table):
    """Where the HTTP ingress listens, and its limits (docs/http.md)."""

    listen: str = "127.0.0.1:8080"
    max_header_bytes: int = Field(default=8192, ge=256, le=65536)
    max_body_bytes: int = Field(default=65536, ge=0, le=1 << 32)  # past 1 MiB: stream routes

    @field_validator("listen")
    @classmethod
    def _address(cls, v: str) -> str:
        listen_address(v)
        return v


class HttpRouteTable(Table):
    """One ``[[http]]`` route: a path (exact, or a prefix ending in ``*``) to a port, or
    to a component service exporting ``nanonet:http/handler`` (``service``)."""

    route: str = Field(min_length=1, max_length=1024)
    port: TunnelName | None = None
    service: ServiceName | None = None  # a component: one handle call per request
    methods: list[HttpMethod] | None = Field(default=None, min_length=1)
    timeout_ms: int = Field(default=5000, ge=1, le=3_600_000)  # per port call on a stream route
    stream: bool = False  # bodies over max_payload cross in parts (docs/http.md)

    @field_validator("route")
    @classmethod
    def _pattern(cls, v: str) -> str:
        if not v.startswith("/") or "*" in v[:-1] or "?" in v:
            raise ValueError(f"{v!r} is not a route; write a path starting with / (\"/health"
                             "\": that path only) or a prefix ending in * (\"/api/*\"), "
                             "with no ? and no * elsewhere")
        if any(c <= " " or c > "~" for c in v):
            raise ValueError(f"{v!r} holds a space or a character outside printable ASCII; "
                             "percent-encode it as clients send it")
        return v

    @model_validator(mode="after")
    def _target(self) -> HttpRouteTable:
        if (self.port is None) == (self.service is None):
            raise ValueError("needs exactly one of port = \"NAME\" (a request/reply port) "
                             "or service = \"NAME\" (a component exporting "
                             "nanonet:http/handler); set one")
        if self.service is not None and self.stream:
            raise AtKey("stream", "a component route takes whole requests (one record "
                        "each); remove stream = true, or route to a port")
        return self

    @property
    def target(self) -> str:
        """The port or component service the route calls."""
        return self.port or self.service or ""


class ManifestTable(Table):
    mesh: MeshTable = MeshTable()
    web: WebTable | None = None
    tunnels: dict[TunnelName, TunnelTable] = {}
    ports: dict[TunnelName, PortTable] = {}
    services: dict[ServiceName, ServiceTable] = {}
    ingress: IngressTable | None = None  # the HTTP ingress's address and limits (docs/http.md)
    http: list[HttpRouteTable] = []  # [[http]] routes onto ports


def json_schema() -> dict[str, object]:
    """The JSON Schema of ``nanonet.toml`` (``nanonet schema``), for editors
    that complete and check TOML against one (Taplo's ``#:schema`` directive).
    It says what each table accepts; checks across tables stay ``nanonet check``'s."""
    out: dict[str, object] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    out.update(ManifestTable.model_json_schema())
    out["title"] = "nanonet.toml"
    out["description"] = ("A nanonet manifest: a mesh's tunnels and services (docs/manifest.md). "
                          "`nanonet check` also checks what spans tables and files.")
    return out
