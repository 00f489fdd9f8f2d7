"""The word-column copies of ``ring/columns.py``: numpy's block copy and the
memoryview columns write exactly the same bytes, both ways."""

from __future__ import annotations

import pytest

from nanonet.ring import columns

RUN = columns.NUMPY_FROM  # large enough for the numpy path


def _slots(step: int, run: int) -> memoryview:
    raw = bytes((i * 7 + 3) & 0xFF for i in range(step * run * 8))
    return memoryview(bytearray(raw)).cast("Q")


@pytest.mark.parametrize("words,step", [(1, 2), (8, 9), (4, 9), (16, 17)])
def test_gather_and_scatter_agree_with_and_without_numpy(words: int, step: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if columns.numpy_module() is None:
        pytest.skip("numpy is not installed: only the memoryview columns run")
    out = {}
    for name, np in (("numpy", columns.numpy_module()), ("memoryview", None)):
        monkeypatch.setattr(columns, "_numpy", [np])
        records = memoryview(bytearray(RUN * words * 8)).cast("Q")
        columns.gather(_slots(step, RUN), step, records, words)
        slots = memoryview(bytearray(RUN * step * 8)).cast("Q")
        heads = memoryview(bytearray(RUN * 8)).cast("Q")
        heads[:] = memoryview(bytes(range(RUN)) * 8).cast("Q")[:RUN]
        columns.scatter(records, words, slots, step, heads)
        out[name] = (records.tobytes(), slots.tobytes())
    assert out["numpy"] == out["memoryview"]
    source = _slots(step, RUN).tobytes()
    first = source[8: 8 + 8 * words]
    assert out["numpy"][0][: 8 * words] == first
    assert out["numpy"][1][8: 8 + 8 * words] == first
