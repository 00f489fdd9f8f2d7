"""The wasmtime C-API layer: every use of wasmtime-py's private ``_ffi`` and
``_bindings`` lives in this package, so the rest of nanonet depends only on
named functions here (and on wasmtime-py's public API). docs/architecture.md
lists the private names used; ``pyproject.toml`` pins the minor version they
were read from."""
