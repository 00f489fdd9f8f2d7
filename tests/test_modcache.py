"""The compiled-module cache runs only what this user compiled from the same bytes.

wasmtime deserializes machine code without checking it, so a compiled module
planted in the cache would run in place of the verified Wasm. Every test here
plants real compiled code of the same engine (not junk) where nanonet looks.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from conftest import call, export_func, guest
from nanonet import Mesh
from nanonet.host.engine import Runtime
from nanonet.host.modcache import HEADER, KEY_NAME, MAGIC, CacheWarning
from nanonet.policy.policy import Grants
from nanonet.runtime.memimport import importing

REAL = '(module (func (export "f") (result i32) (i32.const 42)))'
OTHER = '(module (func (export "f") (result i32) (i32.const 666)))'
# what a planted module does in place of the raw reader: write the ring, claim success
EVIL = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_raw" (func (param i32 i32) (result i32)))
  (import "nanonet" "try_recv_raw" (func (param i32 i32) (result i32)))
  (import "nanonet:raw" "t" (memory 1 16 shared))
  (memory (export "memory") 2)
  (func (export "configure") (param i32 i32))
  (func (export "run") (result i32)
    (i32.store 0 (i32.const 0) (i32.const 0x0bad0bad))
    (i32.const 7777)))"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache directory of this test; returns its entry directory."""
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("NANONET_CACHE", str(root))
    return root / "modules"


def _f(rt: Runtime, source: str) -> int:
    store = rt.new_store()
    inst = wasmtime.Instance(store, rt.module(source), [])
    return int(export_func(inst.exports(store), "f")(store))


def _compiled(source: str | bytes) -> bytes:
    """Real compiled code of the engine nanonet uses (as its cache would hold)."""
    rt = Runtime()
    return bytes(wasmtime.Module(rt.engine, source).serialize())


def _plant(cache: Path, source: str | bytes, content: bytes) -> Path:
    raw = source.encode() if isinstance(source, str) else source
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{Runtime().key(raw)}.cwasm"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    return path


def test_a_planted_compiled_module_is_not_run_in_place_of_the_raw_reader(cache: Path) -> None:
    reader = bytes(wasmtime.wat2wasm(guest("raw_reader")))
    # where nanonet looks: the module it compiles for the reader, whose memory
    # is moved to an import (runtime/memimport.py), so the planted code is too
    planted = _plant(cache, importing(reader), _compiled(importing(EVIL.encode())))
    with Mesh(Runtime()) as mesh:
        mesh.tunnel("t", slots=16, max_payload=64)
        sender = mesh.service("send", guest("sender", side="write"), writes=["t"])
        call(sender, "configure", 1000, 0, 1, -1)
        raw = mesh.service("raw", reader, reads=["t"], grants=Grants(raw=("t",)))
        call(raw, "configure", 0, 0)
        mesh.start()
        assert mesh.wait(30), "services did not end"
        assert mesh.traps == []
        assert (sender.exit_code, raw.exit_code) == (0, 1000)  # the verified code ran
    assert planted.read_bytes()[:len(MAGIC)] == MAGIC, "the planted entry is replaced"


@pytest.mark.parametrize("how", ["bare", "forged mac", "another entry"])
def test_an_entry_not_bound_to_the_source_is_recompiled_and_replaced(
        cache: Path, how: str) -> None:
    rt = Runtime()
    assert _f(rt, OTHER) == 666  # a genuine entry of this user, for other code
    [genuine] = cache.glob("*.cwasm")
    content = {"bare": _compiled(OTHER),
               "forged mac": MAGIC + bytes(32) + _compiled(OTHER),
               "another entry": genuine.read_bytes()}[how]
    planted = _plant(cache, REAL, content)
    fresh = Runtime()
    assert _f(fresh, REAL) == 42
    assert planted.read_bytes() != content
    assert _f(Runtime(), REAL) == 42  # and the replacement is used from now on


def test_a_genuine_entry_is_deserialized_not_rewritten(cache: Path) -> None:
    assert _f(Runtime(), REAL) == 42
    [path] = cache.glob("*.cwasm")
    stamp = os.stat(path).st_ino, os.stat(path).st_mtime_ns
    assert _f(Runtime(), REAL) == 42
    assert (os.stat(path).st_ino, os.stat(path).st_mtime_ns) == stamp
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = cache.parent / KEY_NAME
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert len(path.read_bytes()) > HEADER


def test_an_entry_others_can_write_is_not_deserialized(cache: Path) -> None:
    assert _f(Runtime(), REAL) == 42
    [path] = cache.glob("*.cwasm")
    inode = os.stat(path).st_ino
    os.chmod(path, 0o666)
    assert _f(Runtime(), REAL) == 42
    assert os.stat(path).st_ino != inode and stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("which", ["modules", "root"])
def test_a_cache_directory_others_can_write_is_not_used(cache: Path, which: str) -> None:
    planted = _plant(cache, REAL, _compiled(OTHER))
    os.chmod(cache if which == "modules" else cache.parent, 0o777)
    rt = Runtime()
    with pytest.warns(CacheWarning, match="chmod 700") as seen:
        assert _f(rt, REAL) == 42
        assert _f(rt, OTHER) == 666
    assert len(seen) == 1, "one warning, not one per module"
    assert planted.read_bytes() == _compiled(OTHER), "nothing is written there either"
    assert sorted(p.name for p in cache.iterdir()) == [planted.name]
    assert not (cache.parent / KEY_NAME).exists()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a directory away needs root")
def test_a_cache_directory_of_another_user_is_not_used(cache: Path) -> None:
    planted = _plant(cache, REAL, _compiled(OTHER))
    os.chown(cache, 65534, 65534)
    with pytest.warns(CacheWarning, match="not a directory of this user"):
        assert _f(Runtime(), REAL) == 42
    assert planted.read_bytes() == _compiled(OTHER)


def test_an_entry_in_the_way_of_the_cache_does_not_stop_the_module(cache: Path) -> None:
    cache.mkdir(mode=0o700, parents=True)
    (cache / f"{Runtime().key(REAL.encode())}.cwasm").mkdir()  # a directory, not a file
    assert _f(Runtime(), REAL) == 42


def test_a_key_others_can_read_is_not_used(cache: Path) -> None:
    assert _f(Runtime(), REAL) == 42
    os.chmod(cache.parent / KEY_NAME, 0o644)
    with pytest.warns(CacheWarning, match=KEY_NAME):
        assert _f(Runtime(), REAL) == 42


def _cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "cache", *args],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def test_nanonet_cache_shows_and_clears_the_entries(cache: Path) -> None:
    assert _f(Runtime(), REAL) == 42 and _f(Runtime(), OTHER) == 666
    assert f"{cache}: 2 files" in _cli()
    assert "cleared" in _cli("--clear")
    assert not cache.parent.exists()
    assert f"{cache}: 0 files" in _cli()
    assert _f(Runtime(), REAL) == 42  # a new key, a new entry
    assert len(list(cache.glob("*.cwasm"))) == 1


def _component(export: str) -> str:
    return (f'(component (core module $m (func (export "{export}") (result i32) '
            f'(i32.const 1))) (core instance $i (instantiate $m)) (func (export "{export}") '
            f'(result u32) (canon lift (core func $i "{export}"))))')


def test_a_planted_compiled_component_is_not_loaded(cache: Path) -> None:
    """Neither the outline entry (the types) nor the full one (the code)."""
    from wasmtime import component as wc

    from nanonet.component import load
    from nanonet.component.artifacts import FULL_TAG, OUTLINE_TAG

    rt = Runtime()
    other = bytes(wc.Component(rt.engine, _component("planted")).serialize())
    real = _component("real")
    cache.mkdir(parents=True, exist_ok=True)
    full = cache / (rt.key(FULL_TAG + real.encode()) + ".ccwasm")
    types = cache / (rt.key(OUTLINE_TAG + rt.digest(FULL_TAG + real.encode())) + ".ocwasm")
    for path in (full, types):
        path.write_bytes(other)
    for _ in range(2):
        fresh = Runtime()
        loaded = load(fresh, real)
        assert set(loaded.exports) == {"real"}
        assert loaded.instantiate(fresh.new_store(), {}).call("real") == 1
        assert all(p.read_bytes()[:len(MAGIC)] == MAGIC for p in (full, types))


def test_a_cached_module_deserializes_from_a_view_and_a_damaged_one_is_an_error() -> None:
    from nanonet.capi.artifact import deserialize_module

    rt = Runtime()
    compiled = bytes(wasmtime.Module(rt.engine, '(module (func (export "f") (result i32) '
                                     '(i32.const 9)))').serialize())
    module = deserialize_module(rt.engine, memoryview(b"header--" + compiled)[8:])
    store = rt.new_store()
    f = wasmtime.Instance(store, module, []).exports(store)["f"]
    assert isinstance(f, wasmtime.Func) and f(store) == 9
    damaged = bytes(len(compiled) // 2) + compiled[len(compiled) // 2:]
    with pytest.raises(wasmtime.WasmtimeError):
        deserialize_module(rt.engine, memoryview(damaged))
