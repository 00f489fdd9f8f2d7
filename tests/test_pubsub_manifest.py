"""Pub-sub tunnels in the manifest: `subscribers`, `policy`, `max_subscribers`,
what `nanonet check` says about them, and the mesh built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

import nanonet
from conftest import call
from nanonet.bench.wasm_runs import guest as bundled
from nanonet.errors import ManifestError
from nanonet.manifest.reach import describe
from nanonet.ring import layout as L

MANIFEST = f"""
[tunnels.stream]
slots = 64
max_payload = 64
writer = "feed"
subscribers = ["ledger", "audit", "board"]
policy = {{ board = "lossy" }}
max_subscribers = 6

[services.feed]
wasm = "{bundled('producer.wat')}"

[services.ledger]
wasm = "{bundled('checker.wat')}"

[services.audit]
wasm = "{bundled('checker.wat')}"

[services.board]
wasm = "{bundled('checker.wat')}"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nanonet.toml"
    path.write_text(text)
    return path


def test_check_names_each_subscriber_and_its_policy(tmp_path: Path) -> None:
    text = "\n".join(describe(nanonet.load_manifest(_write(tmp_path, MANIFEST))))
    assert "writes stream (64 slots × 64 bytes) to subscribers ledger (block), audit (block), " \
           "board (lossy)" in text
    assert "reads stream (64 slots × 64 bytes) from feed, as a lossy subscriber" in text
    assert "reads stream (64 slots × 64 bytes) from feed, as a blocking subscriber" in text


@pytest.mark.timeout(60)
def test_the_mesh_has_a_pubsub_ring_with_each_subscriber_on_its_line(tmp_path: Path) -> None:
    m = nanonet.load_manifest(_write(tmp_path, MANIFEST))
    with m.build_mesh() as mesh:
        t = mesh.tunnels["stream"]
        assert t.ring.u32(L.OFF_VERSION) == L.VERSION_PUBSUB and t.geometry.subscribers == 6
        assert t.lines is not None
        assert sorted(t.lines.holders.values()) == [("audit", "block"), ("board", "lossy"),
                                                    ("ledger", "block")]
        call(mesh.services["feed"], "configure", 20_000, 64)
        for name in ("ledger", "audit", "board"):
            call(mesh.services[name], "configure", 64)
        mesh.start()
        assert mesh.wait(30)
        assert [mesh.services[n].exit_code for n in ("feed", "ledger", "audit")] == [0, 0, 0]
        # the lossy checker fails on its first gap (-1000) or sees all: never stalls the rest
        assert mesh.services["board"].exit_code in (0, -1000)


@pytest.mark.parametrize(("change", "said"), [
    ('policy = { board = "lossy" }', 'policy = { nobody = "lossy" }'),
    ('max_subscribers = 6', 'max_subscribers = 2'),
    ('writer = "feed"', 'writer = "feed"\nreader = "ledger"'),
    ('policy = { board = "lossy" }', 'policy = { board = "sometimes" }'),
], ids=["unknown-subscriber", "too-few-lines", "reader-and-subscribers", "bad-policy"])
def test_bad_pubsub_keys_are_refused_at_their_table(tmp_path: Path, change: str,
                                                    said: str) -> None:
    with pytest.raises(ManifestError, match=r"tunnels\.stream"):
        nanonet.load_manifest(_write(tmp_path, MANIFEST.replace(change, said)))


def test_the_host_cannot_be_a_declared_subscriber(tmp_path: Path) -> None:
    text = MANIFEST.replace('subscribers = ["ledger",', 'subscribers = ["host", "ledger",')
    text = text.replace("max_subscribers = 6", "max_subscribers = 8")
    with pytest.raises(ManifestError, match="host subscribes at run time"):
        nanonet.load_manifest(_write(tmp_path, text))
