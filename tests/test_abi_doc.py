"""docs/abi.md and nanonet.h are checked against the code they describe."""

from __future__ import annotations

import re
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from nanonet.ring.adapter import ABI
from nanonet.ring.layout import Status
from nanonet.ring.port_template import PORT_OPS
from nanonet.toolchain.build import INCLUDE_DIR

DOC = Path(__file__).resolve().parents[1] / "docs" / "abi.md"
HEADER = INCLUDE_DIR / "nanonet.h"
BINDING = INCLUDE_DIR / "nanonet.rs"
NAMES = ("OK", "CLOSED", "AGAIN", "TOO_BIG", "CORRUPT", "BAD_HANDLE", "TRUNCATED", "BROKEN",
         "YIELD", "TIMEOUT")


def test_header_status_codes_match_the_layout() -> None:
    found = dict(re.findall(r"#define NN_([A-Z_]+) \(?(-?\d+)\)?", HEADER.read_text()))
    for name in NAMES:
        assert int(found[name]) == getattr(Status, name), name


def test_header_declares_every_abi_function() -> None:
    imported = set(re.findall(r'NN_IMPORT\("(\w+)"\)', HEADER.read_text()))
    assert imported == {*ABI, "tunnel", "wait_any", *PORT_OPS}


def test_rust_binding_imports_every_abi_function_and_knows_every_status() -> None:
    text = BINDING.read_text()
    module = text[text.index('wasm_import_module = "nanonet"'):text.index("wasi_snapshot")]
    assert set(re.findall(r"pub fn (\w+)\(", module)) == {*ABI, "tunnel", "wait_any", *PORT_OPS}
    codes = dict(re.findall(r"(-\d+) => Status::(\w+),", text))
    words = {name.replace("_", "").lower(): name for name in NAMES}
    assert {words[w.lower()]: int(c) for c, w in codes.items()} == {
        name: getattr(Status, name) for name in NAMES if name != "OK"}


def test_doc_lists_every_function_and_status() -> None:
    text = DOC.read_text()
    for op in (*ABI, "tunnel", "wait_any", *PORT_OPS):
        assert f"| `{op}(" in text, op
    for name in NAMES:
        assert f"`{getattr(Status, name)}` | `NN_{name}`" in text, name


def test_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = dict(re.findall(r"```(c|python)\n(.*?)```", DOC.read_text(), flags=re.S)[-2:])
    (tmp_path / "upper.c").write_text(blocks["c"])
    monkeypatch.chdir(tmp_path)
    out = StringIO()
    with redirect_stdout(out):
        exec(compile(blocks["python"], "docs/abi.md", "exec"), {})
    assert out.getvalue().strip() == "[b'HELLO', b'TUNNELS']"
