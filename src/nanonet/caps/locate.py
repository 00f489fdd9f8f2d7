"""Where a key is written in a TOML text: key path -> (line, column).

``tomllib`` returns plain dicts with no positions, so an error about
``services.ingress.limits.fuel_per_tick`` would have no line to point at. This
module reads the raw text once, line by line, and records where each table
header (``[a.b]``, ``[[a.b]]``) and each assignment (``key = ...``, dotted
keys too) is written. Values that span lines (arrays, inline tables,
multi-line strings) are skipped with a small scanner that knows TOML's
quoting. It runs only on text ``tomllib`` accepted, and answers every path:
a key not written (a missing one) resolves to the nearest written parent.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_HEADER = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]")
_ASSIGN = re.compile(rf"^[ \t]*({_DOTTED})[ \t]*=")
_TOKEN = re.compile(_KEY)

Path = tuple[str | int, ...]
Spot = tuple[int, int | None]


def _keys(dotted: str) -> tuple[str, ...]:
    """The keys of ``a."b.c".d``, unquoted as TOML would."""
    out = []
    for tok in _TOKEN.findall(dotted):
        out.append(next(iter(tomllib.loads(f"{tok} = 0"))) if tok[0] in "\"'" else tok)
    return tuple(out)


class _Scanner:
    """Tracks whether a value is still open (brackets, multi-line strings)."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None  # the closing delimiter of an open string

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.quote is not None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.quote is not None:
                if text[i] == "\\" and self.quote[0] == '"':
                    i += 2
                    continue
                if text.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            i = self._outside(text, i)
        if self.quote in ('"', "'"):
            self.quote = None  # single-line strings end with their line

    def _outside(self, text: str, i: int) -> int:
        c = text[i]
        if c == "#":
            return len(text)
        if c in "\"'":
            self.quote = c * 3 if text.startswith(c * 3, i) else c
            return i + len(self.quote)
        if c in "[{":
            self.depth += 1
        elif c in "]}":
            self.depth = max(0, self.depth - 1)
        return i + 1


class Locator:
    """Line (1-based) and column of every header and key written in a text."""

    def __init__(self, text: str) -> None:
        self.spots: dict[Path, Spot] = {}
        self._arrays: dict[Path, int] = {}
        table: Path = ()
        scan = _Scanner()
        for number, line in enumerate(text.splitlines(), start=1):
            if scan.open:
                scan.feed(line)
                continue
            if header := _HEADER.match(line):
                table = self._header(header, number)
            elif assign := _ASSIGN.match(line):
                self._record((*table, *_keys(assign.group(1))), number, assign.start(1) + 1)
                scan.feed(line[assign.end():])

    def _header(self, match: re.Match[str], number: int) -> Path:
        path: Path = _keys(match.group(2))
        if match.group(1) == "[[":
            index = self._arrays.get(path, -1) + 1
            self._arrays[path] = index
            self._record(path, number, 1)
            path = (*path, index)
        self._record(path, number, 1)
        return path

    def _record(self, path: Path, number: int, column: int) -> None:
        for end in range(1, len(path)):
            self.spots.setdefault(path[:end], (number, None))
        self.spots.setdefault(path, (number, column))

    def find(self, path: Sequence[str | int]) -> Spot:
        """Where ``path`` (or its nearest written parent) is; line 1 if nowhere."""
        key = tuple(path)
        for end in range(len(key), 0, -1):
            if key[:end] in self.spots:
                line, column = self.spots[key[:end]]
                return line, column if end == len(key) else None
        return 1, None
