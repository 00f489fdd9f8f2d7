"""A module's start function runs on the service's thread at start, bounded like
``run``: never inside ``Mesh.service()`` or ``nanonet check``."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import wasmtime

from nanonet import Limits, LoadError, Mesh, Restart, RestartPolicy
from nanonet.cli import main
from nanonet.runtime.startfn import START_EXPORT, prepare, sections

HANG = 120  # seconds a subprocess may take before the test calls it hung

LOOPING_START = """(module
  (memory (export "memory") 1)
  (func $spin (loop $forever (br $forever)))
  (start $spin)
  (func (export "run") (result i32) (i32.const 0)))
"""

# imports its memory, so that its tunnel functions exist during instantiation
SENDING_START = """(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (data (i32.const 0) "t")
  (data (i32.const 16) "init")
  (func $hello (drop (call $send (call $tunnel (i32.const 0) (i32.const 1))
                                 (i32.const 16) (i32.const 4))))
  (start $hello)
  (func (export "run") (result i32) (i32.const 0)))
"""

# waits in recv on "in" during its start, then sends what it got on "out"
RECEIVING_START = """(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (data (i32.const 0) "in")
  (data (i32.const 8) "out")
  (func $echo_one
    (drop (call $send (call $tunnel (i32.const 8) (i32.const 3)) (i32.const 64)
      (call $recv (call $tunnel (i32.const 0) (i32.const 2)) (i32.const 64) (i32.const 64)))))
  (start $echo_one)
  (func (export "run") (result i32) (i32.const 0)))
"""

WRITING_START = """(module
  (import "wasi_snapshot_preview1" "path_open" (func $open
    (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write
    (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "made.txt")
  (data (i32.const 32) "written")
  (func $init
    ;; path_open(preopen 3, "made.txt", O_CREAT, rights fd_write) -> fd at 64
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 8)
                      (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 64)))
    (i32.store (i32.const 80) (i32.const 32))
    (i32.store (i32.const 84) (i32.const 7))
    (drop (call $write (i32.load (i32.const 64)) (i32.const 80) (i32.const 1) (i32.const 96))))
  (start $init)
  (func (export "run") (result i32) (i32.const 0)))
"""


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (``sys.argv[1:]`` = ``args``), bounded."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=HANG)


def _nanonet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=HANG)


def _manifest(tmp_path: Path, wat: str, extra: str = "") -> Path:
    (tmp_path / "guest.wat").write_text(wat)
    path = tmp_path / "nanonet.toml"
    path.write_text('[tunnels.out]\nwriter = "guest"\nreader = "host"\n\n'
                    f'[services.guest]\nwasm = "guest.wat"\n{extra}')
    return path


# -- the rewrite -------------------------------------------------------------
def test_a_module_without_a_start_section_is_compiled_as_it_is() -> None:
    wasm = bytes(wasmtime.wat2wasm('(module (func (export "run")))'))
    assert prepare(wasm).wasm is wasm and not prepare(wasm).has_start
    text = b'(module (func $start (export "run")) (export "start" (func $start)))'
    assert prepare(text).wasm is text


def test_the_start_section_becomes_an_export() -> None:
    big = "x" * 300  # a section size of two LEB128 bytes
    for wat in (LOOPING_START, '(module (func $f) (start $f))',  # with and without exports
                f'(module (table 1 funcref) (memory 1) (func $f) (elem (i32.const 0) $f) '
                f'(start $f) (data (i32.const 0) "{big}") (export "t" (table 0)))'):
        done = prepare(wat.encode())
        assert done.has_start
        assert 8 not in [sid for sid, *_ in sections(done.wasm)]
        module = wasmtime.Module(wasmtime.Engine(), done.wasm)
        assert START_EXPORT in [e.name for e in module.exports]


def test_a_component_is_never_rewritten() -> None:
    text = (b'(component (core module $m (func $f (export "f")) (start $f)) '
            b'(core instance $i (instantiate $m)) '
            b'(func (export "f") (canon lift (core func $i "f"))))')  # its section 8: canon
    component = bytes(wasmtime.wat2wasm(text.decode()))
    assert prepare(component).wasm is component and not prepare(text).has_start


@pytest.mark.parametrize("tail", [b"\x08\xff", b"\x08\x05\x00", b"\x08\x01\x80",
                                  b"\x07\x02\x05\x00\x08\x01\x00",
                                  b"\x03\x02\x01\x00\x08\x01\x00\x08\x01\x00"])
def test_a_broken_binary_is_a_load_error(tail: bytes) -> None:
    with pytest.raises(LoadError, match="service 'broken': not a valid Wasm module"):
        Mesh().service("broken", b"\0asm\x01\x00\x00\x00" + tail)


def test_the_reserved_export_name_is_refused() -> None:
    wat = f'(module (func $f) (start $f) (export "{START_EXPORT}" (func $f)))'
    with pytest.raises(LoadError, match="reserves for its start function: rename"):
        Mesh().service("taken", wat)


# -- the service -------------------------------------------------------------
def test_a_looping_start_function_neither_hangs_the_load_nor_escapes_the_deadline() -> None:
    done = _python("""
        import sys
        from nanonet import Limits, Mesh
        with Mesh() as mesh:
            mesh.tunnel("t")
            mesh.reader("t")
            mesh.service("spin", sys.argv[1], writes=["t"], limits=Limits(deadline_ms=100))
            print("loaded", flush=True)
            mesh.start()
            assert mesh.wait(60)
            print("cause:", mesh.traps[0].cause)
    """, LOOPING_START)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout
    assert "cause: deadline exceeded: ran 100 ms without touching a tunnel" in done.stdout


def test_a_start_function_blocked_in_recv_does_not_hang_the_load() -> None:
    done = _python("""
        import sys
        from nanonet import Mesh
        with Mesh() as mesh:
            mesh.tunnel("in"); mesh.tunnel("out")
            feed, out = mesh.writer("in"), mesh.reader("out")
            mesh.service("waits", sys.argv[1], reads=["in"], writes=["out"])
            print("loaded", flush=True)
            mesh.start()
            feed.send(b"ping")
            print("echoed:", out.recv(timeout=60))
    """, RECEIVING_START)
    assert done.returncode == 0, done.stderr
    assert "loaded\nechoed: b'ping'" in done.stdout


def test_a_looping_start_function_runs_out_of_fuel() -> None:
    done = _python("""
        import sys
        from nanonet import Limits, Mesh
        with Mesh(fuel=True) as mesh:
            mesh.tunnel("t")
            mesh.service("spin", sys.argv[1], writes=["t"], limits=Limits(fuel_per_tick=10_000))
            mesh.start()
            assert mesh.wait(60)
            print("cause:", mesh.traps[0].cause)
    """, LOOPING_START)
    assert done.returncode == 0, done.stderr
    assert "cause: fuel exhausted" in done.stdout


def test_stop_ends_a_looping_start_function() -> None:
    done = _python("""
        import sys
        from nanonet import Mesh
        mesh = Mesh()
        mesh.tunnel("t")
        svc = mesh.service("spin", sys.argv[1], writes=["t"])
        mesh.start()
        mesh.stop(grace=0)
        print("state:", svc.state.value, svc.traps)
    """, LOOPING_START)
    assert done.returncode == 0, done.stderr
    assert "state: stopped []" in done.stdout


def test_a_start_function_sends_nothing_before_the_mesh_starts(mesh: Mesh) -> None:
    mesh.tunnel("t")
    out = mesh.reader("t")
    mesh.service("early", SENDING_START, writes=["t"])
    assert out.try_recv() is None and mesh.statistics()["t"].sent == 0
    mesh.start()
    assert out.recv(timeout=30) == b"init"  # it still runs, on the service's thread


def test_a_start_function_runs_again_on_each_restart(mesh: Mesh) -> None:
    trapping = SENDING_START.replace("(result i32) (i32.const 0)", "(result i32) unreachable")
    mesh.tunnel("t")
    out = mesh.reader("t")
    mesh.service("again", trapping, writes=["t"],
                 restart=RestartPolicy(Restart.ON_FAILURE, max_restarts=1, initial_ms=0))
    mesh.start()
    assert [out.recv(timeout=30), out.recv(timeout=30)] == [b"init", b"init"]


def test_what_a_start_function_sets_is_seen_by_run(mesh: Mesh) -> None:
    wat = """(module
      (global $g (mut i32) (i32.const 0))
      (func $init (global.set $g (i32.const 42)))
      (start $init)
      (memory (export "memory") 1)
      (func (export "run") (result i32) (global.get $g)))"""
    mesh.tunnel("t")
    svc = mesh.service("set", wat, writes=["t"], limits=Limits(deadline_ms=10_000))
    mesh.start()
    assert mesh.wait(30) and svc.exit_code == 42


# -- the command line --------------------------------------------------------
def test_check_does_not_hang_on_a_looping_start_function(tmp_path: Path) -> None:
    done = _nanonet("check", str(_manifest(tmp_path, LOOPING_START)))
    assert done.returncode == 0, done.stderr
    assert "the service loads" in done.stdout


def test_check_runs_no_start_function_that_writes_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    dirs = '\n[[services.guest.grants.dirs]]\nhost = "out"\nguest = "/out"\nwrite = true\n'
    path = _manifest(tmp_path, WRITING_START, dirs)
    assert main(["check", str(path)]) == 0
    assert not (tmp_path / "out" / "made.txt").exists()
    assert main(["run", str(path), "--timeout", "60"]) == 0
    assert (tmp_path / "out" / "made.txt").read_text() == "written"  # run still runs it


def test_ctrl_c_stops_a_run_whose_start_function_loops(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "nanonet.cli", "run", str(_manifest(tmp_path, LOOPING_START))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        while not lines.get(timeout=HANG).startswith("running (Ctrl-C stops"):
            pass
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=HANG) == 130
    finally:
        proc.kill()
        proc.wait()
        reader.join(timeout=HANG)
        assert proc.stdout is not None
        proc.stdout.close()
