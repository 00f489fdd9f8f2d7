"""Decentralised NATS logins for tests: an operator, an account and a user,
each an NKey, and the JWTs that chain them (the operator signs the account,
the account signs the user), in the form nats-server's operator mode and a
``.creds`` file take. What the ``nsc`` tool writes, made here with nkeys so
that a test needs nothing else."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]

UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Key:
    """One NKey: its seed and public key."""

    seed: bytes
    public: str

    @classmethod
    def new(cls, prefix: int) -> Key:
        seed = nkeys.encode_seed(os.urandom(32), prefix)
        return cls(seed, nkeys.from_seed(bytearray(seed)).public_key.decode())

    def sign_jwt(self, subject: str, name: str, nats: dict[str, Any]) -> str:
        """A JWT whose claims ``nats`` this key issues about ``subject``."""
        claims: dict[str, Any] = {"iat": int(time.time()), "iss": self.public, "name": name,
                                  "sub": subject, "nats": {**nats, "version": 2}}
        body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        claims["jti"] = base64.b32encode(hashlib.sha256(body).digest()).decode().rstrip("=")
        head = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        payload = f"{head}.{_b64(json.dumps(claims).encode())}"
        signature = nkeys.from_seed(bytearray(self.seed)).sign(payload.encode())
        return f"{payload}.{_b64(signature)}"


def operator_mode(tmp: Path) -> tuple[Path, Key]:
    """A nats-server config trusting a fresh operator with one account
    (preloaded, memory resolver); returns it and the account's key."""
    operator = Key.new(nkeys.PREFIX_BYTE_OPERATOR)
    account = Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
    op_jwt = operator.sign_jwt(operator.public, "op", {"type": "operator"})
    limits = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1,
              "leaf": -1}
    acct_jwt = operator.sign_jwt(account.public, "acct", {"type": "account", "limits": limits})
    conf = tmp / "operator.conf"
    conf.write_text(f"operator: {op_jwt}\nresolver: MEMORY\n"
                    f"resolver_preload: {{ {account.public}: {acct_jwt} }}\n")
    return conf, account


def user_creds(tmp: Path, account: Key, name: str) -> Path:
    """A ``.creds`` file for a fresh user of ``account``."""
    user = Key.new(nkeys.PREFIX_BYTE_USER)
    jwt = account.sign_jwt(user.public, name, {"type": "user", "pub": {}, "sub": {},
                                                **UNLIMITED})
    path = tmp / f"{name}.creds"
    path.write_text(f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
                    f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n"
                    "------END USER NKEY SEED------\n")
    return path
