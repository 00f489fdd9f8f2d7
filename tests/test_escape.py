"""One test per escape attempt: each is refused with its documented error.

Nothing is granted by default; a grant opens exactly one capability.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import call, guest
from nanonet import Grants, LoadError, Mesh, Preopen

SPIN_IMPORTING = """(module
  (import "{module}" "{name}" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 0)))"""


def _importing(module: str, name: str) -> str:
    return SPIN_IMPORTING.format(module=module, name=name)


def test_an_import_nanonet_does_not_provide_is_refused(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match=r"imports env\.steal_secrets, which nanonet does not "
                                        r"provide"):
        mesh.service("s", _importing("env", "steal_secrets"))


def test_stdout_without_a_grant_names_the_grants_that_would_allow_it(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match=r"fd_write, which needs the 'stdout' or 'stderr' or "
                                        r"'dirs' grant"):
        mesh.service("s", _importing("wasi_snapshot_preview1", "fd_write"))
    mesh.service("ok", _importing("wasi_snapshot_preview1", "fd_write"), grants=["stdout"])


def test_network_without_a_grant_is_refused(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match=r"sock_recv, which needs the 'network' grant"):
        mesh.service("s", _importing("wasi_snapshot_preview1", "sock_recv"))


def test_writing_on_a_read_end_is_impossible(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=8, max_payload=8)
    # a service holding only the read end is not even offered send
    with pytest.raises(LoadError, match=r"imports nanonet\.send but holds no write end"):
        mesh.service("s", guest("until_status"), reads=["t"])


FILES = """(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "inside.txt")
  (data (i32.const 200) "../outside.txt")
  (data (i32.const 300) "new.txt")
  ;; WASI errno of opening a path relative to the preopened directory (fd 3)
  (func $try (param $path i32) (param $len i32) (param $oflags i32) (param $rights i64)
    (result i32)
    (call $open (i32.const 3) (i32.const 0) (local.get $path) (local.get $len)
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 16)))
  (func (export "read_inside") (result i32)
    (call $try (i32.const 100) (i32.const 10) (i32.const 0) (i64.const 2)))
  (func (export "read_outside") (result i32)
    (call $try (i32.const 200) (i32.const 14) (i32.const 0) (i64.const 2)))
  (func (export "create") (result i32)
    (call $try (i32.const 300) (i32.const 7) (i32.const 1) (i64.const 64)))
  (func (export "run") (result i32) (i32.const 0)))"""


def _sandbox(tmp_path: Path) -> Path:
    (tmp_path / "outside.txt").write_text("secret")
    data = tmp_path / "data"
    data.mkdir()
    (data / "inside.txt").write_text("granted")
    return data


def test_a_file_outside_the_preopened_directory_is_refused(mesh: Mesh, tmp_path: Path) -> None:
    data = _sandbox(tmp_path)
    svc = mesh.service("s", FILES, grants=Grants(dirs=(Preopen(data, "/data"),)))
    assert call(svc, "read_inside") == 0
    assert call(svc, "read_outside") != 0  # an errno, never the file
    assert call(svc, "create") != 0  # the directory was granted read-only


def test_a_writable_preopen_allows_creating_files(mesh: Mesh, tmp_path: Path) -> None:
    data = _sandbox(tmp_path)
    svc = mesh.service("s", FILES, grants=Grants(dirs=(Preopen(data, "/data", writable=True),)))
    assert call(svc, "create") == 0
    assert (data / "new.txt").exists()
    assert call(svc, "read_outside") != 0


def test_files_without_a_grant_are_refused_at_load(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match=r"path_open, which needs the 'dirs' grant"):
        mesh.service("s", FILES)
