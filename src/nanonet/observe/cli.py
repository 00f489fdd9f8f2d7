"""``nanonet top``, ``nanonet tap`` and ``nanonet replay``: a running mesh, from outside.

All three talk to the mesh's control endpoint (``Observer.serve``), found via
``--connect HOST:PORT`` or the control file the server wrote; tap and replay
change the mesh, so they send its token.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import urllib.error
from pathlib import Path
from typing import Any

from ..errors import NanonetError
from .client import Endpoint
from .pcapng import PcapngError, replay_messages
from .top import live_top, snapshot_json


def _endpoint(args: argparse.Namespace) -> Endpoint:
    return Endpoint(args.connect, args.token, Path(args.control_file) if args.control_file
                    else None)


def _refusal(err: urllib.error.HTTPError) -> str:
    """The server's own words: the ``error`` of its JSON answer, else the raw body."""
    body = err.read().decode("utf-8", "replace")
    err.close()
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return f"the server refused: {err.code} {body.strip()}"


def _guarded(run: Any, args: argparse.Namespace) -> int:
    try:
        return int(run(args))
    except urllib.error.HTTPError as err:
        print(f"{args.command}: {_refusal(err)}", file=sys.stderr)
    except NanonetError:
        raise  # the top-level handler prints it with its code
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
    return 1


def _top(args: argparse.Namespace) -> int:
    ep = _endpoint(args)
    if args.json:
        print(snapshot_json(ep.snapshot()))
        return 0
    live_top(ep.snapshot, ep.url, frames=args.frames)
    return 0


def _tap(args: argparse.Namespace) -> int:
    query: dict[str, object] = {"tunnel": args.tunnel, "sample": args.sample}
    if args.stream is not None:
        query["stream"] = args.stream
    if args.count is not None:
        query["count"] = args.count
    ep, path = _endpoint(args), Path(args.write)
    try:
        with open(path, "wb") as out:
            size = ep.tap(query, out)
    except BaseException:
        if path.exists() and path.stat().st_size == 0:
            path.unlink()  # refused before the first byte: leave no empty capture behind
        raise
    print(f"wrote {size:,} bytes of pcapng to {args.write}", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    data = Path(args.file).read_bytes()
    try:
        count = len(replay_messages(io.BytesIO(data)))  # refused here, before the network
    except PcapngError as err:
        raise PcapngError(f"{args.file}: {err}") from None
    sent = _endpoint(args).replay(args.into, data) if count else 0
    if not sent:
        print(f"replay: {args.file} holds no packets: nothing was sent into {args.into!r}",
              file=sys.stderr)
        return 1
    print(f"sent {sent:,} messages into {args.into!r}", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connect", metavar="HOST:PORT", help="the mesh's control endpoint")
    p.add_argument("--token", help="the endpoint's token (default: from the control file)")
    p.add_argument("--control-file", metavar="PATH",
                   help="where the server wrote its URL and token")


def register(sub: Any) -> None:
    p = sub.add_parser("top", help="a live view of a running mesh's services and tunnels")
    _common(p)
    p.add_argument("--frames", type=int, help="redraw this many times, then exit")
    p.add_argument("--json", action="store_true",
                   help="print one snapshot as JSON on stdout and exit (no live view)")
    p.set_defaults(func=lambda a: _guarded(_top, a))
    p = sub.add_parser("tap", help="mirror a tunnel's messages into a pcapng file",
                       description="Every message (or every Nth, or one stream's) that passes "
                       "TUNNEL from now on, written as pcapng (Wireshark, tshark). A lossless "
                       "tap holds the writer back to its own pace while it runs.")
    p.add_argument("tunnel")
    p.add_argument("-w", "--write", required=True, metavar="OUT.pcapng")
    p.add_argument("--sample", type=int, default=1, metavar="N", help="keep one message in N")
    p.add_argument("--stream", type=int, metavar="ID",
                   help="keep messages whose first 4 bytes are this u32 (little-endian)")
    p.add_argument("--count", type=int, metavar="N", help="stop after N messages kept")
    _common(p)
    p.set_defaults(func=lambda a: _guarded(_tap, a))
    p = sub.add_parser("replay", help="send the messages of a pcapng capture into a tunnel")
    p.add_argument("file", metavar="CAPTURE.pcapng")
    p.add_argument("--into", required=True, metavar="TUNNEL")
    _common(p)
    p.set_defaults(func=lambda a: _guarded(_replay, a))
