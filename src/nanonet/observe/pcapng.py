"""pcapng, the file format Wireshark and tshark open: a small writer and reader.

A tunnel has no link layer, so a capture declares one interface of link type
``LINKTYPE_USER0`` (147) per tunnel, named after it; each message is one
Enhanced Packet Block whose data is the payload exactly as it sat in the ring
and whose ``epb_packetid`` option (code 5, a u64) is the message's ring
counter. Timestamps are nanoseconds since the epoch (``if_tsresol`` = 9).
Only what a tap needs is written; the reader accepts any well-formed little-
or big-endian section, reads Enhanced and Simple Packet Blocks, and skips
block types it does not know, because a file may come from elsewhere (an
edited capture) and is untrusted input. ``replay_messages`` is stricter: it
takes only packets of link type 147, the one a tap writes, and names any other.
Wireshark shows link type 147 through the Lua dissector shipped beside this
module (``nanonet.lua``, ``nanonet tap --dissector``).
"""

from __future__ import annotations

import io
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from ..errors import PcapngError as PcapngError  # re-exported from its first home

LINKTYPE_USER0 = 147
SHB, IDB, SPB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000003, 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_COMMENT, IF_NAME, IF_TSRESOL = 0, 1, 2, 9
EPB_PACKETID = 5  # an Enhanced Packet Block's u64 packet id: the message's ring counter
_U64 = 0xFFFF_FFFF_FFFF_FFFF
MAX_BLOCK = 1 << 24  # a tunnel slot is far smaller; anything larger is corrupt
# names of the link types a capture from elsewhere most likely has (tcpdump's LINKTYPE_*)
LINKTYPE_NAMES = {0: "NULL (BSD loopback)", 1: "Ethernet", 101: "raw IP", 105: "IEEE 802.11",
                  113: "Linux cooked (SLL)", 228: "IPv4", 229: "IPv6", 276: "Linux cooked v2",
                  LINKTYPE_USER0: "USER0 (nanonet tunnel)"}


class Sink(Protocol):
    """Where a writer puts its bytes: a file, or an HTTP response. A file
    (``io.IOBase``) may be handed a view that changes once ``write`` returns,
    as ``io`` allows; any other sink is handed ``bytes`` it may keep."""

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(kind: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


def section_header(comment: str = "") -> bytes:
    opts = (_option(OPT_COMMENT, comment.encode()) if comment else b"") + _option(OPT_END, b"")
    return _block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts)


def interface(name: str, comment: str) -> bytes:
    opts = (_option(IF_NAME, name.encode()) + _option(OPT_COMMENT, comment.encode())
            + _option(IF_TSRESOL, bytes([9])) + _option(OPT_END, b""))
    return _block(IDB, struct.pack("<HHI", LINKTYPE_USER0, 0, 0) + opts)


_EPB_HEAD = struct.Struct("<IIIIIII")
_BIG_ENDIAN = sys.byteorder != "little"
_EPB_SHAPES: dict[int, struct.Struct] = {}  # by payload length: one pack per message


def _epb_shape(n: int) -> struct.Struct:
    """Head, payload padded to 4 bytes, epb_packetid (code 5, a u64), end of
    options, total length: a whole Enhanced Packet Block in one ``pack``."""
    shape = _EPB_SHAPES.get(n)
    if shape is None:
        shape = _EPB_SHAPES[n] = struct.Struct(f"<7I{n + (-n % 4)}sHHQI I")
    return shape


def packet(data: bytes, ts_ns: int, iface: int = 0, packet_id: int | None = None) -> bytes:
    """One Enhanced Packet Block: the tap's per-message cost, so built in one go."""
    n = len(data)
    if packet_id is not None:
        shape = _epb_shape(n)
        return shape.pack(EPB, shape.size, iface, (ts_ns >> 32) & 0xFFFFFFFF,
                          ts_ns & 0xFFFFFFFF, n, n, data, EPB_PACKETID, 8, packet_id, OPT_END,
                          shape.size)
    pad = -n % 4
    total = 32 + n + pad
    return b"".join((_EPB_HEAD.pack(EPB, total, iface, (ts_ns >> 32) & 0xFFFFFFFF,
                                    ts_ns & 0xFFFFFFFF, n, n),
                     data, b"\0" * pad, total.to_bytes(4, "little")))


def packet_run(slots: bytes, slot_size: int, length: int, times: Sequence[int], iface: int,
               first_id: int, step: int = 1) -> bytes:
    """The Enhanced Packet Blocks of ``len(times)`` messages of one ``length``
    that sit in consecutive ring slots (``[length u32][flags u32][payload]``,
    ``slot_size`` bytes each) in ``slots``, with packet ids ``first_id``,
    ``first_id + step``, ... (a sampled tap's copies are every ``step``-th):
    byte for byte ``b"".join(packet(...))`` of each, built a field at a time
    across the whole run (strided copies) rather than a message at a time."""
    count, pad = len(times), -length % 4
    if _BIG_ENDIAN or slot_size % 4:  # the word views below are little-endian u32s
        return b"".join(packet(slots[i * slot_size + 8: i * slot_size + 8 + length], ts, iface,
                               (first_id + i * step) & _U64) for i, ts in enumerate(times))
    size = 48 + length + pad
    end = 28 + length + pad  # where the options start
    head = struct.pack("<3I", EPB, size, iface) + bytes(8) + struct.pack("<2I", length, length)
    tail = struct.pack("<HH", EPB_PACKETID, 8) + bytes(8) + struct.pack("<2I", OPT_END, size)
    out = bytearray(head + bytes(length + pad) + tail) * count  # padding stays zero
    words, stride = memoryview(out).cast("I"), size // 4
    stamps = _words(array("Q", times))  # [low, high] words of each time
    words[3::stride], words[4::stride] = stamps[1::2], stamps[0::2]
    ids = _words(_counters(first_id, count, step))
    words[end // 4 + 1::stride], words[end // 4 + 2::stride] = ids[0::2], ids[1::2]
    _copy_payloads(memoryview(slots)[: count * slot_size], slot_size, out, size, length)
    return bytes(out)


def _words(values: array[int]) -> memoryview:
    return memoryview(values).cast("B").cast("I")


def _counters(first: int, count: int, step: int = 1) -> array[int]:
    """u64 ring counters ``first, first + step, ...``, wrapping as the ring's do."""
    end = first + count * step
    if end <= 1 << 64:
        return array("Q", range(first, end, step))
    return array("Q", [c & _U64 for c in range(first, end, step)])


def _copy_payloads(slots: memoryview, slot_size: int, out: bytearray, size: int,
                   length: int) -> None:
    """Each slot's payload (at 8 in a slot) into its block (at 28): one strided
    copy per 8-byte column of the payload when the blocks' size allows (seen
    from byte 4 of the run, 28 is a multiple of 8), then per 4-byte column,
    then per byte of what is left."""
    done, target = 0, memoryview(out)
    if size % 8 == 0 and length >= 8:
        wide = target[4: 4 + (len(out) - 4) // 8 * 8].cast("Q")
        source = slots.cast("Q")
        done = length // 8 * 8
        for word in range(done // 8):
            wide[3 + word:: size // 8] = source[1 + word:: slot_size // 8]
    if length - done >= 4:
        target.cast("I")[(28 + done) // 4:: size // 4] = slots.cast("I")[(8 + done) // 4::
                                                                        slot_size // 4]
        done += 4
    for byte in range(done, length):
        target[28 + byte:: size] = slots[8 + byte:: slot_size]


Record = tuple[bytes, int, int, int]  # payload, time (ns), interface, packet id


class PcapngWriter:
    """Writes one section with one interface per tunnel to a binary stream."""

    def __init__(self, out: Sink, tunnel: str | Sequence[str],
                 comment: str | Sequence[str] = "") -> None:
        self.out = out
        self.count = 0
        # io's write contract: only touch the data during the call (a view may change after)
        self.takes_views = isinstance(out, io.IOBase)
        names = [tunnel] if isinstance(tunnel, str) else list(tunnel)
        notes = [comment] * len(names) if isinstance(comment, str) else list(comment)
        self.interfaces = names
        out.write(section_header("nanonet tap") + b"".join(
            interface(name, note or f"nanonet tunnel {name!r}: one packet per message, "
                      "payload only, packet id = ring counter")
            for name, note in zip(names, notes, strict=True)))

    def write(self, data: bytes, ts_ns: int, iface: int = 0,
              packet_id: int | None = None) -> None:
        self.out.write(packet(data, ts_ns, iface, packet_id))
        self.count += 1

    def write_many(self, records: Iterable[Record]) -> None:
        """Several packets in one write (one send, for an HTTP client)."""
        self.write_blocks([packet(data, ts, iface, pid) for data, ts, iface, pid in records])

    def write_blocks(self, blocks: list[bytes]) -> None:
        """Packet blocks ``packet`` built, in one write."""
        if blocks:
            self.out.write(b"".join(blocks))
            self.count += len(blocks)

    def write_run(self, blocks: bytes | memoryview, count: int) -> None:
        """``count`` packet blocks already joined (``packet_run``), in one write;
        a view is copied first unless the output ``takes_views``."""
        if count:
            # a view only to a file, whose write takes any buffer (Sink says bytes)
            self.out.write(cast(bytes, blocks) if self.takes_views else bytes(blocks))
            self.count += count

    def flush(self) -> None:
        self.out.flush()


@dataclass(frozen=True)
class Packet:
    """One captured message: its interface's name, its time (ns), its bytes,
    its interface's link type (147 for what a tap wrote) and its packet id
    (for a tap's capture the message's ring counter; None when absent)."""

    interface: str
    ts_ns: int
    data: bytes
    linktype: int = LINKTYPE_USER0
    packet_id: int | None = None


@dataclass(frozen=True)
class _Iface:
    name: str
    per_s: int  # timestamp ticks per second
    linktype: int
    snaplen: int  # 0: no limit


class _Section:
    def __init__(self, endian: str) -> None:
        self.endian = endian
        self.ifaces: list[_Iface] = []


def _options(body: bytes, endian: str) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        if code == OPT_END:
            break
        value = body[pos + 4: pos + 4 + length]
        if len(value) != length:
            raise PcapngError("option runs past the end of its block")
        out.setdefault(code, value)
        pos += 4 + length + (-length % 4)
    return out


def _resolution(raw: bytes | None) -> int:
    if not raw:
        return 10**6
    v = raw[0]
    return int(2 ** (v & 0x7F) if v & 0x80 else 10 ** v)


def _interface(sec: _Section, body: bytes) -> None:
    if len(body) < 8:
        raise PcapngError("interface block too short")
    linktype, _reserved, snaplen = struct.unpack_from(sec.endian + "HHI", body)
    opts = _options(body[8:], sec.endian)
    name = opts.get(IF_NAME, b"").decode("utf-8", "replace")
    sec.ifaces.append(_Iface(name, _resolution(opts.get(IF_TSRESOL)), linktype, snaplen))


def _packet(sec: _Section, body: bytes) -> Packet:
    if len(body) < 20:
        raise PcapngError("packet block too short")
    iface, hi, lo, caplen, _orig = struct.unpack_from(sec.endian + "IIIII", body)
    if iface >= len(sec.ifaces) or caplen > len(body) - 20:
        raise PcapngError("packet names an unknown interface or overruns its block")
    i = sec.ifaces[iface]
    ticks = (hi << 32) | lo
    end = 20 + caplen + (-caplen % 4)
    raw_id = _options(body[end:], sec.endian).get(EPB_PACKETID) if len(body) > end else None
    packet_id = struct.unpack(sec.endian + "Q", raw_id)[0] if raw_id and len(raw_id) == 8 \
        else None
    return Packet(i.name, int(ticks * 10**9 // i.per_s), bytes(body[20: 20 + caplen]),
                  i.linktype, packet_id)


def _simple_packet(sec: _Section, body: bytes) -> Packet:
    """A Simple Packet Block: interface 0, no timestamp (0), data cut at its snaplen."""
    if len(body) < 4 or not sec.ifaces:
        raise PcapngError("simple packet block too short, or before any interface block")
    (orig,) = struct.unpack_from(sec.endian + "I", body)
    i = sec.ifaces[0]
    size = min(orig, i.snaplen) if i.snaplen else orig
    if size > len(body) - 4:
        raise PcapngError("simple packet overruns its block")
    return Packet(i.name, 0, bytes(body[4: 4 + size]), i.linktype)


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise PcapngError("file ends inside a block")
    return data


def _section(head: bytes, src: BinaryIO) -> tuple[_Section, bytes]:
    magic = _read_exact(src, 4)
    endian = {BYTE_ORDER_MAGIC.to_bytes(4, "little"): "<",
              BYTE_ORDER_MAGIC.to_bytes(4, "big"): ">"}.get(magic)
    if endian is None:
        raise PcapngError("bad byte-order magic: not a pcapng file")
    (total,) = struct.unpack(endian + "I", head[4:8])
    if total < 28 or total > MAX_BLOCK or total % 4:
        raise PcapngError(f"section header length {total} is invalid")
    rest = _read_exact(src, total - 12)
    return _Section(endian), rest


def read_packets(src: BinaryIO) -> Iterator[Packet]:
    """Every packet of every section, in file order."""
    sec: _Section | None = None
    while head := src.read(8):
        if len(head) != 8:
            raise PcapngError("file ends inside a block header")
        if int.from_bytes(head[:4], "little") == SHB:
            sec, _ = _section(head, src)
            continue
        if sec is None:
            raise PcapngError("no section header block at the start: not a pcapng file")
        kind, total = struct.unpack(sec.endian + "II", head)
        if total < 12 or total > MAX_BLOCK or total % 4:
            raise PcapngError(f"block length {total} is invalid")
        body = _read_exact(src, total - 8)[:-4]
        if kind == IDB:
            _interface(sec, body)
        elif kind == EPB:
            yield _packet(sec, body)
        elif kind == SPB:
            yield _simple_packet(sec, body)


def linktype_name(linktype: int) -> str:
    """``1 (Ethernet)``: the number, and its name when it is a common one."""
    name = LINKTYPE_NAMES.get(linktype)
    return f"{linktype} ({name})" if name else str(linktype)


def replay_messages(src: BinaryIO) -> list[bytes]:
    """Every message of a capture a tap wrote, in file order; anything else is refused.

    A packet of another link type (an Ethernet capture, say) holds a frame,
    not a tunnel message, so the whole file is refused before anything is sent.
    """
    out = []
    for p in read_packets(src):
        if p.linktype != LINKTYPE_USER0:
            raise PcapngError(
                f"the capture's interface {p.interface!r} has link type "
                f"{linktype_name(p.linktype)}, not {linktype_name(LINKTYPE_USER0)}: nanonet "
                "replays only captures of a tunnel (what nanonet tap writes)")
        out.append(p.data)
    return out
