"""A Store made in one C call (capi/store.py) is the Store wasmtime-py makes."""

from __future__ import annotations

import pytest
import wasmtime

from nanonet.capi.store import new_store

COUNTER = '(module (func (export "f") (result i32) (i32.const 5)))'


def test_it_instantiates_runs_and_meters_fuel_as_a_store_does() -> None:
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    engine = wasmtime.Engine(cfg)
    store = new_store(engine)
    assert isinstance(store, wasmtime.Store) and store.engine is engine
    store.set_fuel(1000)
    f = wasmtime.Instance(store, wasmtime.Module(engine, COUNTER), []).exports(store)["f"]
    assert isinstance(f, wasmtime.Func) and f(store) == 5
    assert 0 < store.get_fuel() < 1000
    assert store.data() is None


def test_a_closed_one_refuses_further_use() -> None:
    store = new_store(wasmtime.Engine())
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.set_fuel(1)
