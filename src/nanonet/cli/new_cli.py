"""``nanonet new NAME``: a service directory that ``check`` accepts and ``run`` runs.

``NAME`` is the directory to make and the service's name (its last part).
The name is kept to letters, digits, ``-`` and ``_`` so that it is a bare
TOML key and a file name alike. An existing directory is used only if it is
empty: nothing of the user's is ever overwritten.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ..policy.names import name_problem
from .templates import TEMPLATES, files, run_command

BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _refusal(target: Path) -> str | None:
    """Why ``target`` cannot become the new service (one line), or None."""
    name = target.name
    if not BARE.match(name) or name == "host":
        return (f"cannot name a service {name!r}: use letters, digits, '-' and '_' "
                "(not \"host\"); pick another NAME")
    problem = name_problem("service", name)
    if problem is not None:
        return f"{problem}; pick another NAME"
    if target.exists() and not target.is_dir():
        return f"{target} exists and is not a directory; pick another NAME"
    if target.is_dir() and any(target.iterdir()):
        return f"{target} exists and is not empty; pick another NAME, or empty it first"
    return None


def _new(args: argparse.Namespace) -> int:
    target = Path(args.name)
    why = _refusal(target.absolute())
    if why is not None:
        print(f"nanonet new: {why}", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    made = files(target.absolute().name, args.template)
    for file, text in made.items():
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        (target / file).write_text(text)
    print(f"made {target}/ ({args.template}): {', '.join(made)}")
    print(f"next: cd {target} && {run_command(target.absolute().name, args.template)}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("new", help="make a service directory from a template",
                       description="Write NAME/nanonet.toml, a guest source and a README: "
                       "a service that sends one greeting to the host, ready for `nanonet "
                       "check` and `nanonet run`. NAME must not exist, or be empty.")
    p.add_argument("name", metavar="NAME", help="the directory (its last part names the "
                   "service)")
    p.add_argument("--template", "-t", choices=sorted(TEMPLATES), default="c",
                   help="the guest's language (default c; python-component needs "
                   "componentize-py)")
    p.set_defaults(func=_new)
