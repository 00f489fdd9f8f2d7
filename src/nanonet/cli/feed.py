"""``nanonet run --send TUNNEL=FILE`` and ``--feed TUNNEL``: the host writes into the mesh.

A tunnel the manifest gives the host to write (``writer = "host"``) is closed
at the start unless the run feeds it: ``--send`` reads a file (``-``: the
standard input) as lines or as records (a u32 little-endian length, then that
many bytes) and sends each one, waiting while the ring is full (nothing is
dropped), and closes the tunnel at the end of the file so its reader sees
CLOSED (``--send-keep-open`` keeps it open). ``--feed`` keeps the write end
open for the control endpoint's write path (``nanonet replay``, the
inspector). Both hand the end to the observer as one ``SharedWriter``. A
message over the tunnel's ``max_payload`` stops its feeder with one line
naming the line or record, and closes the tunnel (what went before it is
delivered); the run's exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InvalidValue, MessageTooBig, NanonetError
from ..manifest.manifest import HOST, Manifest
from ..mesh import Mesh
from ..observe.feeds import SharedWriter

BATCH = 256  # messages read before one send: a batch per publish, not one per line
Say = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("feeding the mesh")
    g.add_argument("--send", action="append", default=[], metavar="TUNNEL=FILE",
                   help="send FILE (- for stdin) into a tunnel the host writes; the end of "
                   "the file closes the tunnel (repeatable)")
    g.add_argument("--send-format", choices=("lines", "records"), default="lines",
                   help="lines (default: each line, without its newline, is a message) or "
                   "records (u32 little-endian length + bytes)")
    g.add_argument("--send-keep-open", action="store_true",
                   help="keep the tunnels open after their file ends")
    g.add_argument("--feed", action="append", default=[], metavar="TUNNEL",
                   help="keep a host-written tunnel open for nanonet replay and the "
                   "inspector (implies --dashboard; repeatable)")


@dataclass(frozen=True)
class Plan:
    """What the run feeds: the file of each ``--send`` and the tunnels kept open."""

    sends: dict[str, str]
    feeds: tuple[str, ...]

    @property
    def tunnels(self) -> list[str]:
        return list(dict.fromkeys([*self.sends, *self.feeds]))


def plan(m: Manifest, args: argparse.Namespace) -> Plan:
    """Check every ``--send`` and ``--feed`` against the manifest's host ends."""
    sends: dict[str, str] = {}
    for spec in args.send:
        tunnel, eq, path = spec.partition("=")
        if not eq or not tunnel or not path:
            raise InvalidValue(f"--send {spec!r}: write it as TUNNEL=FILE (or TUNNEL=- for "
                               "the standard input)")
        if tunnel in sends:
            raise InvalidValue(f"--send {tunnel}=... is given twice: one file per tunnel")
        _check_host_written(m, tunnel, "--send")
        sends[tunnel] = path
    if list(sends.values()).count("-") > 1:
        raise InvalidValue("--send: only one tunnel can read the standard input (-)")
    feeds = tuple(dict.fromkeys(args.feed))
    for tunnel in feeds:
        _check_host_written(m, tunnel, "--feed")
    return Plan(sends, feeds)


def _check_host_written(m: Manifest, tunnel: str, flag: str) -> None:
    table = m.table.tunnels.get(tunnel)
    if table is None:
        known = ", ".join(sorted(m.table.tunnels)) or "none"
        raise InvalidValue(f"{flag} {tunnel}: the manifest {m.path} has no tunnel named "
                           f"{tunnel!r} (tunnels: {known})")
    if HOST not in table.all_writers:
        raise InvalidValue(f"{flag} {tunnel}: the write end of tunnel {tunnel!r} is held by "
                           f"service {table.writer!r}, not the host; only a tunnel with "
                           "writer = \"host\" can be fed")


def frames(stream: BinaryIO, form: str) -> Iterator[tuple[int, bytes]]:
    """(number, message) of every line (1-based, without its ``\\n``) or record."""
    if form == "lines":
        for n, line in enumerate(stream, 1):
            yield n, line[:-1] if line.endswith(b"\n") else line
        return
    n = 0
    while head := stream.read(4):
        n += 1
        if len(head) < 4:
            raise InvalidValue(f"record {n}: the file ends inside its 4-byte length")
        size = int.from_bytes(head, "little")
        data = stream.read(size)
        if len(data) < size:
            raise InvalidValue(f"record {n}: its length says {size} bytes, the file ends "
                               f"after {len(data)}")
        yield n, data


class Feeder:
    """One ``--send``: a thread that sends a file into a tunnel, then closes it."""

    def __init__(self, feed: SharedWriter, path: str, form: str, keep_open: bool,
                 on_error: Say) -> None:
        self.feed, self.path, self.form, self.keep_open = feed, path, form, keep_open
        self.on_error = on_error
        self.sent = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"nanonet-send:{feed.name}",
                                        daemon=True)  # a read of stdin cannot be interrupted

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._send_all()
        except NanonetError as err:  # closed by the mesh's stop: the run is ending anyway
            if self.error is None and not self.feed.closed:
                self._fail(f"{err.code}: {err}")
        except (OSError, ValueError) as err:
            self._fail(f"invalid-value: {err}")
        if not self.keep_open or self.error is not None:
            self.feed.close()

    def _send_all(self) -> None:
        src = "the standard input" if self.path == "-" else self.path
        with (open(self.path, "rb") if self.path != "-" else _stdin()) as stream:
            batch: list[bytes] = []
            for n, data in frames(stream, self.form):
                if len(data) > self.feed.max_payload:
                    self.sent += self.feed.send_many(batch)
                    return self._fail(self._too_big(src, n, len(data)))
                batch.append(data)
                if len(batch) >= BATCH or self.path == "-":  # stdin: send as it comes
                    self.sent += self.feed.send_many(batch)
                    batch = []
            self.sent += self.feed.send_many(batch)

    def _too_big(self, src: str, n: int, size: int) -> str:
        what = "line" if self.form == "lines" else "record"
        return (f"{MessageTooBig.code}: --send {self.feed.name}: {what} {n} of {src} is "
                f"{size} bytes, over the max_payload of tunnel {self.feed.name!r} "
                f"({self.feed.max_payload} bytes); give the tunnel a larger max_payload, or "
                "split it "
                f"({self.sent:,} message(s) before it were sent)")

    def _fail(self, why: str) -> None:
        self.error = f"--send {self.feed.name} failed"
        self.on_error(f"nanonet: {why}")


def _stdin() -> BinaryIO:
    return open(sys.stdin.fileno(), "rb", closefd=False)  # closed by the with


def finish(feeders: list[Feeder], feeds: Iterable[SharedWriter]) -> list[str]:
    """Retire every write end (the mesh may release its rings next), then what each
    ``--send`` sent, as summary lines."""
    for feeder in feeders:
        feeder.join(0.5)  # one still reading its input gives up at its next send
    for end in feeds:
        end.retire()
    return [f"  host sent {f.sent:,} message(s) into {f.feed.name} from "
            f"{'the standard input' if f.path == '-' else f.path}" for f in feeders]


def open_feeds(mesh: Mesh, p: Plan) -> dict[str, SharedWriter]:
    """Take the host's write end of every tunnel the run feeds."""
    return {name: SharedWriter(name, mesh.writer(name)) for name in p.tunnels}
