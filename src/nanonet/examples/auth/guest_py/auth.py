"""The auth service as a Python component (componentize-py).

A token is ``<user-id>.<role>.<signature>``, the signature being the first 16
hex digits of HMAC-SHA256 over ``<user-id>.<role>`` with the example's key.
Every attempt, good or bad, goes to the access log, the component's only
capability.
"""

import hashlib
import hmac
import warnings  # noqa: F401 - hmac imports it lazily; bundle it into the component

import wit_world
from componentize_py_types import Err
from wit_world.imports import access_logs, types

KEY = b"nanonet-example-key"


def sign(user_id: int, role: str) -> str:
    body = f"{user_id}.{role}".encode()
    return hmac.new(KEY, body, hashlib.sha256).hexdigest()[:16]


class WitWorld(wit_world.WitWorld):
    def authenticate(self, jwt: str) -> types.Principal:
        parts = jwt.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            access_logs.log_attempt(0, "malformed")
            raise Err("malformed token")
        user_id, role, sig = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(sig, sign(user_id, role)):
            access_logs.log_attempt(user_id, "bad signature")
            raise Err("bad signature")
        access_logs.log_attempt(user_id, "ok")
        return types.Principal(user_id, role)
