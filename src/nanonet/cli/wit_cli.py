"""``nanonet wit``: print the WIT packages nanonet ships, or where they are.

Guest toolchains (componentize-py, wit-bindgen, jco) read WIT from a folder:
``--path`` prints the folder to pass them as ``-d``/``--wit``.
"""

from __future__ import annotations

import argparse

from ..wit import PACKAGES, text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("wit", help="print the WIT packages nanonet ships")
    parser.add_argument("package", nargs="?", choices=sorted(PACKAGES),
                        help="one package (default: all)")
    parser.add_argument("--path", action="store_true", help="print the folder, not the text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = [args.package] if args.package else sorted(PACKAGES)
    for name in names:
        print(PACKAGES[name] if args.path else text(name))
    return 0
