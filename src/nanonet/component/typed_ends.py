"""The host's ends of a typed tunnel: records in, records out, through its layout."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..ring.endpoint import TunnelReader, TunnelWriter
from .typed import RecordLayout


class TypedReader:
    """A ``TunnelReader`` whose messages are decoded as ``layout``'s record."""

    def __init__(self, reader: TunnelReader, layout: RecordLayout) -> None:
        self.reader = reader
        self.layout = layout

    def recv_value(self, timeout: float | None = None) -> dict[str, Any]:
        """The next record (blocks like ``recv``); InvalidValue for a message
        that is not one (an offset or a length outside the message)."""
        return self.layout.decode(self.reader.recv(timeout))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every record until the writer closes the tunnel."""
        return (self.layout.decode(m) for m in self.reader)

    def close(self) -> None:
        self.reader.close()


class TypedWriter:
    """A ``TunnelWriter`` that encodes records in ``layout``."""

    def __init__(self, writer: TunnelWriter, layout: RecordLayout) -> None:
        self.writer = writer
        self.layout = layout

    def send_value(self, value: Mapping[str, Any], timeout: float | None = None) -> None:
        self.writer.send(self.layout.encode(value), timeout)

    def close(self) -> None:
        self.writer.close()
