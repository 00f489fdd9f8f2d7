"""``nanonet top``, ``nanonet tap`` and ``nanonet replay``: a running mesh, from outside.

All three talk to the mesh's control endpoint (``Observer.serve``), found via
``--connect HOST:PORT`` or the control file the server wrote; tap and replay
change the mesh, so they send its token.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .client import Endpoint
from .top import live_top


def _endpoint(args: argparse.Namespace) -> Endpoint:
    return Endpoint(args.connect, args.token, Path(args.control_file) if args.control_file
                    else None)


def _guarded(run: Any, args: argparse.Namespace) -> int:
    try:
        return int(run(args))
    except urllib.error.HTTPError as err:
        print(f"{args.command}: the server refused: {err.code} {err.read().decode()}",
              file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
    return 1


def _top(args: argparse.Namespace) -> int:
    ep = _endpoint(args)
    live_top(ep.snapshot, ep.url, frames=args.frames)
    return 0


def _tap(args: argparse.Namespace) -> int:
    query: dict[str, object] = {"tunnel": args.tunnel, "sample": args.sample}
    if args.stream is not None:
        query["stream"] = args.stream
    if args.count is not None:
        query["count"] = args.count
    with open(args.write, "wb") as out:
        size = _endpoint(args).tap(urlencode(query), out)
    print(f"wrote {size:,} bytes of pcapng to {args.write}", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    sent = _endpoint(args).replay(args.into, Path(args.file).read_bytes())
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
