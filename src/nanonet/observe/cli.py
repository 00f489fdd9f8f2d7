"""``nanonet top``, ``tap``, ``replay`` and ``inspect``: a running mesh, from outside.

All four talk to the mesh's control endpoint (``Observer.serve``), found via
``--connect HOST:PORT`` or the control file the mesh left (``--mesh NAME``
when several are running); tap and replay change the mesh, so they send its
token (and so does inspect, which reads message bytes).
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
from . import inspectcli, tapcli
from .client import Endpoint
from .pcapng import PcapngError, replay_messages
from .top import live_top, snapshot_json


def _endpoint(args: argparse.Namespace) -> Endpoint:
    return Endpoint(args.connect, args.token,
                    Path(args.control_file) if args.control_file else None, args.mesh)


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
    except urllib.error.URLError as err:
        print(f"{args.command}: {_unreachable(err)}", file=sys.stderr)
    except (http.client.HTTPException, OSError, ValueError) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
    return 1


def _unreachable(err: urllib.error.URLError) -> str:
    """Why the endpoint did not answer, in words: a refused connection means the mesh is gone."""
    reason = err.reason
    if isinstance(reason, ConnectionRefusedError):
        return ("the mesh's control endpoint refused the connection: the mesh has stopped "
                "(or --connect names the wrong port); start it with 'nanonet run MANIFEST "
                "--dashboard'")
    said = getattr(reason, "strerror", None) or reason
    return f"cannot reach the mesh's control endpoint: {said}"


def _top(args: argparse.Namespace) -> int:
    """The keyed view on a terminal; a fixed number of frames (or no terminal): rich's."""
    ep = _endpoint(args)
    if args.json:
        print(snapshot_json(ep.snapshot()))
        return 0
    frames = 1 if args.once else args.frames
    if frames is None and sys.stdin.isatty() and sys.stdout.isatty():
        from .toptui import run_app  # textual only for the interactive view

        run_app(ep.snapshot, source=ep.url, url=ep.url, token=ep.token,
                tap_dir=Path(args.tap_dir) if args.tap_dir else None)
        return 0
    live_top(ep.snapshot, ep.url, frames=frames)
    return 0


def _tap(args: argparse.Namespace) -> int:
    if args.dissector:  # no mesh needed
        print(tapcli.dissector_path())
        return 0
    return tapcli.run(args, _endpoint(args))


def _checked_tap(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    wrong = tapcli.usage_error(args)
    if wrong is not None:
        parser.error(wrong)  # exit code 2, as for argparse's own checks
    return _guarded(_tap, args)


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


def _checked_inspect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    wrong = inspectcli.usage_error(args)
    if wrong is not None:
        parser.error(wrong)
    return _guarded(lambda a: inspectcli.run(a, _endpoint(a)), args)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connect", metavar="HOST:PORT", help="the mesh's control endpoint")
    p.add_argument("--token", help="the endpoint's token (default: from the control file)")
    p.add_argument("--mesh", metavar="NAME",
                   help="which running mesh, when several are (nanonet run --name NAME)")
    p.add_argument("--control-file", metavar="PATH",
                   help="where the server wrote its URL and token")


def register(sub: Any) -> None:
    p = sub.add_parser("top", help="a live view of a running mesh's services and tunnels")
    _common(p)
    p.add_argument("--frames", type=int, help="redraw this many times, then exit (no keys)")
    p.add_argument("--once", action="store_true", help="draw once and exit (--frames 1)")
    p.add_argument("--json", action="store_true",
                   help="print one snapshot as JSON on stdout and exit (no live view)")
    p.add_argument("--tap-dir", metavar="DIR",
                   help="where the t key writes its captures (default: the current directory)")
    p.set_defaults(func=lambda a: _guarded(_top, a))
    p = sub.add_parser("tap", help="mirror tunnels' messages into a pcapng capture",
                       description="Every message (or every Nth, or one stream's) that passes "
                       "the TUNNELs from now on, written as pcapng (Wireshark, tshark): one "
                       "interface per tunnel, messages in time order, each with its ring "
                       "counter as packet id. A lossless tap holds the writers back to its own "
                       "pace while it runs. Wireshark names the fields with the dissector "
                       "--dissector prints the path of.")
    tapcli.add_arguments(p)
    _common(p)
    p.set_defaults(func=lambda a, p=p: _checked_tap(p, a))
    p = sub.add_parser("replay", help="send the messages of a pcapng capture into a tunnel")
    p.add_argument("file", metavar="CAPTURE.pcapng")
    p.add_argument("--into", required=True, metavar="TUNNEL")
    _common(p)
    p.set_defaults(func=lambda a: _guarded(_replay, a))
    p = sub.add_parser("inspect", help="a tunnel's recent messages; send one again, edited",
                       description="The messages the running mesh's inspector saw on TUNNEL "
                       "(sequence number, time, length, hex and text): it looks while anyone "
                       "asks, without ever holding the writer back, so it sees what waits in "
                       "the ring and samples the rest. --send SEQ sends one of them into "
                       "TUNNEL again (--edit HEX or --text TEXT first), through the host's "
                       "write end: run the mesh with --feed TUNNEL.")
    inspectcli.add_arguments(p)
    _common(p)
    p.set_defaults(func=lambda a, p=p: _checked_inspect(p, a))
