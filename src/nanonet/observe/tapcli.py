"""``nanonet tap``: mirror tunnels of a running mesh into a pcapng capture.

Everything that can be checked here is checked before the server is asked
(counts and samples are positive, a stream id is a u32, the output's folder
exists), and the output is created only once the server accepted the tap and
its first bytes arrived: a refused tap leaves no file, and never truncates
one that was there. ``-w -`` is the standard output, as for tcpdump and
tshark. ``--dissector`` prints where the Wireshark dissector for the
capture's link type is (``nanonet.lua``, shipped beside this module).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from .client import Endpoint, copy_stream

STDOUT = "-"


def dissector_path() -> Path:
    """The Lua dissector for link type 147 (USER0) that names a capture's fields."""
    return Path(str(resources.files("nanonet.observe") / "nanonet.lua"))


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def stream_id(text: str) -> int:
    """An argparse type: a u32, the first 4 bytes of a message (little-endian)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"must be a u32 (0 to 4294967295), not {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tunnel", nargs="*", metavar="TUNNEL",
                   help="one or more tunnels (one interface each)")
    p.add_argument("-w", "--write", metavar="OUT.pcapng",
                   help="the capture to write; - for the standard output")
    p.add_argument("--sample", type=positive, default=1, metavar="N",
                   help="keep one message in N (by ring counter)")
    p.add_argument("--stream", type=stream_id, metavar="ID",
                   help="keep messages whose first 4 bytes are this u32 (little-endian)")
    p.add_argument("--count", type=positive, metavar="N", help="stop after N messages kept")
    p.add_argument("--dissector", action="store_true",
                   help="print the path of the Wireshark Lua dissector for the capture, "
                        "and exit")


def usage_error(args: argparse.Namespace) -> str | None:
    """What is missing from a tap's arguments (argparse cannot say it with --dissector)."""
    if args.dissector:
        return None
    if not args.tunnel:
        return "name at least one tunnel to tap, e.g. nanonet tap raw -w raw.pcapng"
    if not args.write:
        return "say where the capture goes: -w OUT.pcapng, or -w - for the standard output"
    return writable(args.write)


def writable(target: str) -> str | None:
    """Why ``target`` cannot be written, or None; checked before the server is asked."""
    if target == STDOUT:
        return None
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{target} is a folder: give a file name, e.g. {path / 'capture.pcapng'}"
    if not folder.is_dir():
        return f"cannot write {target}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"cannot write {target}: permission denied"
    return None


def query(args: argparse.Namespace) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [("tunnel", name) for name in args.tunnel]
    pairs.append(("sample", args.sample))
    if args.stream is not None:
        pairs.append(("stream", args.stream))
    if args.count is not None:
        pairs.append(("count", args.count))
    return pairs


@contextlib.contextmanager
def output(target: str) -> Iterator[BinaryIO]:
    if target == STDOUT:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(target, "wb") as out:
        yield out


def run(args: argparse.Namespace, endpoint: Endpoint) -> int:
    """Stream the capture into ``args.write``; refused: nothing written, exit 1."""
    with endpoint.open_tap(query(args)) as resp:  # a refusal raises here: no file yet
        first = resp.read1(65536)
        if not first:
            print("tap: the server ended the tap before sending its capture", file=sys.stderr)
            return 1
        with output(args.write) as out:
            out.write(first)
            out.flush()
            size = copy_stream(resp, out, len(first))
    where = "the standard output" if args.write == STDOUT else args.write
    print(f"wrote {size:,} bytes of pcapng to {where}", file=sys.stderr)
    return 0
