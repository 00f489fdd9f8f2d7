"""Hot upgrade: a running service swapped for a new module at a commit point.

A relay forwards a stream of sequence numbers from the host to the host; each
version marks what it forwarded in the top byte. Across an upgrade the host
reader sees every sequence number exactly once, in order; a new module that
does not load or traps at once is rolled back and the stream goes on.
"""

from __future__ import annotations

import http.client
import json
import os
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conftest import guest
from nanonet import Geometry, Mesh, TunnelClosed, TunnelWriter
from nanonet.errors import UpgradeError
from nanonet.observe import Observer
from nanonet.runtime.upgrade import UpgradeOutcome

pytestmark = pytest.mark.timeout(180)
STREAM = int(200_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
CHUNK = 512
V1, V2 = 0, 128
TOP = 1 << 63


def relay(mark: int) -> str:
    return guest("upgradable").replace("MARK", str(mark))


TRAPS_AT_ONCE = relay(V2).replace("(local.set $a (call $tunnel",
                                  "(unreachable)\n    (local.set $a (call $tunnel", 1)
NO_SUCH_IMPORT = relay(V2).replace(
    '(import "env" "memory"',
    '(import "nanonet" "no_such_call" (func))\n  (import "env" "memory"', 1)
# a relay that ignores YIELD (it retries every negative status but CLOSED)
IGNORES_YIELD = relay(V2).replace(
    "(if (i32.eq (local.get $n) (i32.const -8)) (then (return (i32.const 0))))",
    "(br_if $more (i32.eq (local.get $n) (i32.const -8)))", 1)


def _feed(writer: TunnelWriter, count: int) -> None:
    for first in range(0, count, CHUNK):
        writer.send_many([struct.pack("<Q", i) for i in range(first, min(count, first + CHUNK))],
                         timeout=60)
    writer.close()


def _run(first: str, change: Callable[[Mesh], object], at: int = STREAM // 3
         ) -> tuple[list[int], list[int], list[object]]:
    """The stream through a relay of module ``first``; ``change(mesh)`` runs on a
    thread of its own once ``at`` messages came out. Returns the sequence
    numbers, their versions' marks, and what ``change`` returned or raised."""
    seqs: list[int] = []
    marks: list[int] = []
    result: list[object] = []
    with Mesh() as mesh:
        mesh.tunnel("a", slots=1024, max_payload=8)
        mesh.tunnel("b", slots=1024, max_payload=8)
        mesh.service("relay", first, reads=["a"], writes=["b"])
        writer, reader = mesh.writer("a"), mesh.reader("b")
        mesh.start()
        feeder = threading.Thread(target=_feed, args=(writer, STREAM), daemon=True)
        feeder.start()

        def changing() -> None:
            try:
                result.append(change(mesh))
            except UpgradeError as err:
                result.append(err)

        changer = threading.Thread(target=changing, daemon=True)
        for _ in range(STREAM + 1):  # bounded: each turn takes at least one message
            if len(seqs) >= at and changer.ident is None:
                changer.start()
                _hold_until_asked(mesh, changer)
            try:
                batch = reader.recv_many(timeout=60)
            except TunnelClosed:
                break
            for data in batch:
                (value,) = struct.unpack("<Q", data)
                seqs.append(value & (TOP - 1))
                marks.append(value >> 56)
        feeder.join(60)
        changer.join(60)
    return seqs, marks, result


def _hold_until_asked(mesh: Mesh, changer: threading.Thread) -> None:
    """Read nothing until the upgrade has asked the relay to yield: the rings
    fill up, so that it happens under a full stream, not after its end."""
    asked = threading.Event()
    for _ in range(30_000):  # bounded: 30 s
        if mesh.services["relay"].upgrade_request is not None or not changer.is_alive():
            return
        asked.wait(0.001)
    raise AssertionError("the upgrade never asked the relay to yield")


def _upgrade_to(module: str) -> Callable[[Mesh], object]:
    return lambda mesh: mesh.upgrade("relay", module)


def test_an_upgrade_under_a_stream_delivers_every_message_exactly_once() -> None:
    seqs, marks, result = _run(relay(V1), _upgrade_to(relay(V2)))
    assert seqs == list(range(STREAM))
    assert len(result) == 1 and isinstance(result[0], UpgradeOutcome), result
    assert result[0].exactly_once, result[0].describe()
    assert marks[0] == V1 and marks[-1] == V2, "the new module never ran"
    switch = marks.index(V2)
    assert set(marks[switch:]) == {V2}, "the old module ran after the new one"


@pytest.mark.parametrize(("module", "reason"), [
    (NO_SUCH_IMPORT, "failed to load"), (TRAPS_AT_ONCE, "trapped at once")],
    ids=["fails-to-load", "traps-at-once"])
def test_a_broken_new_module_is_rolled_back_and_the_stream_goes_on(module: str,
                                                                    reason: str) -> None:
    seqs, marks, result = _run(relay(V1), _upgrade_to(module))
    assert seqs == list(range(STREAM))
    assert set(marks) == {V1}
    assert len(result) == 1 and isinstance(result[0], UpgradeError), result
    assert "rolled back" in str(result[0]) or "runs on" in str(result[0])
    assert reason in str(result[0])


def test_a_guest_that_ignores_yield_is_stopped_by_its_epoch_at_least_once() -> None:
    seqs, marks, result = _run(IGNORES_YIELD, _upgrade_to(relay(V1)))
    assert len(result) == 1 and isinstance(result[0], UpgradeOutcome), result
    assert not result[0].exactly_once
    assert "at least once" in result[0].describe()
    assert marks[0] == V2 and marks[-1] == V1, "the new module never ran"
    deduped = [s for i, s in enumerate(seqs) if i == 0 or s > seqs[i - 1]]
    assert deduped == list(range(STREAM))  # repeats only: no gap, never out of order


def test_a_change_of_ends_or_geometry_is_refused_with_the_reason() -> None:
    with Mesh() as mesh:
        mesh.tunnel("a", slots=64, max_payload=8)
        mesh.tunnel("b", slots=64, max_payload=8)
        mesh.service("relay", relay(V1), reads=["a"], writes=["b"])
        mesh.start()
        with pytest.raises(UpgradeError, match=r"refused: it reads \['a'\], the new module "
                                               r"\['b'\].*restart the mesh"):
            mesh.upgrade("relay", relay(V2), reads=["b"])
        with pytest.raises(UpgradeError, match=r"refused: tunnel 'a' is slots=64 max_payload=8, "
                                               r"the new one slots=128 max_payload=8"):
            mesh.upgrade("relay", relay(V2), geometry={"a": Geometry.for_payload(128, 8)})
        with pytest.raises(UpgradeError, match="does not compile"):
            mesh.upgrade("relay", "(module (func $broken (i32.add)))")
        assert mesh.services["relay"].running


PRODUCER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "o")
  (data (i32.const 8) "VERSION")
  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (loop $more
      (local.set $r (call $send (local.get $h) (i32.const 8) (i32.const 1)))
      (if (i32.eq (local.get $r) (i32.const -8)) (then (return (i32.const 0))))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (br $more))
    (i32.const 0)))"""


def test_a_writer_only_service_yields_at_send_after_publishing() -> None:
    with Mesh() as mesh:
        mesh.tunnel("o", slots=64, max_payload=8)
        producer = mesh.service("producer", PRODUCER.replace("VERSION", "1"), writes=["o"])
        reader = mesh.reader("o")
        mesh.start()
        done: list[object] = []
        up = threading.Thread(target=lambda: done.append(
            mesh.upgrade("producer", PRODUCER.replace("VERSION", "2"))), daemon=True)
        up.start()
        seen: list[bytes] = []
        for _ in range(1_000_000):  # bounded: until the new version's messages come
            seen += reader.recv_many(timeout=30)
            if seen[-1] == b"2" and not up.is_alive():
                break
        up.join(30)
        assert len(done) == 1 and isinstance(done[0], UpgradeOutcome), done
        assert done[0].exactly_once and not done[0].by_epoch, done[0].describe()
        switch = seen.index(b"2")
        assert set(seen[:switch]) == {b"1"} and set(seen[switch:]) == {b"2"}
        assert producer.running


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_the_upgrade_route_needs_the_token_and_the_servers_origin() -> None:
    with Mesh() as mesh:
        mesh.tunnel("o", slots=64, max_payload=8)
        mesh.service("producer", PRODUCER.replace("VERSION", "1"), writes=["o"])
        reader = mesh.reader("o")
        mesh.start()
        with Observer(mesh) as obs:
            server = obs.serve(port=0)
            own = f"127.0.0.1:{server.port}"
            good = {"Authorization": f"Bearer {server.token}", "Host": own}
            new = PRODUCER.replace("VERSION", "2").encode()
            path = "/api/upgrade?service=producer"
            refused = [_post(server.port, path, new, {"Host": own}),
                       _post(server.port, path, new, {**good, "Origin": "http://evil.test"}),
                       _post(server.port, path + "&writes=p", new, good)]
            assert [status for status, _ in refused] == [401, 403, 400]
            assert "this needs the control token" in refused[0][1]["error"]
            assert "upgrade refused" in refused[2][1]["error"]
            assert set(reader.recv_many(timeout=30)) == {b"1"}  # still the old module
            status, answer = _post(server.port, path, new, {**good, "Origin": f"http://{own}"})
            # nobody reads: the producer parks on a full ring and its epoch stops it, or,
            # when the machine is slow to schedule it, it is still refilling and stops at
            # the commit point after its next send; both lose and repeat nothing
            assert (status, answer["upgraded"], answer["exactly_once"]) == (200, "producer", True)
            assert ("writer-only service" in answer["outcome"]
                    or "at a commit point" in answer["outcome"]), answer["outcome"]
        seen: list[bytes] = []
        for _ in range(100_000):  # bounded: until the new module's messages come
            seen += reader.recv_many(timeout=30)
            if seen[-1] == b"2":
                break
        assert seen[-1] == b"2"


def test_a_relay_parked_on_an_empty_ring_is_woken_and_yields() -> None:
    with Mesh() as mesh:
        mesh.tunnel("a", slots=64, max_payload=8)
        mesh.tunnel("b", slots=64, max_payload=8)
        relay_svc = mesh.service("relay", relay(V1), reads=["a"], writes=["b"])
        writer, reader = mesh.writer("a"), mesh.reader("b")
        mesh.start()
        writer.send(struct.pack("<Q", 1))
        assert reader.recv(timeout=30) == struct.pack("<Q", 1)
        for _ in range(30_000):  # bounded: until it sleeps on the empty ring
            if relay_svc.parked:
                break
            threading.Event().wait(0.001)
        assert relay_svc.parked
        outcome = mesh.upgrade("relay", relay(V2))
        assert outcome.exactly_once and not outcome.by_epoch, outcome.describe()
        writer.send(struct.pack("<Q", 2))
        assert reader.recv(timeout=30) == struct.pack("<Q", 2 | V2 << 56)
