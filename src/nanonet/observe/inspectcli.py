"""``nanonet inspect``: a running mesh's recent messages on a tunnel, and replaying one.

    nanonet inspect raw [--last N]              # seq, time, length, hex and text
    nanonet inspect raw --send 1042             # that message, into raw again
    nanonet inspect raw --send 1042 --text hi   # edited: as text, or --edit 6869

The mesh's inspector keeps the recent messages of a tunnel only while someone
asks for them (``inspector.py``), so the first ``inspect`` of a tunnel starts
it: with nothing held yet, it waits ``--wait`` seconds and asks again. A send
goes through the mesh's write path, which needs the host to hold the tunnel's
write end (``nanonet run --feed TUNNEL``); the server's refusal says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidValue
from .client import Endpoint

MAX_HELD = 4096  # what --send asks for: every message the inspector holds


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tunnel", metavar="TUNNEL")
    p.add_argument("--last", type=int, default=20, metavar="N",
                   help="how many of the recent messages to print (default 20)")
    p.add_argument("--wait", type=float, default=1.0, metavar="SECONDS",
                   help="when the inspector holds nothing yet, look again after this long "
                   "(default 1)")
    p.add_argument("--send", type=int, metavar="SEQ",
                   help="send the message with this sequence number into TUNNEL again")
    edit = p.add_mutually_exclusive_group()
    edit.add_argument("--edit", metavar="HEX", help="with --send: send these bytes instead")
    edit.add_argument("--text", metavar="TEXT", help="with --send: send this text instead")


def usage_error(args: argparse.Namespace) -> str | None:
    """What argparse cannot check itself (exit code 2 like its own refusals)."""
    if not 1 <= args.last <= MAX_HELD:
        return f"--last must be 1 to {MAX_HELD}, not {args.last}"
    if args.wait < 0:
        return f"--wait must be 0 or more, not {args.wait:g}"
    if (args.edit is not None or args.text is not None) and args.send is None:
        return "--edit and --text change the message --send SEQ sends: give --send SEQ"
    return None


def line(msg: dict[str, Any], max_bytes: int = 64) -> str:
    """One message: sequence number, time (UTC), length, hex, text."""
    when = datetime.fromtimestamp(msg["time_ns"] / 1e9, UTC).strftime("%H:%M:%S.%f")
    data = bytes.fromhex(msg["hex"])
    more = f" … (+{len(data) - max_bytes} bytes)" if len(data) > max_bytes else ""
    text = data[:max_bytes].decode("utf-8", "replace")
    printable = "".join(c if c.isprintable() else "." for c in text)
    return (f"#{msg['seq']:<8} {when}  {msg['length']:>5} B  {data[:max_bytes].hex(' ')}"
            f"{more}  |{printable}|")


def run(args: argparse.Namespace, ep: Endpoint) -> int:
    if args.send is not None:
        return _send(args, ep)
    answer = ep.recent(args.tunnel, args.last)
    if not answer["messages"] and args.wait > 0:
        time.sleep(args.wait)  # the first look of this tunnel started the inspector
        answer = ep.recent(args.tunnel, args.last)
    for msg in answer["messages"]:
        print(line(msg))
    if not answer["messages"]:
        print(f"inspect: no message seen on {args.tunnel!r} yet (the inspector sees what "
              "waits in the ring; ask again, it keeps looking for a minute)", file=sys.stderr)
    if answer.get("why"):
        print(f"inspect: no sending into {args.tunnel!r}: {answer['why']}", file=sys.stderr)
    return 0


def _send(args: argparse.Namespace, ep: Endpoint) -> int:
    held = ep.recent(args.tunnel, MAX_HELD)["messages"]
    found = [m for m in held if m["seq"] == args.send]
    if not found:
        span = f"#{held[0]['seq']} to #{held[-1]['seq']}" if held else "none yet"
        print(f"inspect: message #{args.send} of {args.tunnel!r} is not among those the "
              f"inspector holds ({span}); list them with 'nanonet inspect {args.tunnel}'",
              file=sys.stderr)
        return 1
    data = edited(bytes.fromhex(found[0]["hex"]), args.edit, args.text)
    ep.send(args.tunnel, data)
    how = "edited, " if args.edit is not None or args.text is not None else ""
    print(f"sent #{args.send} ({how}{len(data)} bytes) into {args.tunnel!r}", file=sys.stderr)
    return 0


def edited(data: bytes, hex_text: str | None, text: str | None) -> bytes:
    """The message as ``--edit`` (hex, spaces allowed) or ``--text`` replaces it."""
    if text is not None:
        return text.encode()
    if hex_text is None:
        return data
    try:
        return bytes.fromhex(hex_text)
    except ValueError:
        raise InvalidValue(f"--edit {hex_text!r} is not hex: write the bytes as pairs of hex "
                           "digits, e.g. 68656c6c6f or '68 65 6c'") from None
