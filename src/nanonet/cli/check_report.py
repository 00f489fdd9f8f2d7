"""What ``nanonet check`` prints: every error at once, as text or as JSON.

Text: one ``FILE:LINE[:COLUMN]: KEY: PROBLEM; FIX`` line per error (the form
editors jump to), then a count. JSON (``--json``): one object, ``ok`` and the
errors with their parts, for scripts and editors; for a valid manifest,
its services and tunnels, and each service's roles (``check_roles.py``: the
tunnels it holds and how, the ports it serves and calls).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ManifestError


def error_fields(err: ManifestError) -> dict[str, Any]:
    """One error's parts, as ManifestError holds them."""
    return {"file": err.path, "line": err.line, "column": err.column, "key": err.key,
            "problem": err.problem, "message": str(err), "code": err.code}


def as_json(path: Path, errors: list[ManifestError], services: list[str],
            tunnels: list[str], roles: dict[str, Any] | None = None,
            placement: dict[str, Any] | None = None) -> str:
    """``{"ok": true, ...}`` or ``{"ok": false, "errors": [...]}``; ``roles``
    (check_roles.py): each service's tunnel roles and ports; ``placement``:
    the nodes and bridged tunnels of a manifest with nodes."""
    doc: dict[str, Any] = {"ok": not errors, "manifest": str(path),
                           "errors": [error_fields(e) for e in errors]}
    if not errors:
        doc |= {"services": services, "tunnels": tunnels, "roles": roles or {}}
        if placement:
            doc |= placement
    return json.dumps(doc, indent=2)


def as_text(path: Path, errors: list[ManifestError]) -> list[str]:
    """Each error's line, then how many there are (when more than one)."""
    lines = [str(e) for e in errors]
    if len(errors) > 1:
        lines.append(f"{path}: {len(errors)} errors; fix them and run nanonet check again")
    return lines
