"""One contract in every guest language: the relay world of ``nanonet:tunnel``.

``guest_c/relay.c``, ``guest_js/relay.js`` and ``guest_py/relay.py`` each
implement ``world relay`` (src/nanonet/wit/tunnel/tunnel.wit);
``tests/test_component_conformance.py`` runs the same tests on all of them.
``build(language)`` builds one (cached after the first build).

``event_relay.c``, ``event_relay.js`` and ``guest_py_event/event_relay.py``
implement ``world event-relay``, whose ``send`` import takes an ``event``
(a record of every WIT kind) for a typed tunnel: ``build_event(language)``;
``event_sink.*`` implement ``event-service`` (the same, exported as the
``event-sink`` interface, for component -> component calls) and
``event_front.c`` ``event-front`` (a component calling ``event-sink``) and
``event_reader.c`` ``event-reader`` (a component reading a typed tunnel):
``build_event(language, world)``.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InvalidValue
from ...toolchain.build import Built
from ...toolchain.guestbuild import build_c, build_js
from ...toolchain.pybuild import build_python
from ...wit import PACKAGES

HERE = Path(__file__).parent
WORLD = "relay"
LANGUAGES = ("c", "python", "javascript")


def build(language: str) -> Built:
    """The relay component written in ``language`` (one of ``LANGUAGES``)."""
    wit = PACKAGES["tunnel"]
    if language == "c":
        return build_c(HERE / "guest_c" / "relay.c", wit, WORLD)
    if language == "javascript":
        return build_js(HERE / "guest_js" / "relay.js", wit, WORLD)
    if language == "python":
        return build_python(HERE / "guest_py", "relay", wit, WORLD)
    raise InvalidValue(f"no relay guest in {language!r}; languages: {', '.join(LANGUAGES)}")


EVENT_SOURCES = {  # (world, language) -> the source (Python: its folder and module)
    ("event-relay", "c"): "guest_c/event_relay.c",
    ("event-relay", "javascript"): "guest_js/event_relay.js",
    ("event-relay", "python"): "guest_py_event/event_relay",
    ("event-service", "c"): "guest_c/event_sink.c",
    ("event-service", "javascript"): "guest_js/event_sink.js",
    ("event-service", "python"): "guest_py_sink/event_sink",
    ("event-front", "c"): "guest_c/event_front.c",
    ("event-reader", "c"): "guest_c/event_reader.c",
}


def build_event(language: str, world: str = "event-relay") -> Built:
    """The ``world`` (``event-relay``, ``event-service``, ``event-front`` or
    ``event-reader``) component
    written in ``language``."""
    source = EVENT_SOURCES.get((world, language))
    if source is None:
        known = ", ".join(f"{w} ({lang})" for w, lang in EVENT_SOURCES)
        raise InvalidValue(f"no {world!r} guest in {language!r}; there are: {known}")
    wit, path = PACKAGES["tunnel"], HERE / source
    if language == "c":
        return build_c(path, wit, world)
    if language == "javascript":
        return build_js(path, wit, world)
    return build_python(path.parent, path.name, wit, world)
