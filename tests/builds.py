"""The heavy guest builds a test module needs, started side by side.

componentize-py and componentize-js each spend 10-30 s in a child process of
their own, waiting on it from here, so two of them started together finish
sooner than one after the other. The builds are the toolchain's own, cached
by their sources: a build another module made earlier in the session is a hit.
Each build's failure stays its own: ``result()`` raises it where it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from nanonet.toolchain.build import Built

Key = TypeVar("Key")


@contextmanager
def side_by_side(makers: Mapping[Key, Callable[[], Built]]) -> Iterator[dict[Key, Future[Built]]]:
    """Start every build at once; on leaving, wait for those still running
    (a build never outlives the module that started it)."""
    pool = ThreadPoolExecutor(max_workers=max(1, len(makers)), thread_name_prefix="build")
    try:
        yield {key: pool.submit(make) for key, make in makers.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
