"""What nanonet refuses at its edges, in the Python API, the manifest and the
CLI alike: names outside the one naming rule, NULs in what a guest gets as C
strings, ring shapes that are not whole positive numbers, module files that
are neither Wasm nor UTF-8 WAT, and manifests nested past any real use."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nanonet
from nanonet import (
    Geometry,
    Grants,
    InvalidValue,
    LoadError,
    ManifestError,
    Mesh,
    NanonetError,
    Preopen,
)
from nanonet.manifest.crosscheck import crosscheck
from nanonet.manifest.locate import MAX_DEPTH, too_deep
from nanonet.manifest.manifest import Manifest, parse
from nanonet.manifest.reach import describe
from nanonet.policy.names import NAME_RULE

pytestmark = pytest.mark.timeout(120)

IDLE = '(module (memory (export "memory") 1) (func (export "run") (result i32) (i32.const 0)))'
WRITER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "raw")
  (func (export "run") (result i32)
    (call $close (call $tunnel (i32.const 0) (i32.const 3)))))
"""
GOOD = """\
[tunnels.raw]
slots = 16
writer = "ingress"
reader = "host"

[services.ingress]
wasm = "ingress.wat"
"""
BAD_NAMES = ["", "a\0b", "\x1b[2J", "two\nlines", "tab\there", "del\x7f", "x" * 33,
             "zero\u200bwidth"]


def _manifest(tmp: Path, text: str, wat: bytes = WRITER.encode()) -> Path:
    (tmp / "ingress.wat").write_bytes(wat)
    path = tmp / "nanonet.toml"
    path.write_text(text)
    return path


def _error(tmp: Path, text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        nanonet.load_manifest(_manifest(tmp, text))
    return info.value


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=120)


def _one_line_error(proc: subprocess.CompletedProcess[str], path: Path) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:"), proc.stderr
    return lines[0]


# -- nesting -------------------------------------------------------------------

DEEP = {
    "arrays": 'x = ' + "[" * 5000 + "]" * 5000 + "\n",
    "inline tables": "x = " + "{ a = " * 3000 + "1" + " }" * 3000 + "\n",
    "dotted header": "[" + ".".join(["a"] * 5000) + "]\nx = 1\n",
    "dotted key": ".".join(["a"] * 5000) + " = 1\n",
    "behind a string ending in quotes": 'x = [ """a"""", ' + "[" * 3000 + "]" * 3000 + "]\n",
    "a value spread over lines": "x = [\n" + "[\n" * 2000 + "]\n" * 2000 + "]\n",
}


@pytest.mark.parametrize("how", sorted(DEEP))
def test_a_deeply_nested_manifest_is_a_manifest_error_at_its_line(how: str) -> None:
    text = GOOD + "\n[services.ingress.grants]\n" + DEEP[how]
    with pytest.raises(ManifestError) as info:
        parse(Path("nanonet.toml"), text)
    # [services.ingress.grants] x = [ is 5 deep at line 10; each line below adds one
    assert info.value.line == (10 + MAX_DEPTH - 4 if how == "a value spread over lines" else 10)
    assert f"more than {MAX_DEPTH} deep; flatten it" in str(info.value)


def test_nesting_a_manifest_really_uses_passes() -> None:
    text = GOOD + ('[[services.ingress.grants.dirs]]\nhost = "."\nguest = "/a"\n'
                   '[services.ingress.grants]\nenv = { A = "1" }\nargs = ["[", "{"]\n'
                   '[services.x]\ngrants = { dirs = [ { host = ".", guest = "/b" } ] }\n')
    assert too_deep(text) is None
    assert too_deep('x = "' + "[" * 100 + '"\ny = """\n' + "{" * 100 + '\n"""\n') is None


def test_cli_reports_a_deep_manifest_in_one_line(tmp_path: Path) -> None:
    path = _manifest(tmp_path, GOOD + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    line = _one_line_error(_cli("check", "--no-load", str(path)), path)
    assert line.startswith(f"{path}:8: ") and "flatten it" in line


# -- module files that are neither Wasm nor WAT ----------------------------------

def test_a_binary_file_named_wat_is_a_manifest_error_naming_file_and_fix(tmp_path: Path) -> None:
    path = _manifest(tmp_path, GOOD, b"\xff\xfe\x00 not text")
    line = _one_line_error(_cli("check", str(path)), path)
    assert line == (f"{path}:7:1: services.ingress.wasm: {tmp_path / 'ingress.wat'} is not "
                    "UTF-8 WAT text (byte 0xff at offset 0); save it as UTF-8 text, or point "
                    "wasm at a .wasm module")
    _one_line_error(_cli("run", str(path)), path)


def test_binary_wasm_named_wat_says_to_rename_it(tmp_path: Path) -> None:
    path = _manifest(tmp_path, GOOD, b"\0asm\x01\0\0\0")
    with pytest.raises(ManifestError, match=r"ingress.wat is binary Wasm, not WAT text; "
                       r'rename it to ingress.wasm and write wasm = "ingress.wasm"'):
        nanonet.load_manifest(path).build_mesh().stop(grace=0)


def test_a_module_file_gone_before_the_build_is_a_manifest_error(tmp_path: Path) -> None:
    manifest = nanonet.load_manifest(_manifest(tmp_path, GOOD))
    (tmp_path / "ingress.wat").unlink()
    with pytest.raises(ManifestError, match=r"nanonet.toml:7:1: services.ingress.wasm: cannot "
                       r"read .*ingress.wat \(No such file or directory\); check the file"):
        manifest.build_mesh()


def test_the_api_refuses_a_module_that_is_neither_wasm_nor_utf8(
        tmp_path: Path, mesh: Mesh) -> None:
    bad = tmp_path / "bad.wat"
    bad.write_bytes(b"(module \xff)")
    with pytest.raises(LoadError, match=rf"file {bad} is neither binary Wasm .* nor UTF-8 "
                       r"WAT text \(byte 0xff at offset 8\); give a .wasm module"):
        mesh.service("s", bad)
    with pytest.raises(LoadError, match=r"module is neither binary Wasm"):
        mesh.service("s", b"\xc3(")
    with pytest.raises(LoadError, match=rf"file {bad} is neither binary Wasm"):
        mesh.component("c", bad)
    with pytest.raises(LoadError, match=rf"cannot read {tmp_path / 'nope.wasm'} \(No such"):
        mesh.service("s", str(tmp_path / "nope.wasm"))
    mesh.tunnel("t")
    mesh.service("s", IDLE.encode(), writes=["t"])  # the failures above took no tunnel end


# -- checking is linear in the services ------------------------------------------

class _Passes(dict[str, Any]):
    """A tunnels table that counts how often it is walked from end to end."""

    walks = 0

    def items(self) -> Any:
        type(self).walks += 1
        return super().items()

    def values(self) -> Any:
        type(self).walks += 1
        return super().values()

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def _walks(tmp: Path, services: int) -> int:
    (tmp / "w.wat").write_text(IDLE)
    text = "".join(f'[tunnels.t{i}]\nwriter = "s{i}"\nreader = "host"\n' for i in range(services))
    text += "".join(f'[services.s{i}]\nwasm = "w.wat"\n' for i in range(services))
    path = tmp / "nanonet.toml"
    table = parse(path, text).table
    _Passes.walks = 0
    counted = table.model_copy(update={"tunnels": _Passes(table.tunnels)})
    m = Manifest(path, text, counted)
    crosscheck(m)
    describe(m)
    return _Passes.walks


def test_check_walks_the_tunnels_a_fixed_number_of_times(tmp_path: Path) -> None:
    """describe and crosscheck of N services walk the tunnels table O(1) times, not O(N)."""
    assert _walks(tmp_path, 5) == _walks(tmp_path, 60)


def test_each_service_gets_its_own_ends_in_tunnel_order(tmp_path: Path) -> None:
    (tmp_path / "w.wat").write_text(IDLE)
    text = ('[tunnels.b]\nwriter = "x"\nreader = "y"\n[tunnels.a]\nwriter = "x"\n'
            'reader = "host"\n[tunnels.c]\nwriter = "host"\nreader = "y"\n'
            '[services.x]\nwasm = "w.wat"\n[services.y]\nwasm = "w.wat"\n')
    m = parse(tmp_path / "nanonet.toml", text)
    assert (m.services["x"].reads, m.services["x"].writes) == ((), ("b", "a"))
    assert (m.services["y"].reads, m.services["y"].writes) == (("b", "c"), ())
    assert (m.host_reads, m.host_writes) == (("a",), ("c",))


def test_a_component_calls_only_components_defined_above_it(tmp_path: Path) -> None:
    (tmp_path / "c.wat").write_text("(component)")
    caller = '[services.a]\ncomponent = "c.wat"\nimports = { x = "service:b" }\n'
    callee = '[services.b]\ncomponent = "c.wat"\n'
    core = '[tunnels.t]\nwriter = "host"\nreader = "r"\n[services.r]\nwasm = "c.wat"\n'
    parse(tmp_path / "nanonet.toml", core + callee + caller)
    with pytest.raises(ManifestError, match="'b' is not a component service defined above 'a' "
                       r"\(above: none\); define it first"):
        parse(tmp_path / "nanonet.toml", core + caller + callee)


# -- NUL in what the guest gets as C strings --------------------------------------

@pytest.mark.parametrize(("grants", "words"), [
    (dict(args=("ok", "a\0b")), "grants: args[1] holds a NUL character at index 1"),
    (dict(env=(("A", "x\0y"),)), "grants: env 'A' holds a NUL character at index 1"),
    (dict(env=(("A\0B", "x"),)), "grants: 'A\\x00B' is not a variable name"),
    (dict(env=(("", "x"),)), "grants: '' is not a variable name"),
    (dict(dirs=(Preopen(Path("."), "/a\0"),)), "grants: the guest path of a dir holds a NUL"),
    (dict(dirs=(Preopen(Path("a\0"), "/a"),)), "grants: the host path of a dir holds a NUL"),
])
def test_grants_refuse_a_nul_in_args_and_env(grants: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(words)) as info:
        Grants(**grants)
    assert isinstance(info.value, NanonetError) and isinstance(info.value, ValueError)
    assert "remove the NUL" in str(info.value) or "use letters, digits and _" in str(info.value)


def test_a_nul_in_a_manifest_grant_points_at_its_line(tmp_path: Path) -> None:
    head = GOOD + "\n[services.ingress.grants]\n"
    err = _error(tmp_path, head + 'args = ["ok", "a\\u0000b"]\n')
    assert (err.line, err.key) == (10, "services.ingress.grants.args[1]")
    assert "the value holds a NUL character at index 1, where the guest would see it end; " \
           "remove the NUL" in str(err)
    err = _error(tmp_path, head + '[services.ingress.grants.env]\nA = "1"\nB = "x\\u0000"\n')
    assert (err.line, err.column, err.key) == (12, 1, "services.ingress.grants.env.B")
    err = _error(tmp_path, head + 'dirs = [{ host = ".", guest = "/a\\u0000" }]\n')
    assert err.key == "services.ingress.grants.dirs[0].guest" and "NUL" in str(err)


@pytest.mark.parametrize("key", ["wasm", "entry", "build"])
def test_a_nul_in_a_path_command_or_export_is_refused_at_its_line(
        tmp_path: Path, key: str) -> None:
    written = {"wasm": 'wasm = "x\\u0000"',
               "entry": 'wasm = "ingress.wat"\nentry = "x\\u0000"',
               "build": 'wasm = "ingress.wat"\nbuild = ["make\\u0000"]'}[key]
    err = _error(tmp_path, GOOD.replace('wasm = "ingress.wat"', written))
    assert err.line == 7 + (key != "wasm")
    assert err.key == f"services.ingress.{key}" + ("[0]" if key == "build" else "")
    assert "holds a NUL character at index" in str(err) and "remove it" in str(err)


# -- names -------------------------------------------------------------------------

def test_a_service_named_like_the_host_cannot_hold_both_ends(mesh: Mesh) -> None:
    mesh.tunnel("t")
    with pytest.raises(InvalidValue, match="'<host>' is reserved for the host's own tunnel "
                       "ends and cannot name a service; rename the service"):
        mesh.service("<host>", IDLE, reads=["t"], writes=["t"])
    assert (mesh.tunnels["t"].reader, mesh.tunnels["t"].writer) == (None, None)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_api_refuses_names_outside_the_rule(mesh: Mesh, name: str) -> None:
    with pytest.raises(InvalidValue) as info:
        mesh.tunnel(name)
    assert str(info.value) == f"{name!r} cannot name a tunnel: a name is {NAME_RULE}; " \
                              "rename the tunnel"
    mesh.tunnel("t")
    with pytest.raises(InvalidValue, match=r"cannot name a service: a name is 1 to 32 bytes"):
        mesh.service(name, IDLE, writes=["t"])
    assert mesh.tunnels["t"].writer is None and name not in mesh.tunnels


def test_names_inside_the_rule_are_kept(mesh: Mesh) -> None:
    for name in ("access-log", "é" * 16, "a b", "x" * 32, "host"):
        mesh.tunnel(name)
        mesh.service(name, IDLE, writes=[name])


@pytest.mark.parametrize(("toml", "written"), [
    ('"a\\u0000b"', '"a\\u0000b"'), ('"\\u001b[2J"', '"\\u001b[2J"'), ('""', '""'),
    ("'<host>'", '"<host>"'), ('"two\\nlines"', '"two\\u000alines"'),
])
def test_the_manifest_refuses_service_names_outside_the_rule(
        tmp_path: Path, toml: str, written: str) -> None:
    err = _error(tmp_path, GOOD.replace("[services.ingress]", f"[services.{toml}]"))
    assert (err.line, err.column, err.key) == (6, 1, f"services.{written}")
    assert "rename the service" in str(err)
    assert not any(ord(c) < 32 for c in str(err))


def test_the_manifest_refuses_tunnel_names_outside_the_rule(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("[tunnels.raw]", '[tunnels."r\\u0007w"]'))
    assert (err.line, err.key) == (1, 'tunnels."r\\u0007w"')
    assert str(err).endswith(f"'r\\x07w' cannot name a tunnel: a name is {NAME_RULE}; "
                             "rename the tunnel")


# -- ring shapes -------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(max_payload=0), "max_payload=0: must be an integer from 1 to 1073741824"),
    (dict(max_payload=-8), "max_payload=-8: must be an integer from 1 to 1073741824"),
    (dict(max_payload=8.0), r"max_payload=8.0: must be an integer \(got a float\)"),
    (dict(slots=16.0), r"slot_count=16.0: must be an integer \(got a float\)"),
    (dict(slots="16"), r"slot_count='16': must be an integer \(got a str\)"),
    (dict(slots=True), r"slot_count=True: must be an integer \(got a bool\)"),
    (dict(slots=12), "slot_count=12: must be a power of two between 2 and 16777216"),
])
def test_a_tunnel_refuses_a_ring_shape_outside_its_range(
        mesh: Mesh, kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidValue, match=words) as info:
        mesh.tunnel("t", **kwargs)
    assert isinstance(info.value, NanonetError) and "t" not in mesh.tunnels


def test_geometry_refuses_non_integers_and_keeps_its_slot_sizing() -> None:
    with pytest.raises(InvalidValue, match=r"slot_size=64\.5: must be an integer"):
        Geometry(16, 64.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="max_payload=0"):
        Geometry.for_payload(16, 0)
    sizes = [Geometry.for_payload(16, p).slot_size for p in (1, 8, 9, 120, 248)]
    assert sizes == [16, 16, 24, 128, 256]


def test_the_manifest_refuses_a_zero_payload_at_its_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("slots = 16", "slots = 16\nmax_payload = 0"))
    assert (err.line, err.key) == (3, "tunnels.raw.max_payload")
    assert "must be a positive integer (got 0)" in str(err)
