"""The Wasm tunnel path for a componentize-js guest (examples/producer/guest_js).

componentize-js builds one flat component (StarlingMonkey's core module, its
imports lowered, its exports lifted): the ring path runs it as it runs a C
guest, and calls its exports of strings and bytes (the ``answerer``) through
the core API. A build from clean takes ~25 s here (then cached); skipped
where node or the npm tools are missing.
"""

from __future__ import annotations

import struct

import pytest

from js_toolchain import javascript_missing
from nanonet.component.host import load
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.examples.producer import build
from nanonet.host.engine import Runtime
from nanonet.mesh import Mesh


@pytest.mark.skipif(javascript_missing() is not None, reason=str(javascript_missing()))
def test_a_javascript_producer_streams_through_the_wasm_path() -> None:
    wasm = build("producer", "javascript").path
    with Mesh() as mesh:
        mesh.tunnel("out", slots=2048, max_payload=64)  # room for the whole stream
        comp = mesh.component("p", wasm, imports={"forward": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["p"].why
        out = mesh.reader("out")
        mesh.start()
        assert comp.call("run", 2000, 8, timeout=120) == 2000
        comp.close()
        got = [struct.unpack_from("<III", m) for m in out]
    assert got == [(i, 8, i) for i in range(2000)]


@pytest.mark.skipif(javascript_missing() is not None, reason=str(javascript_missing()))
def test_a_javascript_answerer_answers_strings_and_bytes_as_the_runtime_does() -> None:
    wasm = build("answerer", "javascript").path
    rt = Runtime()
    sent: list[bytes] = []
    reference = load(rt, wasm.read_bytes()).instantiate(rt.new_store(), {
        "forward": lambda sid, data: sent.append(struct.pack("<II", sid, len(data)) + data)})
    values = [("shout", "h\u00e9llo \U0001f600 world"), ("shout", ""), ("reverse", b""),
              ("reverse", bytes(range(256)) * 8), ("shout", "abc" * 500)]
    with Mesh() as mesh:
        mesh.tunnel("out", slots=16, max_payload=4096)
        comp = mesh.component("a", wasm, imports={"forward": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["a"].why
        out = mesh.reader("out")
        mesh.start()
        for name, value in values:
            assert comp.call(name, value, timeout=120) == reference.call(name, value)
            assert bytes(out.recv(timeout=60)) == sent.pop()
        comp.close()
