"""``nanonet run MANIFEST --watch``: rebuild a changed guest and hot-upgrade it.

One thread, owned by the run, polls the modification time of every module
service's source (its ``source``, else its ``wasm``) every ``INTERVAL``
seconds. A change rebuilds that service the way the run built it
(``manifest/guests.py``: zig, rustc, the build command, or WAT as it is) and
swaps the running service for the new module (``Mesh.upgrade``, in-process:
what ``POST /api/upgrade`` does). The manifest is read again first, so that
a change of the service's tunnel ends or of a tunnel's geometry is refused
with its reason. A failed build, a refused upgrade or a rolled-back one is
printed; the old module runs on and the mesh never stops for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import ManifestError, UpgradeError
from ..manifest.guests import guest_code
from ..manifest.manifest import Manifest, ServiceDef, load_manifest
from ..mesh import Mesh

INTERVAL = 0.25  # seconds between two looks at the sources' modification times
Print = Callable[[str], None]


def _source(m: Manifest, svc: ServiceDef) -> Path | None:
    """The file whose change means a rebuild, or None (components are not upgraded)."""
    t = svc.table
    if t.component is not None:
        return None
    name = t.source or t.wasm
    return m.file(name) if name else None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None  # being rewritten: looked at again next time


class Watcher:
    """Polls the sources of ``m``'s module services and upgrades what changed."""

    def __init__(self, m: Manifest, mesh: Mesh, say: Print, interval: float = INTERVAL) -> None:
        self.manifest = m
        self.mesh = mesh
        self.say = say
        self.interval = interval
        self.sources = {name: p for name, svc in m.services.items()
                        if (p := _source(m, svc)) is not None}
        self.seen = {name: _mtime(p) for name, p in self.sources.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nanonet-watch", daemon=True)

    def __enter__(self) -> Watcher:
        names = ", ".join(f"{n} ({p.name})" for n, p in sorted(self.sources.items()))
        self.say(f"watching {names or 'nothing'}: a change rebuilds and upgrades that service")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for name in self.changed():
                self.upgrade(name)

    def changed(self) -> list[str]:
        """The services whose source changed since the last look."""
        out = []
        for name, path in self.sources.items():
            now = _mtime(path)
            if now is not None and now != self.seen[name]:
                self.seen[name] = now
                out.append(name)
        return out

    def upgrade(self, name: str) -> None:
        """Rebuild ``name`` and swap it in; every outcome is one line."""
        self.say(f"watch: {self.sources[name].name} changed: rebuilding {name}")
        try:
            m = load_manifest(self.manifest.path)
            svc = m.services[name]
            code = guest_code(m, svc, lambda line: None)
        except (ManifestError, KeyError) as err:
            self.say(f"watch: {name}: not rebuilt, the old module runs on: {err}")
            return
        geometry = {t: m.table.tunnels[t].geometry() for t in (*svc.reads, *svc.writes)
                    if t in m.table.tunnels}
        try:
            outcome = self.mesh.upgrade(name, code, reads=svc.reads, writes=svc.writes,
                                        geometry=geometry)
        except UpgradeError as err:
            self.say(f"watch: {err}")
            return
        self.say(f"watch: {outcome.describe()}")
