"""The relay world (nanonet:tunnel/relay) in Python, built with componentize-py."""

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import Packet


class WitWorld(wit_world.WitWorld):
    def transmit_packet(self, data: Packet) -> str:
        if not data.payload:
            raise Err("empty payload")
        wit_world.forward(data.stream_id, data.payload)
        return f"stream {data.stream_id}: {len(data.payload)} bytes"

    def receive(self, stream_id: int) -> list[Packet]:
        kept = []
        for i, p in enumerate(wit_world.receive_stream()):
            if p.stream_id != stream_id:
                continue
            if not p.payload:
                raise Err(f"packet {i}: empty payload")
            kept.append(p)
        return kept
