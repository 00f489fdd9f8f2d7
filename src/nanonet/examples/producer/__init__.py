"""Producers whose tunnel import runs in Wasm: the ``producer`` and
``packet-producer`` worlds of ``nanonet:tunnel``.

    mesh.component("p", build("producer").path, imports={"forward": "tunnel:out"})

The ``answerer`` world (C) adds exports of ``string`` and ``list<u8>``,
which the host calls through the core API on the same path; ``asker`` (C)
also imports a host function, ``lookup``.

``build(world, language)`` builds one with nanonet's guest builds (C: zig cc,
then wit-component as jco ships it; JavaScript: componentize-js; cached).
Both languages make flat components (core modules, the import lowered,
``run`` lifted), so ``Mesh.component`` serves their tunnel import with
generated Wasm on the ring (component/ringpath.py). JavaScript has the
``producer`` and ``answerer`` worlds.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InvalidValue
from ...toolchain.build import Built
from ...toolchain.guestbuild import build_c, build_js
from ...wit import PACKAGES

HERE = Path(__file__).parent
SOURCES = {("producer", "c"): HERE / "guest_c" / "producer.c",
           ("packet-producer", "c"): HERE / "guest_c" / "packet_producer.c",
           ("answerer", "c"): HERE / "guest_c" / "answerer.c",
           ("asker", "c"): HERE / "guest_c" / "asker.c",
           ("producer", "javascript"): HERE / "guest_js" / "producer.js",
           ("answerer", "javascript"): HERE / "guest_js" / "answerer.js"}


def build(world: str, language: str = "c") -> Built:
    """The component of ``world`` (``producer``, ``packet-producer``, ``answerer``
    or ``asker``) in ``language``."""
    source = SOURCES.get((world, language))
    if source is None:
        known = ", ".join(f"{w} ({lang})" for w, lang in SOURCES)
        raise InvalidValue(f"no producer {world!r} in {language!r}; there are: {known}")
    make = build_c if language == "c" else build_js
    return make(source, PACKAGES["tunnel"], world)
