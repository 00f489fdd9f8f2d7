"""The first connection to NATS, with a deadline and an error that names the fix.

nats-py told to reconnect for ever (what a bridge wants once it is connected:
a server restart or a cluster failover must not end a node) also retries its
first connection for ever, and hands each failure only to an error callback.
A node pointed at a wrong URL, or refused by the server's authentication or
TLS, then hangs with nothing said. So the first connection here has its own
deadline: a refusal by the server (wrong or missing token or credentials, a
certificate that does not verify) ends it at once with ``BridgeRefused``, and
no answer within ``CONNECT_WAIT`` ends it with ``BridgeUnreachable``; each
names the URL and the option that fixes it. After that first connection
nats-py reconnects for ever, as before.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any

from ..errors import BridgeRefused, BridgeUnreachable, InvalidValue, MissingTool

if TYPE_CHECKING:
    from .nats import NatsOptions

log = logging.getLogger(__name__)
CONNECT_WAIT = 10.0  # seconds the first connection may take (a server still starting)


def _options(opts: NatsOptions) -> dict[str, Any]:
    """nats-py's keyword arguments for ``opts``: reconnect for ever, every 0.1 s."""
    kwargs: dict[str, Any] = {
        "servers": opts.url.split(","), "allow_reconnect": True, "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.1, "connect_timeout": 2, "ping_interval": 2,
        "max_outstanding_pings": 2, "name": "nanonet-bridge",
    }
    if opts.token:
        kwargs["token"] = opts.token
    if opts.credentials:
        kwargs["user_credentials"] = str(opts.credentials)
    if opts.nkey:
        kwargs["nkeys_seed"] = str(opts.nkey)
    if (ctx := opts.tls()) is not None:
        kwargs["tls"] = ctx
    return kwargs


def check_login_files(opts: NatsOptions) -> None:
    """A credentials or seed file that cannot be read is the user's to fix,
    said before connecting (nats-py would report it as a failed connection)."""
    for flag, path in (("--nats-creds", opts.credentials), ("--nats-nkey", opts.nkey)):
        if path is None:
            continue
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidValue(f"{flag} {str(path)!r}: {err}; give a readable file") from None
        if flag == "--nats-nkey" and not text.strip().startswith("SU"):
            raise InvalidValue(f"{flag} {str(path)!r} holds no NKey user seed (a line "
                               "starting with 'SU'): give the seed of the user the NATS "
                               "server lists by its public key ('U...')")


def refusal(opts: NatsOptions, err: BaseException) -> BridgeRefused | None:
    """The error a refused first connection raises, or None if ``err`` is not
    a refusal (the server may just not be up yet)."""
    text = str(err)
    if "authorization" in text.lower() or "authentication" in text.lower():
        how = ("give --nats-creds a credentials file it accepts" if opts.credentials
               else "give --nats-nkey the seed of a user it lists" if opts.nkey
               else "give --nats-token the token it accepts" if opts.token
               else "it asks for a login: pass --nats-token, --nats-creds or --nats-nkey")
        return BridgeRefused(f"the NATS server at {opts.url} refused this node's login "
                             f"({text}): {how}")
    if isinstance(err, ssl.SSLError):
        return BridgeRefused(f"TLS with the NATS server at {opts.url} failed ({err}): give "
                             f"--tls-ca the CA that signed its certificate (and --tls-cert/"
                             f"--tls-key if it asks for a client certificate)")
    return None


async def _close(nc: Any) -> None:
    """Close a client whose first connection failed: nats-py refuses to close
    one that never got as far as a connection attempt (an assertion)."""
    try:
        await nc.close()
    except AssertionError:
        log.debug("nats: closed a client that never connected")


def unreachable(opts: NatsOptions, err: BaseException | None, wait: float) -> BridgeUnreachable:
    why = f" (last: {err})" if err is not None else ""
    return BridgeUnreachable(
        f"no NATS server answered at {opts.url} within {wait:g} s{why}: start one there, or "
        f"point --nats at a running one (without --nats, nanonet run starts its own)")


async def connect(opts: NatsOptions, wait: float = CONNECT_WAIT) -> Any:
    """A nats-py client that reconnects for ever, once its first connection
    succeeded within ``wait`` seconds (else ``BridgeRefused`` or
    ``BridgeUnreachable``, naming the fix)."""
    try:
        from nats.aio.client import Client
    except ImportError:
        raise MissingTool("the NATS bridge needs nats-py: pip install 'nanonet[net]'") from None
    check_login_files(opts)
    nc = Client()
    seen: list[BaseException] = []
    refused: asyncio.Future[BridgeRefused] = asyncio.get_running_loop().create_future()

    async def first_errors(err: Exception) -> None:
        log.debug("nats: %s", err)
        if nc.is_connected or refused.done():
            return
        seen.append(err)
        if (why := refusal(opts, err)) is not None:
            refused.set_result(why)

    trying = asyncio.ensure_future(nc.connect(**_options(opts), error_cb=first_errors))
    either: set[asyncio.Future[Any]] = {trying, refused}
    await asyncio.wait(either, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    if trying.done() and trying.exception() is None:
        refused.cancel()
        return nc
    trying.cancel()
    await asyncio.gather(trying, return_exceptions=True)
    await _close(nc)
    if refused.done() and not refused.cancelled():
        raise refused.result()
    last = trying.exception() if not trying.cancelled() else None
    if isinstance(last, ImportError):  # nats-py reads credentials with nkeys
        raise MissingTool(f"NATS credentials ({opts.credentials or opts.nkey}) need the nkeys "
                          "package: pip install 'nats-py[nkeys]'") from last
    raise unreachable(opts, last or (seen[-1] if seen else None), wait)
