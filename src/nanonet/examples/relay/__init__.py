"""One contract in every guest language: the relay world of ``nanonet:tunnel``.

``guest_c/relay.c``, ``guest_js/relay.js`` and ``guest_py/relay.py`` each
implement ``world relay`` (src/nanonet/wit/tunnel/tunnel.wit);
``tests/test_component_conformance.py`` runs the same tests on all of them.
``build(language)`` builds one (cached after the first build).

``event_relay.c``, ``event_relay.js`` and ``guest_py_event/event_relay.py``
implement ``world event-relay``, whose ``send`` import takes an ``event``
(a record of every WIT kind) for a typed tunnel: ``build_event(language)``.
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


EVENT_WORLD = "event-relay"


def build_event(language: str) -> Built:
    """The event-relay component written in ``language`` (one of ``LANGUAGES``)."""
    wit = PACKAGES["tunnel"]
    if language == "c":
        return build_c(HERE / "guest_c" / "event_relay.c", wit, EVENT_WORLD)
    if language == "javascript":
        return build_js(HERE / "guest_js" / "event_relay.js", wit, EVENT_WORLD)
    if language == "python":
        return build_python(HERE / "guest_py_event", "event_relay", wit, EVENT_WORLD)
    raise InvalidValue(f"no event-relay guest in {language!r}; languages: "
                       f"{', '.join(LANGUAGES)}")
