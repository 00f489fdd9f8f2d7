"""HTTP answered by a guest in a browser tab: the host carries each port call there.

``nanonet run examples/tab_http/nanonet.toml --web ... --share`` serves the
page and the route; real headless Chromium opens the tab, whose Worker runs
the echo guest over a port memory of the tab's own; requests through the
ingress are answered by it (GET, POST with a body, a few hundred from 8
keep-alive clients at once, each reply naming its request). Before the tab
joins and after it closes the route is 503; a body over max_body_bytes is
still 413. The probe guest in a tab never answers a path starting with
``/s``: those are 504 at the route's deadline, and the tab's mailboxes they
held come free again (more slow calls than the tab has mailboxes, then a
normal one is answered). A Python client plays the tab's port link to check
the tokens (forged, or granting another service: refused, and the port stays
at 503), one link per port (``busy``), a reply delivered, and a CANCEL when
the host's caller gives up, its late reply dropped. A run whose only service
is in a tab uses little CPU while it waits (its run loop sleeps).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from browser_tab import need_chromium, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.bridge.webhost import WebHost
from nanonet.bridge.webplan import tab_service
from nanonet.bridge.webport import CALL, CANCEL, HEAD, REPLY, message
from nanonet.errors import CallTimeout, InvalidValue, TunnelBroken
from nanonet.manifest.manifest import load_manifest
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tab_http" / "nanonet.toml"
PROBE = ROOT / "tests" / "guests" / "http_probe.wat"  # "/s...": never answered
PROBE_IN_TAB = f"""
[web]
browsers = ["tab"]

[ports.api]
server = "probe"
max_payload = 4096
host_clients = 8

[ports.other]
server = "other"
max_payload = 64

[services.probe]
source = "{PROBE}"
node = "tab"

[services.other]
source = "{PROBE}"
node = "tab"
"""
SERVES = {"api": "probe", "other": "other"}


def _drain(proc: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The run's stderr lines, read into a queue by a thread of its own until EOF."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stderr or ():
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def _lines(lines: queue.Queue[str], wanted: dict[str, str], seconds: float) -> dict[str, str]:
    """The first group of each pattern in ``wanted`` as the run prints them."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    while len(found) < len(wanted) and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        for key, pattern in wanted.items():
            if m := re.search(pattern, line):
                found[key] = m.group(1)
    assert len(found) == len(wanted), f"the run printed only {found}"
    return found


def _ask(c: http.client.HTTPConnection, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    c.request("POST" if body is not None else "GET", path, body=body)
    r = c.getresponse()
    return r.status, r.read()


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.05)


def _many(host: str, port: int, clients: int, per: int) -> list[str]:
    """``clients`` keep-alive connections, ``per`` requests each (a POST with a
    body every third); what went wrong, one line per wrong reply."""
    wrong: list[str] = []

    def one(k: int) -> None:
        c = http.client.HTTPConnection(host, port, timeout=30)
        for i in range(per):
            path = f"/echo/c{k}/r{i}"
            body = f"body of {k}/{i} ".encode() * (i % 7 + 1) if i % 3 == 0 else None
            status, got = _ask(c, path, body)
            verb = b"POST " if body is not None else b"GET "
            want = verb + path.encode() + b"\n" + (body or b"")
            if (status, got) != (200, want):
                wrong.append(f"{path}: {status} {got[:80]!r}")
        c.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return wrong


def test_the_example_answers_http_from_a_tab(tmp_path: Path) -> None:
    need_chromium()
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", str(EXAMPLE),
                             "--web", "127.0.0.1:0", "--http", "127.0.0.1:0", "--share",
                             "--timeout", "150"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines, reader = _drain(proc)
    try:
        got = _lines(lines, {"tab": r"open (http://\S+)",
                            "route": r"route /echo/\* \(port 'echo'\): (http://\S+)"}, 60)
        assert got["route"].endswith("/echo/")
        host, port = re.findall(r"http://([\d.]+):(\d+)/", got["route"])[0]
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        status, body = _ask(c, "/echo/early")
        assert status == 503 and b"no tab serves it now" in body
        with open_tab(got["tab"]) as page:
            page.wait_for_function("window.nanonet.ports.echo && "
                                   "window.nanonet.ports.echo.link === 'serving'", timeout=60_000)
            _until(lambda: _ask(c, "/echo/up")[0] == 200, 30, "the tab serves the route")
            assert _ask(c, "/echo/hi?x=1") == (200, b"GET /echo/hi\n")
            body = b"a body\x00\xff"
            assert _ask(c, "/echo/post", body) == (200, b"POST /echo/post\n" + body)
            assert _many(host, int(port), 8, 40) == []
            status, body = _ask(c, "/echo/big", b"x" * 3000)  # max_body_bytes = 2048
            assert status == 413 and b"max_body_bytes" in body
            stats = page.evaluate("window.nanonet.portStats('echo')")
            assert stats["replied"] >= 8 * 40 and stats["in_flight"] == 0
            page.close()
            c.close()
            c = http.client.HTTPConnection(host, int(port), timeout=30)
            _until(lambda: _ask(c, "/echo/late")[0] == 503, 30, "503 once the tab left")
            c.close()
    finally:
        proc.terminate()
        proc.wait(30)
        reader.join(30)
        assert proc.stderr is not None
        proc.stderr.close()


def _cpu_seconds(pid: int) -> float:
    """The user and system CPU time process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_run_whose_only_service_is_in_a_tab_sleeps_while_it_waits(tmp_path: Path) -> None:
    """The host runs no service and reads no tunnel here: its run loop has
    nothing to park on, and must still not spin (a spinning loop held a core
    and the GIL, and every thread carrying the tab's calls waited for it)."""
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", str(EXAMPLE),
                             "--web", "127.0.0.1:0", "--http", "127.0.0.1:0", "--share",
                             "--timeout", "60"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines, reader = _drain(proc)
    try:
        got = _lines(lines, {"route": r"route /echo/\* \(port 'echo'\): (http://\S+)"}, 60)
        host, port = re.findall(r"http://([\d.]+):(\d+)/", got["route"])[0]
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        assert _ask(c, "/echo/early")[0] == 503  # served: no tab yet
        c.close()
        cpu0 = _cpu_seconds(proc.pid)
        time.sleep(2.0)  # the idle seconds the CPU time is counted over
        used = _cpu_seconds(proc.pid) - cpu0
        assert used < 0.6, f"{used:.2f} s of CPU in two idle seconds"
    finally:
        proc.terminate()
        proc.wait(30)
        reader.join(30)
        assert proc.stderr is not None
        proc.stderr.close()


def test_a_tab_that_does_not_answer_is_504_and_its_mailboxes_come_free(tmp_path: Path) -> None:
    need_chromium()
    with tab_host(tmp_path, PROBE_IN_TAB, {"probe": [], "other": []}, {},
                  servers_of=SERVES) as web, \
            HttpIngress(web.mesh, [HttpRoute("/*", "api", timeout_ms=300)]) as ingress:
        assert ingress.address is not None
        host, port = ingress.address
        url = f"http://127.0.0.1:{web.port}/#token={tab_token(web, ('probe', 'other'))}"
        with open_tab(url) as page:
            page.wait_for_function("window.nanonet.ports.api && "
                                   "window.nanonet.ports.api.link === 'serving'", timeout=60_000)
            c = http.client.HTTPConnection(host, port, timeout=30)
            _until(lambda: _ask(c, "/e")[0] == 200, 30, "the tab serves the route")
            slow = 24  # more than the tab's 16 mailboxes: each must come free again
            for i in range(slow):
                status, body = _ask(c, f"/s{i}")
                assert status == 504 and b"timeout_ms (300 ms)" in body
            proxy = web.ports.proxies["api"] if web.ports else None
            assert proxy is not None
            _until(lambda: proxy.cancelled >= slow, 10, "every slow call cancelled")
            status, body = _ask(c, "/after", b"still answered")
            assert status == 200 and b"/after" in body and body.endswith(b"still answered")
            tab = page.evaluate("window.nanonet.portStats('api')")
            assert tab["cancelled"] >= slow and tab["in_flight"] == 0
            c.close()


def _refused(web: WebHost, port: str, token: str) -> str:
    with connect(f"ws://127.0.0.1:{web.port}/nanonet-port/{port}", open_timeout=10) as ws:
        ws.send(json.dumps({"token": token}))
        with pytest.raises(ConnectionClosed) as err:
            ws.recv(timeout=10)
    rcvd = err.value.rcvd
    return "" if rcvd is None else rcvd.reason


def test_only_a_granted_tab_serves_a_port_and_a_caller_who_gives_up_cancels(
        tmp_path: Path) -> None:
    with tab_host(tmp_path, PROBE_IN_TAB, {"probe": [], "other": []}, {},
                  servers_of=SERVES) as web:
        client = web.mesh.client("api")
        forged = tab_token(web, ("probe",))[:-4] + "AAAA"
        assert _refused(web, "api", forged) == "refused"
        assert _refused(web, "api", tab_token(web, ("other",))) == "refused"
        assert _refused(web, "nothing", tab_token(web, ("probe",))) == "refused"
        assert len(web.refusals) == 3 and "does not grant port 'api'" in web.refusals[1]
        with pytest.raises(TunnelBroken, match="no tab serves it now"):
            client.call(b"ping", 5)
        with connect(f"ws://127.0.0.1:{web.port}/nanonet-port/api", open_timeout=10) as ws:
            ws.send(json.dumps({"token": tab_token(web, ("probe",))}))
            _until(lambda: web.ports is not None and web.ports.link("api") is not None, 10,
                   "the link serves the port")
            assert _refused(web, "api", tab_token(web, ("probe",))) == "busy"
            answer: list[bytes] = []
            caller = threading.Thread(target=lambda: answer.append(client.call(b"ping", 10)))
            caller.start()
            msg = ws.recv(timeout=10)
            assert isinstance(msg, bytes)
            kind, _, _, wire = HEAD.unpack_from(msg)
            assert kind == CALL and msg[HEAD.size:] == b"ping"
            ws.send(message(REPLY, wire, b"pong"))
            caller.join(10)
            assert answer == [b"pong"]
            with pytest.raises(CallTimeout):
                client.call(b"slow", 0.2)
            first = ws.recv(timeout=10)
            assert isinstance(first, bytes)
            call = HEAD.unpack_from(first)
            cancel = ws.recv(timeout=10)
            assert isinstance(cancel, bytes)
            assert call[0] == CALL and HEAD.unpack_from(cancel)[::3] == (CANCEL, call[3])
            proxy = web.ports.proxies["api"] if web.ports else None
            assert proxy is not None
            late = proxy.late
            ws.send(message(REPLY, call[3], b"too late"))
            _until(lambda: proxy.late == late + 1, 10, "the late reply dropped")
            assert web.mesh.ports["api"].statistics().replied == 1
        _until(lambda: web.ports is not None and web.ports.link("api") is None, 10,
               "the link's end seen")
        with pytest.raises(TunnelBroken):
            client.call(b"ping", 5)


def test_a_tab_service_may_serve_ports_but_not_call_them(tmp_path: Path) -> None:
    (tmp_path / "nanonet.toml").write_text(PROBE_IN_TAB + '\n[services.caller]\nsource = '
                                           f'"{PROBE}"\nnode = "tab"\ncalls = ["api"]\n')
    m = load_manifest(tmp_path / "nanonet.toml")
    plan = tab_service(m, "probe", [])
    assert [p.as_json()["port"] for p in plan.ports] == ["api"]
    assert struct.unpack_from("<I", plan.adapter, 0)[0] == 0x6D736100  # b"\0asm"
    with pytest.raises(InvalidValue, match="may serve ports, not call them"):
        tab_service(m, "caller", [])
