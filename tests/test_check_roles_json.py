"""``nanonet check --json`` says each service's part in the messaging patterns: the
ports it serves and calls, and the role of each tunnel it holds (publishes,
subscribes with its policy, fan-in writer and reader, plain reads and writes),
for a manifest that uses them all, loaded for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import GUESTS
from nanonet.cli import main

pytestmark = pytest.mark.timeout(120)
MANIFEST = """\
[ports.rpc]
server = "server"
clients = ["caller"]

[tunnels.news]
slots = 64
max_payload = 64
writer = "feed"
subscribers = ["ledger", "board"]
policy = { board = "lossy" }

[tunnels.in]
slots = 64
max_payload = 56
writers = ["a", "host"]
reader = "merge"

[tunnels.out]
writer = "merge"
reader = "host"

[services.server]
source = "port_server.wat"
[services.caller]
source = "port_client.wat"
[services.feed]
source = "producer.wat"
[services.ledger]
source = "checker.wat"
[services.board]
source = "checker.wat"
[services.a]
source = "tagged_sender.wat"
[services.merge]
source = "batch_relay.wat"
"""


def test_check_json_lists_each_services_ports_and_tunnel_roles(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("port_server", "port_client", "producer", "checker", "tagged_sender",
                 "batch_relay"):
        shutil.copy(GUESTS / f"{name}.wat", tmp_path / f"{name}.wat")
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    code = main(["check", "--json", str(tmp_path / "nanonet.toml")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"], doc["errors"]
    roles = doc["roles"]
    assert roles["server"]["ports"] == {"serves": ["rpc"], "calls": []}
    assert roles["caller"]["ports"] == {"serves": [], "calls": ["rpc"]}
    assert roles["feed"]["tunnels"] == [{"tunnel": "news", "role": "publishes"}]
    assert roles["ledger"]["tunnels"] == [{"tunnel": "news", "role": "subscribes",
                                           "policy": "block"}]
    assert roles["board"]["tunnels"] == [{"tunnel": "news", "role": "subscribes",
                                          "policy": "lossy"}]
    assert roles["a"]["tunnels"] == [{"tunnel": "in", "role": "fan_in_writer"}]
    assert roles["merge"]["tunnels"] == [{"tunnel": "in", "role": "fan_in_reader"},
                                         {"tunnel": "out", "role": "writes"}]
    assert set(roles) == set(doc["services"])
