"""Shared helpers: the WAT test guests, their message format, bounded waits."""

from __future__ import annotations

import os
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import wasmtime
from wasmtime._exportable import AsExtern

from nanonet import Mesh, Service
from nanonet.toolchain.build import NEEDS_ZIG, has_zig

GUESTS = Path(__file__).parent / "guests"
IMPORTED = '(import "env" "memory" (memory 2))'
EXPORTED = '(memory (export "memory") 2)'

# compiled modules go to a private cache, never the user's
os.environ["NANONET_CACHE"] = tempfile.mkdtemp(prefix="nanonet-test-cache-")


_ABI_IMPORT = re.compile(
    r'  \(import "nanonet" "(\w+)" \(func (\$\w+) (\(param[^)]*\)) \(result i32\)\)\)\n')
_SIDE_OPS = {"write": {"send", "try_send", "send_batch", "try_send_batch"},
             "read": {"recv", "try_recv", "recv_batch", "try_recv_batch", "commit"}}


def _stub_other_side(text: str, side: str) -> str:
    """Replace imports of the functions of the side a service does not hold
    with local stubs returning BAD_HANDLE: nanonet offers a service only the
    functions of the directions it holds, and refuses the others at load."""
    other = _SIDE_OPS["read" if side == "write" else "write"]
    stubs = []

    def strip(m: re.Match[str]) -> str:
        if m.group(1) not in other:
            return m.group(0)
        stubs.append(f"  (func {m.group(2)} {m.group(3)} (result i32) (i32.const -5))\n")
        return ""

    text = _ABI_IMPORT.sub(strip, text)
    body, _, _ = text.rstrip().rpartition(")")
    return body + "".join(stubs) + ")\n"


def guest(name: str, memory: str | None = None, side: str | None = None) -> str:
    """The WAT text of tests/guests/<name>.wat; ``memory`` = "import" or "export"
    rewrites its memory declaration into that linking style; ``side`` = "read"
    or "write" (the only direction of tunnel end the service will hold) stubs
    out the imports of the other direction."""
    text = (GUESTS / f"{name}.wat").read_text()
    if side is not None:
        text = _stub_other_side(text, side)
    if memory == "import":
        text = text.replace(EXPORTED, IMPORTED)
        assert IMPORTED in text, name
    elif memory == "export":
        text = text.replace(IMPORTED, EXPORTED)
        assert EXPORTED in text, name
    return text


def call(svc: Service, name: str, *args: int) -> object:
    """Call a guest export from the test thread (before start, or after the end)."""
    return svc.call(name, *args)


def export_func(exports: Mapping[str, AsExtern], name: str) -> wasmtime.Func:
    """The exported function ``name`` of an instance made by the test itself."""
    func = exports[name]
    assert isinstance(func, wasmtime.Func), f"export {name!r} is a {type(func).__name__}"
    return func


def message_length(i: int, size: int) -> int:
    return size or 8 + i % 25


def message(i: int, size: int = 0) -> bytes:
    """Message ``i`` as sender.wat builds it: u64 i, then bytes (i & 0xff)."""
    return struct.pack("<Q", i) + bytes([i & 0xFF]) * (message_length(i, size) - 8)


def check_messages(msgs: list[bytes], first: int, size: int = 0) -> int:
    """Assert ``msgs`` are messages first, first+1, ...; returns the next number."""
    for i, msg in enumerate(msgs, first):
        if msg != message(i, size):
            raise AssertionError(f"message {i}: got {msg[:16]!r}... ({len(msg)} bytes)")
    return first + len(msgs)


def waits_on(tunnel: str) -> str:
    """A guest (importing its memory) that waits for one message on ``tunnel``
    and returns what recv returned: a service that stays parked until fed or
    closed."""
    return f"""(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "{tunnel}")
  (func (export "run") (result i32)
    (call $recv (call $tunnel (i32.const 0) (i32.const {len(tunnel)})) (i32.const 64)
      (i32.const 8))))"""


def feed_checker(mesh: Mesh, stop: threading.Event, tunnel: str = "stream") -> None:
    """Host -> the Wasm checker on ``tunnel``, 64 sequence-numbered 64 B messages a
    batch, until ``stop`` (at most 20k batches); then closes the tunnel. The
    observability tests run it on a thread to keep a tunnel busy."""
    out = mesh.writer(tunnel)
    for first in range(0, 64 * 20_000, 64):
        if stop.wait(0.005):
            break
        out.send_many([struct.pack("<q", s) + bytes(56) for s in range(first, first + 64)],
                      timeout=10)
    out.close()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until true; fail (never hang) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.0005)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Without zig (the [c] extra) a test that builds a C guest is skipped, its
    reason the one line nanonet says, instead of failing: scripts/setup
    installs zig, so this happens only where someone chose not to."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    said = f"{call.excinfo.value if call.excinfo else ''}{report.capstdout}{report.capstderr}"
    if report.failed and report.when == "call" and not has_zig() and NEEDS_ZIG in said:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {NEEDS_ZIG}")


@pytest.fixture
def ethernet_sized_quic(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUIC packets of an Ethernet path (1,452 bytes) where a relay on
    loopback stands for a lossy network: loopback's own route would give
    16,000-byte packets, so few that a test's loss barely touches them."""
    monkeypatch.setenv("NANONET_QUIC_DATAGRAM", "1452")


@pytest.fixture
def mesh() -> Iterator[Mesh]:
    with Mesh() as m:
        yield m


def vm_size_kib() -> int:
    """This process's virtual size (VmSize): each ring's SharedMemory reserves
    address space, GiBs of it by default."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    raise AssertionError("no VmSize line in /proc/self/status")
