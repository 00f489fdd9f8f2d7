"""The ``nanonet`` command.

Each subcommand lives in its own module, which exposes
``register(subparsers)``: it adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit code. A
``NanonetError`` that escapes a subcommand is printed as one line,
``nanonet: CODE: MESSAGE`` (docs/errors.md lists the codes), with exit code 1.
SIGTERM stops a command as Ctrl-C does (``stopping.py``); a closed stdout
(``| head``) ends it quietly with 141.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import NanonetError
from ..version import __version__
from .stopping import SIGPIPE_EXIT, SIGTERM_EXIT, Terminated, quiet_stdout, sigterm_stops
from .verbosity import add_switch, count, setup

# subcommand modules, in the order `nanonet --help` lists them
COMMANDS = ("nanonet.cli.new_cli", "nanonet.demo", "nanonet.cli.manifest_cli",
            "nanonet.cli.node_cli",
            "nanonet.cli.build_cli", "nanonet.bench.cli", "nanonet.cli.cache_cli",
            "nanonet.observe.cli", "nanonet.cli.wit_cli", "nanonet.cli.schema_cli",
            "nanonet.cli.debug_cli", "nanonet.cli.completion_cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanonet",
        description="Run WebAssembly nano-services connected by zero-syscall memory tunnels.",
    )
    parser.add_argument("--version", action="version", version=f"nanonet {__version__}")
    add_switch(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with sigterm_stops():
            return _dispatch(argv)
    except NanonetError as err:  # bad input or a refused action: one line, no traceback
        print(f"nanonet: {err.code}: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left (| head): stop quietly, as Unix tools do
        quiet_stdout()
        return SIGPIPE_EXIT
    except Terminated:
        print("terminated", file=sys.stderr)
        return SIGTERM_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup(count(args))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
