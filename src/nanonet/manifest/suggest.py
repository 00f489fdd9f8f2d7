"""“Did you mean …?” for a name that is close to one the manifest has.

A misspelt key, service or tunnel is the most common manifest mistake; the
error names the nearest spelling (``difflib``'s ratio, its default cut-off)
so the fix is one glance away.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to ``word``, or None if none is close."""
    found = difflib.get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'ingress'? "`` (to start a fix), or ``""``."""
    near = closest(word, choices)
    return f"did you mean {near!r}? " if near is not None else ""
