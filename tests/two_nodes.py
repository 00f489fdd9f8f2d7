"""The two-node scene the node tests share (tests/test_bridge_nodes.py and,
durable, tests/test_bridge_durable.py): the producer guest on the default
node writes ``stream`` (1024 slots of 64 bytes) to the checker guest on node
``b``, written as a manifest and its guests into a folder.
"""

from __future__ import annotations

from pathlib import Path

GUESTS = Path(__file__).resolve().parents[1] / "src" / "nanonet" / "guests"
MANIFEST = """
[mesh]
name = "two"

[tunnels.stream]
writer = "producer"
reader = "checker"
slots = 1024
max_payload = 64
{durable}
[services.producer]
source = "producer.wat"

[services.checker]
source = "checker.wat"
node = "b"
"""


def two_nodes(tmp: Path, count: int, durable: bool = False) -> Path:
    """Write the scene into ``tmp`` (the producer writes ``count`` messages;
    ``durable``: the tunnel goes through JetStream); the manifest's path."""
    wat = (GUESTS / "producer.wat").read_text()
    (tmp / "producer.wat").write_text(wat.replace("(i64.const 1000000)", f"(i64.const {count})"))
    (tmp / "checker.wat").write_text((GUESTS / "checker.wat").read_text())
    extra = "durable = true\n" if durable else ""
    (tmp / "nanonet.toml").write_text(MANIFEST.format(durable=extra))
    return tmp / "nanonet.toml"
