"""The manifest's happy path: the telemetry example checks, builds and runs,
through the Python API and through `nanonet check` / `nanonet run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

import nanonet
from nanonet.cli import main
from nanonet.telemetry import expected, parse_summary, sources

EXAMPLE = sources() / "nanonet.toml"
COUNT, SENSORS, SEED = 1000, 8, 1  # ingress.c's defaults


def test_example_manifest_describes_the_telemetry_mesh() -> None:
    m = nanonet.load_manifest(EXAMPLE)
    assert m.host_reads == ("summary",) and m.host_writes == ()
    ends = {name: (s.reads, s.writes) for name, s in m.services.items()}
    assert ends == {"ingress": ((), ("raw",)), "filter": (("raw",), ("filtered",)),
                    "aggregate": (("filtered",), ("summary",))}
    assert m.services["ingress"].policy.grants.clock
    assert not m.services["filter"].policy.grants.wasi
    assert m.services["filter"].policy.restart.restarts
    assert m.services["aggregate"].policy.limits.memory_bytes == 16 << 20


def test_example_runs_and_its_summary_matches_the_model() -> None:
    m = nanonet.load_manifest(EXAMPLE)
    with m.build_mesh() as mesh:
        reader = mesh.reader("summary")
        mesh.start()
        data = reader.recv(timeout=60)
        assert mesh.wait(60)
        assert not mesh.traps
    got = parse_summary(data)
    assert got.readings == expected(COUNT, SENSORS, SEED).readings
    assert got.sensors == expected(COUNT, SENSORS, SEED).sensors


def test_check_prints_what_each_service_can_reach(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "valid: 3 services, 3 tunnels" in out
    assert "reads summary (2 slots × 800 bytes) from aggregate" in out
    assert "writes raw (4096 slots × 24 bytes) to filter" in out
    assert "clock    realtime and monotonic" in out
    assert "network  none" in out
    assert "restart  on failure, up to 3 times" in out
    assert "all 3 services load" in out


def test_run_prints_what_the_host_reads_and_a_summary(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLE), "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "host ← summary #1 (224 bytes): 53 55 4d 4d" in out  # b"SUMM", as hex
    assert "every service ended" in out
    for name in ("ingress", "filter", "aggregate"):
        assert f"  {name:<12} stopped        0        0  none" in out
    assert "raw              1,000     1,000" in out


def test_run_quiet_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLE), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "host ←" not in out
    assert "host received 1 message(s) on summary" in out


ECHO_TEXT = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (data (i32.const 16) "hello")
  (func (export "run") (result i32) (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 3)))
    (drop (call $send (local.get $h) (i32.const 16) (i32.const 5)))
    (call $close (local.get $h))))
"""


def test_a_wat_service_from_wasm_key_and_text_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hello.wat").write_text(ECHO_TEXT)
    (tmp_path / "nanonet.toml").write_text(
        '[tunnels.out]\nslots = 4\nmax_payload = 8\nwriter = "hello"\nreader = "host"\n\n'
        '[services.hello]\nwasm = "hello.wat"\n')
    assert main(["run", str(tmp_path / "nanonet.toml")]) == 0
    assert "host ← out #1 (5 bytes): 'hello'" in capsys.readouterr().out


def test_a_build_command_runs_in_the_manifest_directory(tmp_path: Path) -> None:
    (tmp_path / "hello.src").write_text(ECHO_TEXT)
    (tmp_path / "nanonet.toml").write_text(
        '[tunnels.out]\nwriter = "hello"\nreader = "host"\n\n'
        '[services.hello]\nsource = "hello.src"\nwasm = "out/hello.wat"\n'
        'build = ["sh", "-c", "mkdir -p out && cp hello.src out/hello.wat"]\n')
    m = nanonet.load_manifest(tmp_path / "nanonet.toml")
    with m.build_mesh() as mesh:
        reader = mesh.reader("out")
        mesh.start()
        assert reader.recv(timeout=30) == b"hello"
    assert (tmp_path / "out" / "hello.wat").is_file()


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    for command, options in (("check", ["--no-load"]),
                             ("run", ["--timeout", "--quiet", "--format", "--max-bytes"])):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert all(option in out for option in options)


def test_every_key_of_the_schema_is_documented() -> None:
    from nanonet.manifest import schema

    doc = (Path(__file__).resolve().parents[1] / "docs" / "manifest.md").read_text()
    tables: list[type[BaseModel]] = [schema.MeshTable, schema.TunnelTable, schema.ServiceTable,
                                     schema.DirGrant, schema.GrantsTable, schema.LimitsTable,
                                     schema.RestartTable, schema.PortTable]
    missing = [f"{t.__name__}.{key}" for t in tables for key in t.model_fields
               if f"`{key}`" not in doc and f".{key}]`" not in doc]
    assert not missing
