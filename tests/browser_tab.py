"""What the browser tests share: Chromium or a skip, the producer-in-a-tab
manifest, a started web host over a manifest's browser part, a host reader
that cuts the tab's link while the stream flows, and the client side of the
tokens: a tab's token, and the next frames a WebSocket brings.

The tab is opened with ``nanonet.bench.chromium.open_tab`` (the benches use
it too). ``TAB_PRODUCER`` places the producer guest on the browser node
``tab``, writing ``out`` (64 slots of 64 bytes) to a host reader.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection

from nanonet.bench.chromium import CHROMIUM
from nanonet.bridge import frames as F
from nanonet.bridge.node import part
from nanonet.bridge.webhost import WebHost
from nanonet.bridge.weblease import LEASE
from nanonet.bridge.webplan import tab_service, with_tab_ports
from nanonet.bridge.webtoken import Grant, mint
from nanonet.errors import TunnelClosed
from nanonet.manifest.manifest import load_manifest

PRODUCER = Path(__file__).resolve().parent / "guests" / "producer.wat"
TAB_PRODUCER = f"""
[web]
browsers = ["tab"]

[tunnels.out]
writer = "producer"
reader = "host"
slots = 64
max_payload = 64

[services.producer]
source = "{PRODUCER}"
node = "tab"
"""


def need_chromium() -> None:
    """Skip the test unless Debian's Chromium and Playwright are installed."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    pytest.importorskip("playwright.sync_api")


@contextmanager
def tab_host(tmp_path: Path, manifest: str, configure: dict[str, list[int]],
             writers_of: dict[str, str], readers_of: dict[str, str] | None = None,
             transport: str = "auto", start: bool = True,
             servers_of: dict[str, str] | None = None,
             lease: float = LEASE, listen: str = "127.0.0.1") -> Iterator[WebHost]:
    """A started ``WebHost`` on ``listen`` (127.0.0.1) for ``manifest`` (written into
    ``tmp_path``): the host's part of its mesh (with the ports of
    ``servers_of``, port -> the tab's service that serves it), and a plan for
    each browser service in ``configure`` (with its configure arguments),
    holding a tab's tunnels for ``lease`` seconds after it leaves; the mesh
    itself started too if ``start``. Everything stops when the block ends."""
    (tmp_path / "nanonet.toml").write_text(manifest)
    m = load_manifest(tmp_path / "nanonet.toml")
    mesh = with_tab_ports(part(m, None).manifest, m, servers_of or {}).build_mesh()
    plans = {s: tab_service(m, s, args) for s, args in configure.items()}
    host = WebHost(mesh, secrets.token_bytes(32), plans, writers_of, transport=transport,
                   readers_of=readers_of or {}, servers_of=servers_of or {},
                   lease=lease, host=listen).start()
    try:
        if start:
            mesh.start()
        yield host
    finally:
        host.stop()
        mesh.stop()
        mesh.close()


def read_cutting(web: WebHost, count: int, cut_at: list[int], seconds: float) -> list[int]:
    """Every sequence number the host reads from ``out`` until the tab closes
    it, cutting the link (``WebHost.drop``) at each count in ``cut_at``;
    an AssertionError if the stream has not ended within ``seconds``."""
    reader, seqs = web.mesh.reader("out"), list[int]()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            batch = reader.recv_many(4096, timeout=10)
        except TunnelClosed:
            return seqs
        seqs += [int.from_bytes(m[:8], "little") for m in batch]
        while cut_at and len(seqs) >= cut_at[0]:
            assert web.drop("out")
            cut_at.pop(0)
    raise AssertionError(f"the stream did not end: {len(seqs)} of {count} arrived")


def tab_token(web: WebHost, services: tuple[str, ...], ttl: float = 60.0) -> str:
    """A token for the browser node ``tab`` granting ``services``, signed with
    ``web``'s secret, valid for ``ttl`` seconds (negative: already expired)."""
    return mint(web.secret, Grant("tab", services, time.time() + ttl))


def next_frames(ws: ClientConnection) -> list[F.Frame]:
    """The frames of the next message on ``ws`` (binary, within 10 s)."""
    msg = ws.recv(timeout=10)
    assert isinstance(msg, bytes), msg
    return F.FrameDecoder().feed(msg)
