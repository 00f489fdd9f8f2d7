"""The event-relay world (nanonet:tunnel/event-relay) in Python, built with
componentize-py: ``relay`` sends the event it was given through ``send``
(its bindings lower it again from Python objects) and returns how many tags
it has."""

import wit_world
from wit_world.imports.types import Event


class WitWorld(wit_world.WitWorld):
    def relay(self, e: Event) -> int:
        wit_world.send(e)
        return len(e.tags)
