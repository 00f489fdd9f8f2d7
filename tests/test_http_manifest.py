"""``[ingress]`` and ``[[http]]`` in nanonet.toml: checked at their lines, described by
``check``, and served by ``nanonet run`` (the example, in a subprocess, stopped by a signal)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet.cli import main
from nanonet.errors import ManifestError
from nanonet.manifest.manifest import check_text, parse

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "http"
WATCHDOG = 60.0

MANIFEST = """\
[ports.api]
server = "hello"
max_payload = 4096
host_clients = 4

[services.hello]
source = "hello.wat"

[[http]]
route = "/api/*"
port = "api"
methods = ["GET"]
timeout_ms = 250
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE / "hello.wat", tmp_path / "hello.wat")
    return tmp_path


def _errors(folder: Path, text: str) -> list[ManifestError]:
    return check_text(folder / "nanonet.toml", text)[1]


def test_check_prints_each_route_and_its_port(folder: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "nanonet.toml").write_text(MANIFEST)
    assert main(["check", "--no-load", str(folder / "nanonet.toml")]) == 0
    out = capsys.readouterr().out
    assert "http:\n  listens on 127.0.0.1:8080" in out
    assert "  /api/* → port api (GET; timeout 250 ms)" in out


def test_an_unknown_port_is_an_error_at_its_line_with_a_suggestion(folder: Path) -> None:
    with pytest.raises(ManifestError) as err:
        parse(folder / "nanonet.toml", MANIFEST.replace('port = "api"', 'port = "apj"'))
    assert (err.value.line, err.value.key) == (11, "http[0].port")
    assert "no port named 'apj' (ports: api); did you mean 'api'?" in str(err.value)


def test_a_port_without_host_mailboxes_cannot_be_routed(folder: Path) -> None:
    [err] = _errors(folder, MANIFEST.replace("host_clients = 4", "host_clients = 0"))
    assert err.line == 11 and "has host_clients = 0" in str(err) and "set host_clients" \
        in str(err)


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ('route = "/api/*"', 'route = "api/*"', 10, "write a path starting with /"),
    ('route = "/api/*"', 'route = "/a*i"', 10, "a prefix ending in *"),
    ('methods = ["GET"]', 'methods = ["FETCH"]', 12, "'GET', 'HEAD'"),
    ("timeout_ms = 250", "timeout_ms = 0", 13, "must be a positive integer (got 0)"),
    ("[[http]]", '[ingress]\nlisten = "localhost"\n\n[[http]]', 10, "is not HOST:PORT"),
    ("[[http]]", "[ingress]\nmax_header_bytes = 10\n\n[[http]]", 10, "must be at least 256"),
])
def test_a_bad_route_or_web_key_is_an_error_at_its_line(
        folder: Path, old: str, new: str, line: int, words: str) -> None:
    [err] = _errors(folder, MANIFEST.replace(old, new))
    assert err.line == line and words in str(err), str(err)


def test_a_route_twice_is_an_error(folder: Path) -> None:
    text = MANIFEST + '\n[[http]]\nroute = "/api/*"\nport = "api"\n'
    [err] = _errors(folder, text)
    assert (err.line, err.key) == (16, "http[1].route") and "is also route 0" in str(err)


def test_ingress_without_routes_is_an_error(folder: Path) -> None:
    text = MANIFEST.split("[[http]]")[0] + '[ingress]\nlisten = "127.0.0.1:9"\n'
    [err] = _errors(folder, text)
    assert err.key == "ingress" and "no [[http]] route" in str(err)


# -- nanonet run of the example -------------------------------------------------

@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], tuple[str, int]]]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run",
                             str(EXAMPLE / "nanonet.toml"), "--http", "127.0.0.1:0"],
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "http: serving" not in lines[-1]:
            lines.append(proc.stdout.readline())
            assert lines[-1], f"stdout ended first: {lines[-5:]} {proc.stderr}"
        found = re.search(r"http://([\d.]+):(\d+)", lines[-1])
        assert found is not None
        yield proc, (found[1], int(found[2]))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WATCHDOG)


@pytest.mark.parametrize(("sig", "why", "code"), [
    (signal.SIGTERM, "stopped by SIGTERM", 0), (signal.SIGINT, "stopped by Ctrl-C", 130)])
def test_nanonet_run_serves_the_example_until_a_signal(
        running: tuple[subprocess.Popen[str], tuple[str, int]], sig: int, why: str,
        code: int) -> None:
    proc, address = running
    c = http.client.HTTPConnection(*address, timeout=WATCHDOG)
    try:
        c.request("GET", "/api/hello")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"hello from wat: /api/hello #1\n")
        c.request("GET", "/c/hello", headers={"User-Agent": "test"})
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"hello from c: /c/hello #1 (test)\n")
        c.request("GET", "/elsewhere")
        r = c.getresponse()
        assert (r.status, r.read()) == (404, b"not found: /elsewhere\n")
    finally:
        c.close()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=WATCHDOG)
    assert "Traceback" not in err
    assert f"{why} after" in out and "hello_c      stopped" in out
    assert proc.returncode == code


COMPONENT_ROUTE = """
[services.web]
component = "hello_component.c"
wit = "http"
world = "server"

[[http]]
route = "/w/*"
service = "web"
"""


def test_check_says_a_routes_server_is_a_component(folder: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE / "hello_component.c", folder / "hello_component.c")
    (folder / "nanonet.toml").write_text(MANIFEST + COMPONENT_ROUTE)
    assert main(["check", str(folder / "nanonet.toml")]) == 0
    out = capsys.readouterr().out
    assert "  /w/* → component web (its nanonet:http/handler.handle, one call per " \
        "request) (any method; timeout 5000 ms)" in out
    assert "service web: component hello_component.c, built by zig cc and wit-component " \
        "(world server of http)" in out
    assert "HTTP route /w/*: nanonet:http/handler.handle, one call per request" in out


@pytest.mark.parametrize(("old", "new", "words"), [
    ('service = "web"', 'service = "wbe"', "no service named 'wbe' (services: hello, web); "
     "did you mean 'web'?"),
    ('service = "web"', 'service = "hello"', "service 'hello' is a core module, which serves "
     "HTTP through a port"),
    ('service = "web"', 'service = "web"\nport = "api"', "needs exactly one of port"),
    ('service = "web"', 'service = "web"\nstream = true', "a component route takes whole "
     "requests"),
])
def test_a_component_route_is_checked_at_its_line(folder: Path, old: str, new: str,
                                                  words: str) -> None:
    shutil.copy(EXAMPLE / "hello_component.c", folder / "hello_component.c")
    errors = _errors(folder, (MANIFEST + COMPONENT_ROUTE).replace(old, new))
    assert len(errors) == 1 and words in str(errors[0])
    assert errors[0].line >= 20  # the second route's lines, from its [[http]]


def test_check_refuses_a_route_to_a_component_without_the_handler(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nanonet.component.pair import CALLEE

    (folder / "calc.wat").write_text(CALLEE)
    text = MANIFEST + COMPONENT_ROUTE.replace('component = "hello_component.c"\nwit = "http"\n'
                                              'world = "server"', 'component = "calc.wat"')
    (folder / "nanonet.toml").write_text(text)
    assert main(["check", str(folder / "nanonet.toml")]) == 1
    err = capsys.readouterr().err
    assert "http[1].service: component 'web' does not export nanonet:http/handler (its " \
        "exports: nanonet:bench/calc#scale); build it for the world nanonet:http/server" in err
