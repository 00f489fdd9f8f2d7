"""A component the ring-path tests share: its tunnel import (``forward``)
could be served by generated Wasm on the ring, but its export ``tag`` lifts
a ``list<string>`` as UTF-16, which the core-API call does not copy, so its
tunnel import takes the host-function path. tests/test_component_fastpath.py
checks that ``nanonet check`` says so; tests/test_component_ringpath.py
that the mesh loads it that way.
"""

LIST_EXPORT = """(component
  (import "forward" (func $f (param "stream-id" u32) (param "payload" (list u8))))
  (core module $mm (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)))
  (core instance $mi (instantiate $mm))
  (core func $fl (canon lower (func $f) (memory (core memory $mi "mem"))))
  (core module $m (import "h" "forward" (func $fw (param i32 i32 i32)))
    (func (export "tag") (param i32 i32)
      (call $fw (i32.const 1) (local.get 0) (i32.shl (local.get 1) (i32.const 2)))))
  (core instance $i (instantiate $m (with "h" (instance (export "forward" (func $fl))))))
  (func (export "tag") (param "ids" (list string)) (canon lift (core func $i "tag")
    (memory (core memory $mi "mem")) (realloc (core func $mi "realloc")) string-encoding=utf16)))"""
