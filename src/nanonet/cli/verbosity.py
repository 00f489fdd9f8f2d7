"""``-v`` and ``-vv``: nanonet's ``logging`` records on stderr.

Without a switch only warnings show (nanonet logs none by default); ``-v``
adds what happens to each service (loaded, started, trapped, restarted,
stopped); ``-vv`` adds the detail under it (each tunnel made, each build
step). Records go to stderr, so they never mix with ``--json`` on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys

LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)


SUB_DEST = "verbose_after_command"


def add_switch(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v``, repeatable, before the subcommand and after it.

    The two counts live under different names: argparse copies a
    subcommand's namespace over the top one, so a shared name would keep
    only the count after the subcommand (``-v run -v`` would be 1).
    """
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        dest="verbose" if top else SUB_DEST,
                        help="log what nanonet does on stderr (-v: services' lifecycle, "
                        "-vv: details)")


def count(args: argparse.Namespace) -> int:
    """How many ``-v`` were given, before and after the subcommand."""
    return int(getattr(args, "verbose", 0)) + int(getattr(args, SUB_DEST, 0))


def setup(count: int) -> None:
    """Show nanonet's records at the level ``count`` asks for."""
    level = LEVELS[min(count, len(LEVELS) - 1)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nanonet %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("nanonet")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
