"""toolchain/memexport.py: an imported memory gets exported as ``memory``
(what Debian's rustc linker cannot do), in a module the engine accepts."""

from __future__ import annotations

import pytest
import wasmtime

from nanonet.toolchain.build import BuildError
from nanonet.toolchain.memexport import export_memory

IMPORTS = ('(import "env" "memory" (memory 1)) '
           '(import "nanonet" "tunnel" (func (param i32 i32) (result i32)))')
DATA = '(data (i32.const 8) "abc")'


def _exports(wasm: bytes) -> list[tuple[str, str]]:
    module = wasmtime.Module(wasmtime.Engine(), wasm)  # the engine validates it
    return [(e.name, type(e.type).__name__) for e in module.exports]


def test_an_export_section_gets_one_more_entry() -> None:
    wasm = wasmtime.wat2wasm(f'(module {IMPORTS} (func (export "run") (result i32) '
                             f'(i32.const 0)) {DATA})')
    assert _exports(export_memory(bytes(wasm))) == [("run", "FuncType"),
                                                    ("memory", "MemoryType")]


def test_a_module_without_exports_gets_a_section_before_its_code() -> None:
    wasm = wasmtime.wat2wasm(f"(module {IMPORTS} (func $f) (start $f) {DATA})")
    assert _exports(export_memory(bytes(wasm))) == [("memory", "MemoryType")]


def test_a_module_that_exports_a_memory_is_left_as_it_is() -> None:
    wasm = bytes(wasmtime.wat2wasm('(module (memory (export "mem") 1))'))
    assert export_memory(wasm) is wasm


def test_a_module_it_cannot_read_is_a_build_error() -> None:
    wasm = bytes(wasmtime.wat2wasm('(module (func (export "run")))'))
    with pytest.raises(BuildError, match="the linker wrote a module nanonet cannot read"):
        export_memory(wasm[:-3])
