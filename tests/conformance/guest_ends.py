"""Guest ends: a Wasm service (agent.wat) holds the tested end and runs the
ABI calls the suite asks for, one command at a time.

The host sends each command over a tunnel of its own ("wcmd" or "rcmd") and
waits for the answer on another ("wres" or "rres"); the agent runs the call
on tunnel "t" inside Wasm, so what is tested is the guest ABI exactly as a
service sees it. A command that blocks (a send into a full ring) blocks the
agent, and the host waits for its answer under the watchdog.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from conftest import GUESTS, call
from nanonet import Grants, Mesh, Service, TunnelClosed, TunnelReader, TunnelWriter
from nanonet.toolchain import rustbuild

from .ends import AGAIN, WATCHDOG, raise_status

AGENT = (Path(__file__).parent / "agent.wat").read_text()
RUST_AGENT = GUESTS / "agent.rs"  # the same commands, in Rust through nanonet.rs
# why Rust agents cannot run here (no rustc with the wasm32 target), or None
RUST_MISSING = rustbuild.available()
SEND, TRY_SEND, RECV, TRY_RECV, COMMIT, CLOSE = range(1, 7)
SINGLE, BATCH, RAW = 0, 1, 2
CHUNK = 64  # messages per command: an answer of 64 full records fits the answer tunnel
CONTROL_PAYLOAD = 40_000
RAW_IMPORTS = """
  (import "nanonet" "recv_raw" (func $recv_raw (param i32 i32) (result i32)))
  (import "nanonet" "try_recv_raw" (func $try_recv_raw (param i32 i32) (result i32)))
  (import "nanonet:raw" "t" (memory $ring 1 16 shared))"""
RAW_BODY = """
  ;; a raw receive: the length, and the payload copied out of its slot in the ring
  (func $recv_raw_one (param $out i32) (param $blocking i32) (result i32) (local $n i32)
    (local.set $n (if (result i32) (local.get $blocking)
      (then (call $recv_raw (global.get $t) (i32.const 32)))
      (else (call $try_recv_raw (global.get $t) (i32.const 32)))))
    (if (i32.ge_s (local.get $n) (i32.const 0)) (then
      (i32.store $m (local.get $out) (local.get $n))
      (memory.copy $m $ring (i32.add (local.get $out) (i32.const 4))
                   (i32.load $m (i32.const 32)) (local.get $n))))
    (local.get $n))"""
NO_RAW_BODY = """
  (func $recv_raw_one (param i32 i32) (result i32) (i32.const -5))"""


def agent_text(role: str, mode: int) -> str:
    """agent.wat for the writer ("w") or reader ("r") role, in ABI form ``mode``."""
    text = AGENT.replace('"CMD"', f'"{role}cmd"').replace('"RES"', f'"{role}res"')
    raw = mode == RAW
    text = text.replace(";; RAW_IMPORTS", RAW_IMPORTS if raw else "")
    return text.replace(";; RAW_BODY", RAW_BODY if raw else NO_RAW_BODY)


def records(messages: Sequence[bytes]) -> bytes:
    """Batch records: [len u32][payload][padding to 4], back to back."""
    return b"".join(struct.pack("<I", len(m)) + m + b"\0" * (-len(m) % 4) for m in messages)


def parse_records(data: bytes, count: int) -> list[bytes]:
    out, at = [], 0
    for _ in range(count):
        (size,) = struct.unpack_from("<I", data, at)
        out.append(data[at + 4: at + 4 + size])
        at += 4 + size + (-size % 4)
    return out


def chunks(messages: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    for at in range(0, len(messages), CHUNK):
        yield messages[at: at + CHUNK]


def rust_agent() -> Path:
    """agent.rs built (once: the build is cached by content)."""
    return rustbuild.build_rust(RUST_AGENT)


class Agent:
    """One agent service and the host ends that command it: agent.wat, or the
    Rust agent (``rust=True``, single and batch modes only)."""

    def __init__(self, mesh: Mesh, role: str, mode: int, rust: bool = False) -> None:
        cmd, res = f"{role}cmd", f"{role}res"
        for name in (cmd, res):
            mesh.tunnel(name, slots=2, max_payload=CONTROL_PAYLOAD)
        grants = Grants(raw=("t",)) if mode == RAW else Grants()
        writes, reads = (["t", res], [cmd]) if role == "w" else ([res], ["t", cmd])
        code = rust_agent() if rust else agent_text(role, mode)
        self.service: Service = mesh.service(f"{role}-agent", code, reads=reads,
                                             writes=writes, grants=grants)
        call(self.service, "configure", mode)
        self._cmd: TunnelWriter = mesh.writer(cmd)
        self._res: TunnelReader = mesh.reader(res)

    def op(self, op: int, a: int = 0, b: int = 0, body: bytes = b"") -> tuple[int, int, bytes]:
        """Run one command; its status, its count and the records it answered with."""
        self._cmd.send(struct.pack("<iii", op, a, b) + body, timeout=WATCHDOG)
        answer = self._answer()
        status, count = struct.unpack_from("<ii", answer)
        return status, count, answer[8:]

    def _answer(self) -> bytes:
        deadline = time.monotonic() + WATCHDOG
        while time.monotonic() < deadline:
            try:
                return self._res.recv(timeout=0.2)
            except TimeoutError:
                if not self.service.running:
                    raise AssertionError(
                        f"the agent ended with {self.service.exit_code}") from None
        raise AssertionError("watchdog: the agent never answered")

    def shutdown(self) -> None:
        self._cmd.close()  # the agent's receive gets CLOSED and run returns


class GuestWriter:
    """A write end in a guest: ``send``/``try_send`` one at a time (SINGLE), or
    ``send_batch``/``try_send_batch`` (BATCH)."""

    def __init__(self, mesh: Mesh, mode: int, rust: bool = False) -> None:
        self.agent = Agent(mesh, "w", mode, rust)

    def send(self, data: bytes) -> None:
        self.send_many([data])

    def try_send(self, data: bytes) -> bool:
        return self.try_send_many([data]) == 1

    def _send(self, op: int, part: Sequence[bytes]) -> int:
        """Send ``part``; a batch that stops short is retried from where it stopped,
        which is how a guest learns why (TOO_BIG, CLOSED, ...: none of those was sent)."""
        sent = 0
        while sent < len(part):
            status, count, _ = self.agent.op(op, len(part) - sent, 0, records(part[sent:]))
            sent += count
            if status == AGAIN and op == TRY_SEND:
                break
            if status:
                raise_status(status)
            if count == 0:
                raise AssertionError("a send sent nothing and gave no status")
        return sent

    def send_many(self, messages: Sequence[bytes]) -> int:
        return sum(self._send(SEND, part) for part in chunks(messages))

    def try_send_many(self, messages: Sequence[bytes]) -> int:
        sent = 0
        for part in chunks(messages):
            n = self._send(TRY_SEND, part)
            sent += n
            if n < len(part):
                break
        return sent

    def close(self) -> None:
        self.agent.op(CLOSE)

    def shutdown(self) -> None:
        self.agent.shutdown()


class GuestReader:
    """A read end in a guest: ``recv``/``try_recv`` (SINGLE), ``recv_batch``/
    ``try_recv_batch`` (BATCH) or ``recv_raw``/``try_recv_raw`` (RAW). Receiving
    is two-phase: a receive commits the one before it."""

    def __init__(self, mesh: Mesh, mode: int, max_payload: int, rust: bool = False) -> None:
        self.agent = Agent(mesh, "r", mode, rust)
        self.mode = mode
        self.max_payload = max_payload

    def _capacity(self, limit: int, payload: int) -> int:
        if self.mode == BATCH:  # the whole buffer: records of up to ``payload`` bytes
            return limit * (4 + payload + (-payload % 4))
        return payload

    def _receive(self, op: int, limit: int, payload: int) -> list[bytes]:
        limit = min(limit, CHUNK)  # fewer than asked is within the contract of a receive
        status, count, body = self.agent.op(op, limit, self._capacity(limit, payload))
        if status == AGAIN and op == TRY_RECV:
            return []
        if status:
            raise_status(status)
        return parse_records(body, count)

    def recv(self) -> bytes:
        return self.recv_many(1)[0]

    def try_recv(self) -> bytes | None:
        got = self.try_recv_many(1)
        return got[0] if got else None

    def recv_many(self, limit: int) -> list[bytes]:
        return self._receive(RECV, limit, self.max_payload)

    def try_recv_many(self, limit: int) -> list[bytes]:
        return self._receive(TRY_RECV, limit, self.max_payload)

    def drain(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            try:
                out += self.recv_many(CHUNK)
            except TunnelClosed:
                return out

    def commit(self) -> None:
        assert self.agent.op(COMMIT)[0] == 0

    def recv_into(self, capacity: int) -> bytes | int:
        status, count, body = self.agent.op(RECV, 1, self._capacity(1, capacity))
        return status if status else parse_records(body, count)[0]

    def close(self) -> None:
        assert self.agent.op(CLOSE)[0] == 0

    def after_corrupt(self) -> None:
        pass

    def shutdown(self) -> None:
        self.agent.shutdown()
