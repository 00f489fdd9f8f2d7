"""A service's entry called in one ctypes call (capi/call.py) answers and
fails exactly as ``Func.__call__`` does."""

from __future__ import annotations

import pytest
import wasmtime

from nanonet import Mesh
from nanonet.capi.call import call_plain, plain_results

FUNCS = """(module
  (func (export "none"))
  (func (export "i32") (result i32) (i32.const -7))
  (func (export "i64") (result i64) (i64.const 1099511627776))
  (func (export "f32") (result f32) (f32.const 1.5))
  (func (export "two") (result i32 i32) (i32.const 1) (i32.const 2))
  (func (export "param") (param i32) (result i32) (local.get 0))
  (func $boom (export "boom") (result i32) unreachable)
  (global (export "g") i32 (i32.const 0)))"""


def _instance() -> tuple[wasmtime.Store, wasmtime.Module, wasmtime.Instance]:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, FUNCS)
    return store, module, wasmtime.Instance(store, module, [])


def _func(store: wasmtime.Store, inst: wasmtime.Instance, name: str) -> wasmtime.Func:
    func = inst.exports(store)[name]
    assert isinstance(func, wasmtime.Func)
    return func


def test_only_functions_of_no_parameters_and_one_integer_at_most_are_plain() -> None:
    _, module, _ = _instance()
    kinds = {n: plain_results(module, n) for n in
             ("none", "i32", "i64", "f32", "two", "param", "g", "absent")}
    assert kinds == {"none": 0, "i32": 1, "i64": 1, "f32": None, "two": None, "param": None,
                     "g": None, "absent": None}


@pytest.mark.parametrize("name", ["none", "i32", "i64"])
def test_a_plain_call_returns_what_func_call_returns(name: str) -> None:
    store, module, inst = _instance()
    func = _func(store, inst, name)
    results = plain_results(module, name)
    assert results is not None
    assert call_plain(store, func, results) == func(store)


def test_a_plain_call_that_traps_raises_the_same_trap() -> None:
    store, _module, inst = _instance()
    func = _func(store, inst, "boom")
    with pytest.raises(wasmtime.Trap) as raw:
        call_plain(store, func, 1)
    with pytest.raises(wasmtime.Trap) as py:
        func(store)
    assert raw.value.trap_code == py.value.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert [(f.func_name, f.module_offset) for f in raw.value.frames or []] == \
        [(f.func_name, f.module_offset) for f in py.value.frames or []]


def test_a_host_function_exception_comes_back_from_a_plain_call() -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, """(module (import "h" "f" (func $f))
      (func (export "run") (result i32) (call $f) (i32.const 0)))""")

    def fail() -> None:
        raise LookupError("from the host")
    host = wasmtime.Func(store, wasmtime.FuncType([], []), fail)
    run = _func(store, wasmtime.Instance(store, module, [host]), "run")
    with pytest.raises(LookupError, match="from the host"):
        call_plain(store, run, 1)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("result", "code"), [("(result i64) (i64.const 42)", 42),
                                              ("", 0), ("(result f32) (f32.const 3)", 0)])
def test_a_service_exit_code_comes_from_its_entry_either_way(result: str, code: int) -> None:
    with Mesh() as mesh:
        svc = mesh.service("s", f'(module (memory (export "memory") 1) '
                                f'(func (export "run") {result}))')
        mesh.start()
        assert svc.join(20)
        assert svc.exit_code == code and svc.traps == []
