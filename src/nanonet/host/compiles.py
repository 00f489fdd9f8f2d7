"""Every compilation nanonet asks wasmtime for, reported as it happens.

    with counting() as seen:              # [(kind, source bytes), ...]
        mesh.component("p", wasm, imports={"forward": "tunnel:out"})
    [k for k, _ in seen]                  # ["outline", "module", ...]

A heavy component costs seconds of CPU per compilation, so which code is
compiled, and how often, is a property worth pinning in tests without
timing anything. ``kind`` is ``"module"`` (a core module, ``Runtime.module``),
``"component"`` (a whole component, ``component/host.py``) or ``"outline"``
(a component's outline, ``component/outline.py``); ``source`` is the bytes
compiled. A hit in the disk or in-memory cache compiles nothing and
reports nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Hook = Callable[[str, bytes], None]
_HOOKS: list[Hook] = []
_LOCK = threading.Lock()


def on_compile(hook: Hook) -> Callable[[], None]:
    """Call ``hook(kind, source)`` after each compilation; returns its remover."""
    with _LOCK:
        _HOOKS.append(hook)

    def remove() -> None:
        with _LOCK:
            if hook in _HOOKS:
                _HOOKS.remove(hook)
    return remove


def compiled(kind: str, source: bytes) -> None:
    """Report one compilation to every hook (each called on the compiling thread)."""
    with _LOCK:
        hooks = list(_HOOKS)
    for hook in hooks:
        hook(kind, source)


@contextmanager
def counting() -> Iterator[list[tuple[str, bytes]]]:
    """The compilations made inside the ``with`` block, in order."""
    seen: list[tuple[str, bytes]] = []
    remove = on_compile(lambda kind, source: seen.append((kind, source)))
    try:
        yield seen
    finally:
        remove()
