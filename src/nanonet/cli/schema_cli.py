"""``nanonet schema``: print the JSON Schema of ``nanonet.toml``.

Editors that read TOML against a schema (Taplo, Even Better TOML) complete
keys and flag typos as one types; docs/nanonet.schema.json is the same text,
and docs/manifest.md says how to point an editor at it.
"""

from __future__ import annotations

import argparse
import json

from ..manifest.schema import json_schema


def schema_text() -> str:
    """The schema as ``nanonet schema`` prints it (and docs/ keeps it)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of nanonet.toml",
                            description="Print the JSON Schema of a manifest (nanonet.toml) "
                            "for editors: save it and add `#:schema ./nanonet.schema.json` "
                            "as the manifest's first line (docs/manifest.md).")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(schema_text(), end="")
    return 0
