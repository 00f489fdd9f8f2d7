"""WIT packages shipped with nanonet: ``nanonet:tunnel``, ``nanonet:auth`` and ``nanonet:http``."""

from __future__ import annotations

from pathlib import Path

WIT_DIR = Path(__file__).parent
PACKAGES = {"tunnel": WIT_DIR / "tunnel", "auth": WIT_DIR / "auth", "http": WIT_DIR / "http"}


def text(package: str) -> str:
    """The WIT source of one package (every ``.wit`` file of its folder)."""
    folder = PACKAGES[package]
    return "\n".join(p.read_text() for p in sorted(folder.glob("*.wit")))
