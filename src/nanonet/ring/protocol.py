"""placeholder"""
from __future__ import annotations

from enum import IntEnum

from . import layout as L


class Field(IntEnum):
    """Every header field, by its name in docs/ring.md, at its offset."""

    MAGIC = L.OFF_MAGIC
    VERSION = L.OFF_VERSION
    SLOT_COUNT = L.OFF_SLOT_COUNT
    SLOT_SIZE = L.OFF_SLOT_SIZE
    CLOSED = L.OFF_CLOSED
    QUARANTINE = L.OFF_QUARANTINE
    HEADER_SIZE = L.OFF_HEADER_SIZE
    NAME_LEN = L.OFF_NAME_LEN
    NAME = L.OFF_NAME
    HEAD = L.OFF_HEAD
    BYTES_IN = L.OFF_BYTES_IN
    FULL_COUNT = L.OFF_FULL
    WRITER_PARKS = L.OFF_WRITER_PARKS
    WRITER_WAKES = L.OFF_WRITER_WAKES
    TAIL = L.OFF_TAIL
    BYTES_OUT = L.OFF_BYTES_OUT
    EMPTY_COUNT = L.OFF_EMPTY
    READER_PARKS = L.OFF_READER_PARKS
    READER_WAKES = L.OFF_READER_WAKES
    READER_WAITING = L.OFF_READER_WAITING
    WRITER_WAITING = L.OFF_WRITER_WAITING
    TAP_MODE = L.OFF_TAP_MODE
    TAP_TAIL = L.OFF_TAP_TAIL
    STAMPS = L.OFF_STAMPS
    LATENCIES = L.OFF_LATENCIES


FIELD_NAMES = {int(f): f.name.lower() for f in Field}
