"""Every kind of manifest error: one ManifestError, its documented message,
at the line (and column) where the key is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import nanonet
from nanonet import ManifestError
from nanonet.cli import main
from nanonet.manifest.locate import Locator

GOOD = """\
[mesh]
fuel = true

[tunnels.raw]
slots = 16
max_payload = 24
writer = "ingress"
reader = "host"

[services.ingress]
wasm = "ingress.wat"

[services.ingress.limits]
fuel_per_tick = 10000
"""

WRITER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "raw")
  (func (export "run") (result i32)
    (call $close (call $tunnel (i32.const 0) (i32.const 3)))))
"""


def _write(tmp: Path, text: str, wat: str = WRITER) -> Path:
    (tmp / "ingress.wat").write_text(wat)
    path = tmp / "nanonet.toml"
    path.write_text(text)
    return path


def error(tmp: Path, text: str, wat: str = WRITER) -> ManifestError:
    path = _write(tmp, text, wat)
    with pytest.raises(ManifestError) as info:
        nanonet.load_manifest(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}")
    return info.value


def said(err: ManifestError) -> str:
    """The message without the directory part of the path."""
    return str(err).removeprefix(str(Path(err.path).parent) + "/")


def test_the_good_manifest_is_good(tmp_path: Path) -> None:
    m = nanonet.load_manifest(_write(tmp_path, GOOD))
    assert m.services["ingress"].policy.limits.fuel_per_tick == 10000


def test_negative_fuel_names_line_key_and_fix(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("10000", "-5"))
    assert said(err) == ("nanonet.toml:14:1: services.ingress.limits.fuel_per_tick: must be a "
                         "positive integer (got -5); set a positive number or remove the key")
    assert (err.line, err.column, err.key) == (14, 1, "services.ingress.limits.fuel_per_tick")


def test_toml_syntax_error_carries_tomllib_line_and_column(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("slots = 16", "slots = = 16"))
    assert said(err) == ("nanonet.toml:5:9: TOML syntax: Invalid value; fix the TOML at this "
                         "spot (https://toml.io)")


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("slots = 16", "slots = 16\n  slot = 4"))
    assert said(err) == ("nanonet.toml:6:3: tunnels.raw.slot: unknown key; did you mean "
                         "'slots'? remove it, or use one of: slots, max_payload, slot_size, "
                         "writer, writers, reader, subscribers, policy, max_subscribers, "
                         "type, wit, wait, durable, delivery")


def test_wrong_type(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("slots = 16", 'slots = "16"'))
    assert said(err) == ('nanonet.toml:5:1: tunnels.raw.slots: must be an integer (got "16"); '
                         "write digits, no quotes")


def test_slots_not_a_power_of_two(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("slots = 16", "slots = 12"))
    assert said(err) == ("nanonet.toml:5:1: tunnels.raw.slots: must be a power of two "
                         "(got 12); use 8 or 16")


def test_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('reader = "host"\n', ""))
    assert said(err) == ("nanonet.toml:4:1: tunnels.raw: required key reader is missing; add "
                         "it (see docs/manifest.md)")


def test_a_whole_table_check_points_at_the_key_it_names(tmp_path: Path) -> None:
    durable = error(tmp_path, GOOD.replace('reader = "host"', 'reader = "host"\n'
                                            'writers = ["ingress"]\ndurable = true')
                    .replace('writer = "ingress"\n', ""))
    assert said(durable).startswith("nanonet.toml:9:1: tunnels.raw.durable: durable = true "
                                    "is for one-writer, one-reader tunnels")
    stray = error(tmp_path, GOOD.replace('reader = "host"', 'subscribers = ["host"]\n'
                                         'policy = { other = "lossy" }'))
    assert said(stray).startswith("nanonet.toml:9:1: tunnels.raw.policy: policy names "
                                  "['other'], which are not among its subscribers")
    both = error(tmp_path, GOOD.replace("max_payload = 24", "max_payload = 24\nslot_size = 32"))
    assert (both.line, both.key) == (7, "tunnels.raw.slot_size")


def test_writer_names_no_service(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('writer = "ingress"', 'writer = "ingres"'))
    assert said(err) == ("nanonet.toml:7:1: tunnels.raw.writer: no service named 'ingres' "
                         "(services: ingress); did you mean 'ingress'? name one of them, or "
                         '"host"')


def test_one_service_cannot_hold_both_ends(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('reader = "host"', 'reader = "ingress"'))
    assert err.line == 8 and "cannot hold both ends of one tunnel" in str(err)


def test_service_holding_no_end(tmp_path: Path) -> None:
    text = GOOD + '\n[services.idle]\nwasm = "ingress.wat"\n'
    assert said(error(tmp_path, text)) == (
        "nanonet.toml:16:1: services.idle: holds no tunnel end; name it as writer or reader of "
        "a [tunnels.NAME] table, or remove the service")


def test_file_that_does_not_exist(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("ingress.wat", "missing.wat"))
    assert err.line == 11 and err.key == "services.ingress.wasm"
    assert f"no file {tmp_path / 'missing.wat'}; fix the path" in str(err)


def test_raw_grant_on_a_tunnel_not_read(tmp_path: Path) -> None:
    text = GOOD + '\n[services.ingress.grants]\nraw = ["raw"]\n'
    assert said(error(tmp_path, text)) == (
        "nanonet.toml:17: services.ingress.grants.raw[0]: 'raw' is not a tunnel 'ingress' "
        "reads (it reads: none); raw access is read-only: name a tunnel it reads, or remove it")


def test_fuel_limit_without_fuel_metering(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace("fuel = true", "fuel = false"))
    assert said(err) == ("nanonet.toml:14:1: services.ingress.limits.fuel_per_tick: needs fuel "
                         "metering, which is off; set fuel = true under [mesh], or remove "
                         "fuel_per_tick")


def test_wasm_and_source_together(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('wasm = "ingress.wat"',
                                       'wasm = "ingress.wat"\nsource = "ingress.c"'))
    assert err.line == 10 and "needs exactly one of wasm" in str(err)


def test_a_source_nanonet_cannot_build_names_the_three_it_can(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('wasm = "ingress.wat"', 'source = "ingress.go"'))
    assert err.line == 10 and said(err).endswith(
        "services.ingress: source 'ingress.go' is not .c, .rs or .wat; add a build command "
        "and wasm, or point source at a .c, .rs or .wat file")


def test_memory_and_exports_apply_to_c_and_rust_sources_only(tmp_path: Path) -> None:
    err = error(tmp_path, GOOD.replace('wasm = "ingress.wat"', 'wasm = "ingress.wat"\n'
                                       'memory = "import"'))
    assert "memory and exports apply only to source = \"x.c\" or \"x.rs\"" in str(err)


def test_no_services(tmp_path: Path) -> None:
    assert said(error(tmp_path, "[mesh]\n")) == (
        'nanonet.toml:1: services: no services; add a [services.NAME] table with wasm = '
        '"x.wasm" or source = "x.c"')


def test_not_utf8_and_not_there(tmp_path: Path) -> None:
    path = tmp_path / "nanonet.toml"
    path.write_bytes(b"[mesh]\nfuel = \xff\n")
    with pytest.raises(ManifestError, match=r"nanonet.toml:2: is not UTF-8 text \(byte 0xff"):
        nanonet.load_manifest(path)
    with pytest.raises(ManifestError, match=r"nope.toml:1: cannot be read"):
        nanonet.load_manifest(tmp_path / "nope.toml")


def test_dotted_keys_inline_tables_and_arrays_of_tables_are_located(tmp_path: Path) -> None:
    text = GOOD + ('\n[services.ingress.grants]\nenv = { A = "1" }\n'
                   '[[services.ingress.grants.dirs]]\nhost = "."\nguest = "/a"\n'
                   '[[services.ingress.grants.dirs]]\nhost = "nowhere"\nguest = "/b"\n')
    err = error(tmp_path, text)
    assert (err.line, err.key) == (22, "services.ingress.grants.dirs[1].host")
    spots = Locator('a.b = 1\nc = [\n  "x = 1",\n]\nd = """\ne = 2\n"""\n[t]\nf.g = { h = 1 }\n')
    assert spots.find(("a", "b")) == (1, 1)
    assert spots.find(("e",)) == (1, None)  # inside a string: never written as a key
    assert spots.find(("t", "f", "g", "h")) == (9, None)


def test_an_import_nobody_granted_is_reported_with_the_service(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wat = WRITER.replace('(import "nanonet" "close"',
                         '(import "wasi_snapshot_preview1" "random_get" '
                         '(func (param i32 i32) (result i32)))\n  (import "nanonet" "close"')
    path = _write(tmp_path, GOOD, wat)
    assert main(["check", str(path), "--no-load"]) == 0
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:10:1: services.ingress: cannot be loaded: service 'ingress' "
                          "imports wasi_snapshot_preview1.random_get, which needs the 'random' "
                          "grant")
    assert main(["run", str(path)]) == 1
