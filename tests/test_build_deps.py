"""The C build cache follows every file the compiler read (its depfile), not
only the headers beside the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanonet import Mesh
from nanonet.toolchain.build import compile_c, read_depfile

GUEST = '#include <nanonet.h>\n#include "sub/x.h"\nint run(void) { return X; }\n'


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _guest(root: Path, header: str) -> Path:
    (root / "sub").mkdir(parents=True, exist_ok=True)
    (root / "sub" / "x.h").write_text(header)
    (root / "g.c").write_text(GUEST)
    return root / "g.c"


def _exit_code(wasm: Path) -> int | None:
    with Mesh() as mesh:
        svc = mesh.service("g", wasm)
        mesh.start()
        assert mesh.wait(60)
    return svc.exit_code


def test_editing_an_included_header_in_a_subdirectory_rebuilds(cache: Path,
                                                               tmp_path: Path) -> None:
    src = _guest(tmp_path / "a", "#define X 5\n")
    first = compile_c(src)
    assert not first.cached and _exit_code(first.path) == 5
    assert compile_c(src).cached
    (src.parent / "sub" / "x.h").write_text("#define X 6\n")
    second = compile_c(src)
    assert not second.cached and second.path != first.path
    assert _exit_code(second.path) == 6
    (src.parent / "sub" / "x.h").write_text("#define X 5\n")
    again = compile_c(src)
    assert again.cached and again.path == first.path  # that build is still kept


def test_a_header_included_by_a_header_is_followed_too(cache: Path, tmp_path: Path) -> None:
    src = _guest(tmp_path / "a", '#include "y.h"\n')
    (src.parent / "sub" / "y.h").write_text("#define X 7\n")
    assert _exit_code(compile_c(src).path) == 7
    (src.parent / "sub" / "y.h").write_text("#define X 8\n")
    built = compile_c(src)
    assert not built.cached and _exit_code(built.path) == 8


def test_the_same_source_elsewhere_reads_its_own_headers(cache: Path, tmp_path: Path) -> None:
    here = compile_c(_guest(tmp_path / "a", "#define X 1\n"))
    there = compile_c(_guest(tmp_path / "b", "#define X 2\n"))
    assert not there.cached and _exit_code(there.path) == 2
    assert compile_c(tmp_path / "a" / "g.c").path == here.path


def test_a_depfile_is_read_like_make_reads_it(tmp_path: Path) -> None:
    text = "obj/x.o: /abs/g.c \\\n  rel/a\\ b.h /abs/c$$d.h\\\n  /abs/e.h\n"
    assert read_depfile(text, tmp_path) == [Path("/abs/g.c"), tmp_path / "rel/a b.h",
                                            Path("/abs/c$d.h"), Path("/abs/e.h")]


def test_only_the_first_rule_is_read_as_rustc_writes_one_per_output_and_input(
        tmp_path: Path) -> None:
    text = ("/b/g.wasm: /src/g.rs /src/sub.rs\n\n/b/g.d: /src/g.rs /src/sub.rs\n\n"
            "/src/g.rs:\n/src/sub.rs:\n")
    assert read_depfile(text, tmp_path) == [Path("/src/g.rs"), Path("/src/sub.rs")]
