"""Feeding a running mesh from outside, as a user does it: ``nanonet run --send
TUNNEL=FILE`` (lines or records, a file or the standard input, the end of the file
closing the tunnel, a full ring waited on), and ``nanonet replay`` into a ``nanonet
run`` mesh through the control endpoint's write path (``--feed``), which refuses
a request without the token or from a foreign Host or Origin. Real subprocesses of
``python -m nanonet.cli``, real HTTP to 127.0.0.1 (``feeding.py``)."""

from __future__ import annotations

import http.client
import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from feeding import WATCHDOG, cli, holding_mesh, relay_mesh, running, user_env
from nanonet.observe.pcapng import PcapngWriter, packet

pytestmark = pytest.mark.timeout(180)


def _received(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("host ← out")]


def test_send_feeds_a_file_line_by_line_and_its_end_closes_the_tunnel(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("hello\nworld\n")
    done = cli("run", str(relay_mesh(tmp_path)), "--send", f"in={lines}", "--timeout", "30",
               env=user_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert _received(done.stdout) == ["host ← out #1 (5 bytes): 'hello'",
                                      "host ← out #2 (5 bytes): 'world'"]
    # the end of the file closed "in": relay saw CLOSED, closed "out" and returned
    assert "every service ended after" in done.stdout
    assert f"host sent 2 message(s) into in from {lines}" in done.stdout


def test_send_reads_records_from_the_standard_input(tmp_path: Path) -> None:
    messages = [b"a\nb", b"\x00\xff", b""]
    records = b"".join(struct.pack("<I", len(m)) + m for m in messages)
    done = cli("run", str(relay_mesh(tmp_path)), "--send", "in=-", "--send-format", "records",
               "--timeout", "30", env=user_env(tmp_path), stdin=records)
    assert done.returncode == 0, done.stderr
    assert _received(done.stdout) == ["host ← out #1 (3 bytes): 61 0a 62",
                                      "host ← out #2 (2 bytes): 00 ff",
                                      "host ← out #3 (0 bytes): ''"]
    assert "host sent 3 message(s) into in from the standard input" in done.stdout


def test_send_waits_on_a_full_ring_and_drops_nothing(tmp_path: Path) -> None:
    count = 3000  # through rings of 4 slots: the feeder waits on "in" again and again
    done = cli("run", str(relay_mesh(tmp_path)), "--send", "in=-", "--quiet", "--timeout", "60",
               env=user_env(tmp_path), stdin="".join(f"{n}\n" for n in range(count)))
    assert done.returncode == 0, done.stderr
    assert f"host received {count:,} message(s) on out" in done.stdout
    assert f"host sent {count:,} message(s) into in" in done.stdout
    full = next(line for line in done.stdout.splitlines() if line.strip().startswith("in "))
    assert int(full.split()[4].replace(",", "")) > 0  # the ring was found full: it waited


def test_a_standard_input_left_open_does_not_hold_the_run(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run",
                             str(relay_mesh(tmp_path)), "--send", "in=-", "--timeout", "2"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None
        proc.stdin.write("early\n")
        proc.stdin.flush()  # and never closed: the feeder still waits on it at the end
        proc.wait(WATCHDOG)  # a few lines: the pipes do not fill
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0, err
    assert _received(out) == ["host ← out #1 (5 bytes): 'early'"]
    assert "stopped at the timeout (2 s)" in out
    assert "host sent 1 message(s) into in from the standard input" in out


def test_send_keep_open_leaves_the_tunnel_open_after_the_file(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("one\n")
    done = cli("run", str(relay_mesh(tmp_path)), "--send", f"in={lines}", "--send-keep-open",
               "--timeout", "1", env=user_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert _received(done.stdout) == ["host ← out #1 (3 bytes): 'one'"]
    assert "stopped at the timeout (1 s)" in done.stdout  # relay still waited on "in"


def test_a_line_over_max_payload_is_one_error_naming_its_number(tmp_path: Path) -> None:
    lines = tmp_path / "big.txt"
    lines.write_text("ok\nthis line is far too long\nnever\n")
    done = cli("run", str(relay_mesh(tmp_path)), "--send", f"in={lines}", "--timeout", "30",
               env=user_env(tmp_path))
    assert done.returncode == 1
    assert (f"nanonet: message-too-big: --send in: line 2 of {lines} is 25 bytes, over the "
            "max_payload of tunnel 'in' (16 bytes)") in done.stderr
    assert "Traceback" not in done.stderr
    assert _received(done.stdout) == ["host ← out #1 (2 bytes): 'ok'"]  # what came before
    assert "every service ended after" in done.stdout  # and the tunnel was closed


def test_a_record_over_max_payload_names_the_record(tmp_path: Path) -> None:
    records = struct.pack("<I", 2) + b"ok" + struct.pack("<I", 17) + bytes(17)
    done = cli("run", str(relay_mesh(tmp_path)), "--send", "in=-", "--send-format", "records",
               "--timeout", "30", env=user_env(tmp_path), stdin=records)
    assert done.returncode == 1
    assert ("--send in: record 2 of the standard input is 17 bytes, over the max_payload "
            "of tunnel 'in' (16 bytes)") in done.stderr


def test_send_into_a_tunnel_a_service_writes_is_refused_naming_it(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("x\n")
    done = cli("run", str(relay_mesh(tmp_path)), "--send", f"out={lines}",
               env=user_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "nanonet: invalid-value: --send out: the write end of tunnel 'out' is held by service "
        "'relay', not the host; only a tunnel with writer = \"host\" can be fed")
    assert "building" not in done.stdout  # refused before anything loads


def _capture(messages: list[bytes], tmp_path: Path) -> Path:
    buf = io.BytesIO()
    writer = PcapngWriter(buf, ["in"], ["made by the test"])
    writer.write_blocks([packet(m, 1_000 + n, 0, n) for n, m in enumerate(messages)])
    writer.flush()
    path = tmp_path / "cap.pcapng"
    path.write_bytes(buf.getvalue())
    return path


def test_replay_writes_into_a_running_mesh_through_its_feed(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    cap = _capture([b"replayed-0", b"replayed-1"], tmp_path)
    with running(str(relay_mesh(tmp_path)), "--feed", "in", env=env) as run:
        done = cli("replay", str(cap), "--into", "in", env=env)  # the control file finds it
        assert done.returncode == 0, done.stderr
        assert "sent 2 messages into 'in'" in done.stderr
        refused = cli("replay", str(cap), "--into", "out", env=env)
        code, out, _err = run.stop()
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "replay: the write end of tunnel 'out' is held by 'relay': only a tunnel whose "
        "writer is the host (writer = \"host\") can be sent into")
    assert _received(out) == ["host ← out #1 (10 bytes): 'replayed-0'",
                              "host ← out #2 (10 bytes): 'replayed-1'"]
    assert code == 0


def test_replay_into_a_host_end_the_run_closed_says_how_to_keep_it(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    cap = _capture([b"x"], tmp_path)
    with running(str(holding_mesh(tmp_path)), "--feed", "nap", env=env) as run:
        done = cli("replay", str(cap), "--into", "hold", env=env)
        run.stop()
    assert done.returncode == 1
    assert "run the mesh with --feed hold" in done.stderr


def _post(port: int, path: str, body: bytes | None, headers: dict[str, str],
          method: str = "POST") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()).get("error", "")
    finally:
        conn.close()


def test_the_write_path_needs_the_token_and_the_servers_host_and_origin(
        tmp_path: Path) -> None:
    env = user_env(tmp_path)
    with running(str(relay_mesh(tmp_path)), "--feed", "in", env=env) as run:
        own = f"127.0.0.1:{run.port}"
        good = {"Authorization": f"Bearer {run.token}", "Host": own}
        refusals = [
            _post(run.port, "/api/send?tunnel=in", b"no token", {"Host": own}),
            _post(run.port, "/api/send?tunnel=in", b"wrong token",
                  {**good, "Authorization": "Bearer not-the-token"}),
            _post(run.port, "/api/send?tunnel=in", b"rebound", {**good, "Host": "evil.test"}),
            _post(run.port, "/api/send?tunnel=in", b"cross-site",
                  {**good, "Origin": "http://evil.test"}),
            _post(run.port, "/api/replay?tunnel=in", b"cross-site",
                  {**good, "Origin": "http://evil.test"}),
            _post(run.port, "/api/inspect?tunnel=in", None, {"Host": own}, "GET"),
            _post(run.port, "/api/inspect?tunnel=in", None,
                  {**good, "Origin": "http://evil.test"}, "GET"),
        ]
        inspected = _post(run.port, "/api/inspect?tunnel=in", None, good, "GET")
        accepted = _post(run.port, "/api/send?tunnel=in", b"let in",
                         {**good, "Origin": f"http://{own}"})
        code, out, _err = run.stop()
    assert [status for status, _ in refusals] == [401, 401, 403, 403, 403, 401, 403]
    assert inspected == (200, "")
    assert "this needs the control token" in refusals[0][1]
    assert "unexpected Host header 'evil.test'" in refusals[2][1]
    assert "requests from pages of origin 'http://evil.test' are refused" in refusals[3][1]
    assert accepted == (200, "")
    assert _received(out) == ["host ← out #1 (6 bytes): 'let in'"]  # only the accepted one
    assert code == 0
