"""The event-service world (nanonet:tunnel/event-service) in Python:
event-relay's ``relay``, exported as the ``event-sink`` interface."""

import wit_world
from wit_world import exports
from wit_world.imports.types import Event


class EventSink(exports.EventSink):
    def relay(self, e: Event) -> int:
        wit_world.send(e)
        return len(e.tags)
