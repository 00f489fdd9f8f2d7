"""One error vocabulary: every exception nanonet defines, its code, and its doc.

The walk below imports every module of the package and finds every exception
class defined in it, so a new class that is not a ``NanonetError`` with its own
pinned, documented code fails here, and docs/errors.md cannot drift.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import nanonet
from nanonet import (
    CallTimeout,
    Grants,
    InvalidValue,
    LoadError,
    Mesh,
    NanonetError,
    NotFound,
    PcapngError,
    TapError,
    TunnelTimeout,
    WrongType,
)
from nanonet.bench.component_cost import QUAD
from nanonet.component.service import ComponentService
from nanonet.component.split import data_plane
from nanonet.errors import BuildTimeout
from nanonet.manifest.buildcmd import run_build
from nanonet.observe import Observer
from nanonet.observe.pcapng import read_packets
from nanonet.policy.verify import verify
from nanonet.policy.wasmbin import WasmFormatError
from nanonet.policy.wasmmod import scan
from nanonet.runtime.budget import guest_shape

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"

# Published codes: a code never changes once it is here.
PUBLISHED = {
    "NanonetError": "error", "TunnelClosed": "tunnel-closed", "TunnelCorrupt": "tunnel-corrupt",
    "TunnelBroken": "tunnel-broken",
    "TunnelTimeout": "tunnel-timeout", "MessageTooBig": "message-too-big",
    "InvalidValue": "invalid-value", "EndpointTaken": "endpoint-taken", "NotFound": "not-found",
    "WrongType": "wrong-type", "CallTimeout": "call-timeout", "LoadError": "load-failed",
    "GuestTrap": "guest-trap", "ManifestError": "manifest-invalid", "BuildError": "build-failed",
    "BuildTimeout": "build-timeout", "ControlFileError": "control-file", "TapError": "tap-failed",
    "TapStalled": "tap-stalled", "PcapngError": "pcapng-invalid", "MissingTool": "missing-tool",
    "BenchError": "bench-failed", "BridgeProtocolError": "bridge-protocol",
    "BridgeRefused": "bridge-refused", "BridgeUnreachable": "bridge-unreachable",
    "TokenRefused": "token-refused", "StopTimeout": "stop-timeout", "InternalError": "internal",
    "LifecycleError": "lifecycle", "UpgradeError": "upgrade-failed",
}
# Defined in nanonet, never raised to a user: each is named in the doc's last section.
INTERNAL = {
    "nanonet.policy.wasmbin.WasmFormatError", "nanonet.policy.wasmbin.UnknownOpcode",
    "nanonet.component.calls.HostFuncError", "nanonet.host.modcache.CacheWarning",
    "nanonet.ring.protocol.WouldPark", "nanonet.cli.stopping.Terminated",
    "nanonet.web.head.HttpError", "nanonet.web.forms.BadReply",
    "nanonet.component.graph.Unfit",  # caught by ringplan.decide: the host path and why
    "nanonet.component.shim.NotFlat",  # caught by graph.py: an Unfit with its words
    "nanonet.observe.tapbuild.BadLength",  # caught by tap.py: the tap ends with a TapError
    "nanonet.manifest.schema.AtKey",  # caught by pydantic: a ManifestError at that key
    "nanonet.bridge.pubwindow.Refused",  # caught by the durable sender: published again
}


def _every_exception_class() -> set[type[BaseException]]:
    for mod in pkgutil.walk_packages(nanonet.__path__, "nanonet."):
        importlib.import_module(mod.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [BaseException]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                todo.append(sub)
                found.add(sub)
    return {c for c in found if c.__module__.split(".")[0] == "nanonet"}


def _public() -> list[type[BaseException]]:
    return sorted((c for c in _every_exception_class()
                   if f"{c.__module__}.{c.__qualname__}" not in INTERNAL),
                  key=lambda c: c.__name__)


def _doc_rows() -> dict[str, tuple[str, str]]:
    """class name -> (code, the "also" cell) from the doc's table."""
    rows = re.findall(r"^\| `([^`]+)` \| `(\w+)` \|([^|]*)\|", DOC.read_text(), flags=re.M)
    return {name: (code, also.strip()) for code, name, also in rows}


def _also(cls: type[BaseException]) -> str:
    """The builtin exceptions ``cls`` keeps for code that catches the old ones."""
    names = [base.__name__ for c in cls.__mro__ if c.__module__.startswith("nanonet")
             for base in c.__bases__ if base.__module__ == "builtins" and base is not Exception]
    return ", ".join(f"`{n}`" for n in names)


def test_every_public_exception_is_a_nanonet_error_with_a_pinned_code() -> None:
    public = _public()
    assert {c.__name__ for c in public} == set(PUBLISHED)
    for cls in public:
        assert issubclass(cls, NanonetError), f"{cls.__module__}.{cls.__name__}"
        assert "code" in vars(cls), f"{cls.__name__} inherits its code instead of having one"
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.code), cls.code
        assert cls.code == PUBLISHED[cls.__name__]
    codes = [c.code for c in public if issubclass(c, NanonetError)]
    assert len(set(codes)) == len(codes)


def test_every_public_exception_is_documented_with_its_code_and_builtins() -> None:
    rows = _doc_rows()
    assert set(rows) == set(PUBLISHED)
    for cls in _public():
        assert issubclass(cls, NanonetError), cls.__name__
        assert rows[cls.__name__] == (cls.code, _also(cls)), cls.__name__


def test_internal_exceptions_are_named_in_the_doc_and_stay_internal() -> None:
    text = DOC.read_text().split("## Not raised to you", 1)[1]
    for dotted in INTERNAL:
        module, name = dotted.rsplit(".", 1)
        assert f"`{name}` (`{module}`)" in text or f"`{name}`" in text, name
    every = {f"{c.__module__}.{c.__qualname__}" for c in _every_exception_class()}
    assert every >= INTERNAL
    assert not any(issubclass(c, NanonetError) for c in _every_exception_class()
                   if f"{c.__module__}.{c.__qualname__}" in INTERNAL)


def test_errors_the_public_api_names_are_exported() -> None:
    for name in ("CallTimeout", "NotFound", "PcapngError", "TapError", "TapStalled",
                 "TunnelTimeout", "WrongType"):
        assert name in nanonet.__all__ and getattr(nanonet, name).code == PUBLISHED[name]


# -- what used to leak builtins ------------------------------------------------

def test_a_reader_timeout_is_a_nanonet_error_and_still_a_timeout_error() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t")
        reader = mesh.reader("t")
        with pytest.raises(TunnelTimeout, match="pass a longer timeout") as got:
            reader.recv(timeout=0.01)
        assert isinstance(got.value, TimeoutError) and got.value.code == "tunnel-timeout"
        with pytest.raises(TimeoutError):
            reader.recv_many(4, timeout=0.01)


def test_a_writer_timeout_on_a_full_tunnel_is_a_tunnel_timeout() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=2, max_payload=8)
        writer = mesh.writer("t")
        with pytest.raises(TunnelTimeout, match="more slots") as got:
            writer.send_many([b"x"] * 3, timeout=0.01)
        assert isinstance(got.value, TimeoutError)
        with pytest.raises(TimeoutError):
            writer.send(b"y", timeout=0.01)


def test_a_pcapng_parse_error_is_a_nanonet_error_and_a_value_error() -> None:
    with pytest.raises(PcapngError) as got:
        list(read_packets(io.BytesIO(b"\0" * 32)))
    assert isinstance(got.value, NanonetError) and isinstance(got.value, ValueError)
    assert got.value.code == "pcapng-invalid"


def test_a_tap_on_an_unknown_tunnel_or_a_second_tap_is_a_nanonet_error(tmp_path: Path) -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t")
        with pytest.raises(NotFound, match="no tunnel named 'nope'") as missing:
            obs.tap("nope", tmp_path / "a.pcapng")
        assert isinstance(missing.value, LookupError)
        obs.tap("t", tmp_path / "b.pcapng")
        with pytest.raises(TapError, match="already has a tap") as twice:
            obs.tap("t", tmp_path / "c.pcapng")
        assert isinstance(twice.value, RuntimeError)
        obs.stop_tap("t")
        with pytest.raises(TapError, match="has no tap"):
            obs.stop_tap("nope")


def test_mesh_building_errors_have_their_own_classes() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t")
        with pytest.raises(InvalidValue, match="already exists"):
            mesh.tunnel("t")
        with pytest.raises(NotFound, match=r"create it with mesh\.tunnel"):
            mesh.reader("nope")
    with pytest.raises(InvalidValue, match="unknown grant"):
        Grants.of(["clock", "telepathy"])


def test_a_build_command_past_its_timeout_is_a_nanonet_error(tmp_path: Path) -> None:
    with pytest.raises(BuildTimeout, match="ran past its timeout") as got:
        run_build([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, 0.3,
                  lambda _line: None, "svc")
    assert isinstance(got.value, NanonetError) and not isinstance(got.value, OSError)


# core modules the decoder refuses: a section past the end, an unknown import kind
GARBAGE = [b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f",
           b"\0asm\x01\0\0\0\x02\x06\x01\x01a\x01b\x09"]
# a component whose core-module section runs past the end of the file
BAD_COMPONENT = b"\0asm\x0d\0\x01\0\x01\x09\0asm"


@pytest.mark.parametrize("wasm", GARBAGE)
def test_the_decoders_errors_leave_nanonet_only_as_load_errors(wasm: bytes) -> None:
    with pytest.raises(WasmFormatError):
        scan(wasm)  # inside, the decoder refuses it...
    with pytest.raises(LoadError, match="cannot be decoded"):
        verify("svc", wasm)  # ...and each way in says LoadError
    with pytest.raises(LoadError, match="sections cannot be read"):
        guest_shape(wasm)
    with Mesh() as mesh, pytest.raises(LoadError):
        mesh.service("svc", wasm)


def test_a_broken_component_is_a_load_error_not_a_decoder_error() -> None:
    with pytest.raises(LoadError, match="not a well-formed component"):
        data_plane(BAD_COMPONENT)


DOUBLE = QUAD  # a component whose quad export calls its imported double


def test_component_call_errors_are_nanonet_errors() -> None:
    release = threading.Event()

    def slow_double(x: int) -> int:
        release.wait(10)
        return 2 * x

    with ComponentService("quad", DOUBLE, imports={"double": slow_double}) as quad:
        try:
            with pytest.raises(CallTimeout, match="did not answer 'quad'") as late:
                quad.call("quad", 5, timeout=0.05)
            assert isinstance(late.value, TimeoutError)
        finally:
            release.set()
        with pytest.raises(WrongType, match="expected 1 argument") as wrong:
            quad.call("quad")
        assert isinstance(wrong.value, TypeError)
        with pytest.raises(NotFound, match="exports no 'triple'"):
            quad.export("triple")
        assert quad.call("quad", 4) == 8


# -- the command line ------------------------------------------------------------

def _nanonet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def _one_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"nanonet: {code}: "), lines[0]
    return lines[0]


def test_cli_prints_a_bad_capture_as_one_line_with_its_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(b"\0" * 32)
    line = _one_line(_nanonet("replay", str(bad), "--into", "t"), "pcapng-invalid")
    assert str(bad) in line


def test_cli_prints_a_missing_control_endpoint_as_one_line(tmp_path: Path) -> None:
    done = _nanonet("tap", "t", "--write", str(tmp_path / "o.pcapng"),
                    "--control-file", str(tmp_path / "none.json"))
    assert "pass --connect HOST:PORT" in _one_line(done, "control-file")
