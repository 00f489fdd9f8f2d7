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

_SIGNIFICANT = re.compile(r"""[#"'\[\]{}]""")  # what changes the scanner's state
_BASIC = re.compile(r'[\\"]')  # inside a "string": an escape or a quote
_LITERAL = re.compile(r"'")  # inside a 'literal string': no escapes

Path = tuple[str | int, ...]
Spot = tuple[int, int | None]
MAX_DEPTH = 32  # keys, arrays and inline tables nested in one another; a manifest needs 6


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

    def feed(self, text: str) -> int:
        """Feed one line; the deepest bracket nesting seen on it.

        Jumps from one character that matters to the next with a regex, so
        that a long line costs C time, not a Python step per character."""
        i, deepest = 0, self.depth
        while i < len(text):
            if self.quote is not None:
                i = self._inside(text, i, self.quote)
                continue
            found = _SIGNIFICANT.search(text, i)
            if found is None:
                break
            i = self._outside(text, found.start())
            deepest = max(deepest, self.depth)
        if self.quote in ('"', "'"):
            self.quote = None  # single-line strings end with their line
        return deepest

    def _inside(self, text: str, i: int, quote: str) -> int:
        """Past the closing ``quote`` (and the escapes before it), or the line's end."""
        while True:
            found = (_LITERAL if quote[0] == "'" else _BASIC).search(text, i)
            if found is None:
                return len(text)
            if found.group() == "\\":
                i = found.end() + 1  # an escape: skip the escaped character
            elif text.startswith(quote, found.start()):
                self.quote = None
                return _closed(text, found.start(), quote)
            else:
                i = found.end()  # a lone " inside a """string"""

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


def _closed(text: str, at: int, quote: str) -> int:
    """Past the delimiter at ``at``: a multi-line string may end with one or two
    more quotes of its kind (five quotes are two of content, then the end)."""
    end = at + len(quote)
    if len(quote) == 3:
        while end < at + 5 and text.startswith(quote[0], end):
            end += 1
    return end


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


def too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The first line (1-based) nesting more than ``limit`` keys, arrays and
    inline tables in one another, or None.

    tomllib parses nested values by recursion (a few thousand ``[`` exhaust
    Python's stack) and long dotted keys in quadratic time, so this scan runs
    before it, over the text as written: a header's keys count, an
    assignment adds its dotted keys to its table's, and each open bracket or
    brace of a value adds one.
    """
    table = keys = 0  # keys of the current table; those of the current assignment
    scan = _Scanner()
    for number, line in enumerate(text.splitlines(), start=1):
        if scan.open:
            depth = keys + scan.feed(line)
        elif header := _HEADER.match(line):
            depth = table = len(_TOKEN.findall(header.group(2)))
        elif assign := _ASSIGN.match(line):
            keys = table + len(_TOKEN.findall(assign.group(1)))
            depth = keys + scan.feed(line[assign.end():])
        else:
            depth = 0
        if depth > limit:
            return number
    return None
