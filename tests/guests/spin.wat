;; Never calls the ABI and never returns: only epoch interruption ends it.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
