"""The auth component of the composed example (world ``auth-component``):
the same checks as ``guest_py/auth.py``, exported as the ``authenticator``
interface so that the router component can be composed with it. Built with
``--stub-wasi``: it imports no WASI at all, only ``access-logs``."""

import hashlib
import hmac
import warnings  # noqa: F401 - hmac imports it lazily; bundle it into the component

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import access_logs, types

KEY = b"nanonet-example-key"


def sign(user_id: int, role: str) -> str:
    body = f"{user_id}.{role}".encode()
    return hmac.new(KEY, body, hashlib.sha256).hexdigest()[:16]


class Authenticator(exports.Authenticator):
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
