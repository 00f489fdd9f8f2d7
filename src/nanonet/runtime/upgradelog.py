"""What each service's hot upgrades did, kept for the views (snapshots, ``nanonet top``).

``Mesh.upgrade`` returns an ``UpgradeOutcome`` or raises ``UpgradeError`` to
its caller only; an operator watching the mesh from another process would
never learn of either. The log keeps, per service, how many upgrades were
asked and the last one's result in one line: "kept: ..." with the outcome's
description, or "refused: ..." / "rolled back: ..." with the error's reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .upgrade import UpgradeOutcome


@dataclass(frozen=True)
class UpgradeRecord:
    """One service's upgrades so far: how many were asked, how many were kept,
    and the last one's result."""

    count: int = 0
    kept: int = 0
    last: str | None = None


class UpgradeLog:
    """Per service, its upgrade record; written by the caller of ``Mesh.upgrade``
    and read by observers on other threads (a lock keeps each record whole)."""

    def __init__(self) -> None:
        self._records: dict[str, UpgradeRecord] = {}
        self._lock = threading.Lock()

    def kept(self, outcome: UpgradeOutcome) -> None:
        self._note(outcome.service, True, "kept: " + outcome.describe())

    def failed(self, service: str, why: str) -> None:
        word = "rolled back" if "rolled back" in why else "refused"
        self._note(service, False, f"{word}: {why}")

    def record(self, service: str) -> UpgradeRecord:
        with self._lock:
            return self._records.get(service, UpgradeRecord())

    def _note(self, service: str, kept: bool, last: str) -> None:
        with self._lock:
            r = self._records.get(service, UpgradeRecord())
            self._records[service] = UpgradeRecord(r.count + 1, r.kept + kept, last)
