"""Building Rust guests: rustc for ``wasm32-unknown-unknown``, cached like C's.

No cargo and no crates: the guest is one crate (its ``mod`` files beside it),
and nanonet's binding ``include/nanonet.rs`` is compiled once per rustc as
the crate ``nanonet`` and handed to it with ``--extern``:

    from nanonet.toolchain.rustbuild import build_rust
    wasm = build_rust("counter.rs", memory="import")

Debian's ``rustc`` and ``libstd-rust-dev-wasm32`` (apt) are enough; a rustc
without the target's standard library (a rustup one without
``rustup target add wasm32-unknown-unknown``) is passed over for one that
has it. Outputs are cached in the same ``build/`` folder as C guests, keyed
by the source, the flags, the rustc (path and ``-vV``) and the binding, and
by every file rustc read (its ``--emit dep-info`` depfile, listed beside the
output), so editing a module the guest declares rebuilds it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ..policy.wasmbin import WasmFormatError
from ..policy.wasmmod import scan
from .build import (
    INCLUDE_DIR,
    BuildError,
    Built,
    MemoryStyle,
    build_dir,
    depfile_build,
    place_tag,
)
from .memexport import export_memory

TARGET = "wasm32-unknown-unknown"
BINDING = INCLUDE_DIR / "nanonet.rs"
RUSTC_ENV = "NANONET_RUSTC"  # a rustc to use instead of looking on PATH
DEBIAN_RUSTC = "/usr/bin/rustc"
INSTALL = ("install rustc and libstd-rust-dev-wasm32 (apt-get install rustc "
           "libstd-rust-dev-wasm32; scripts/setup does it when run as root)")
BASE_FLAGS = ("--edition=2021", f"--target={TARGET}", "-C", "opt-level=3", "-C", "panic=abort")
# keeps the name section, for trap backtraces (as drop_debug() does for C)
GUEST_FLAGS = ("--crate-type=cdylib", "-C", "strip=debuginfo")


class Rustc(NamedTuple):
    """A rustc that can build for the target: where it is, and its ``-vV`` text
    (both key the builds: an rlib is only for the rustc that made it)."""

    path: str
    version: str


@functools.cache
def _probe(path: str) -> str | None:
    """rustc's version (``-vV``: release, commit, LLVM) if ``path`` runs and has the
    target's standard library."""
    try:
        root = subprocess.run([path, "--print", "sysroot"], capture_output=True, text=True,
                              timeout=60, check=True).stdout.strip()
        line = subprocess.run([path, "-vV"], capture_output=True, text=True,
                              timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return line if (Path(root) / "lib" / "rustlib" / TARGET / "lib").is_dir() else None


def _candidates() -> list[str]:
    chosen = os.environ.get(RUSTC_ENV)
    if chosen:
        return [chosen]
    on_path = shutil.which("rustc")
    return list(dict.fromkeys(p for p in (on_path, DEBIAN_RUSTC) if p))


def find_rustc() -> Rustc:
    """The first rustc that builds for the target, or a BuildError that says what to install."""
    tried = _candidates()
    for path in tried:
        line = _probe(path)
        if line is not None:
            return Rustc(path, line)
    seen = f" (tried {', '.join(tried)}: none has its standard library)" if tried else ""
    raise BuildError(f"building a Rust guest needs rustc with the {TARGET} target{seen}; "
                     f"{INSTALL}")


def available() -> str | None:
    """None if Rust guests can be built here, else why not (for skips and messages)."""
    try:
        find_rustc()
    except BuildError as err:
        return str(err)
    return None


def flags_for(memory: MemoryStyle, exports: Sequence[str], extra: Sequence[str]) -> list[str]:
    """rustc flags for one guest: its memory style and its exports, then ``extra``."""
    if memory not in ("export", "import"):
        raise BuildError(f"memory={memory!r}: use 'export' (the default) or 'import'")
    flags = [*BASE_FLAGS, *GUEST_FLAGS]
    flags += ["-C", "link-arg=--import-memory"] if memory == "import" else []
    for name in ("run", *exports):
        flags += ["-C", f"link-arg=--export={name}"]
    return flags + list(extra)


def _rustc(rustc: Rustc, args: Sequence[str], what: str, out: Path) -> None:
    """Run rustc; a failure (or no output) is a BuildError with its words and the command."""
    cmd = [rustc.path, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        words = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        raise BuildError(f"building {what} failed:\n{words}\ncommand: {' '.join(cmd)}")


def binding(rustc: Rustc) -> Path:
    """The ``nanonet`` crate (an rlib) for this rustc, built once and kept."""
    h = hashlib.sha256(f"{rustc}\0{BASE_FLAGS}\0".encode() + BINDING.read_bytes())
    out = build_dir() / "rust" / f"libnanonet-{h.hexdigest()[:24]}.rlib"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.rlib")
    try:
        _rustc(rustc, [*BASE_FLAGS, "--crate-type=rlib", "--crate-name=nanonet", str(BINDING),
                       "-o", str(tmp)], str(BINDING), tmp)
        os.replace(tmp, out)  # atomic: a concurrent build never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return out


def crate_name(source: Path) -> str:
    """The file's stem as a crate name (letters, digits and ``_``, not a digit first)."""
    name = re.sub(r"\W", "_", source.stem, flags=re.ASCII)
    return name if name and not name[0].isdigit() else f"_{name}"


def cache_key(rustc: Rustc, source: Path, flags: Sequence[str]) -> str:
    """Content of the source and the binding, the flags, and which rustc."""
    h = hashlib.sha256(f"{rustc}\0{BASE_FLAGS}\0".encode())
    for flag in flags:
        h.update(flag.encode() + b"\0")
    for path in (source, BINDING):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def _check_exports(src: Path, wasm: bytes, names: Sequence[str]) -> None:
    """Every name asked for is an exported function: rustc's linker passes
    over an ``--export`` of a function the guest does not define."""
    try:
        exported = {name for name, kind, _, _ in scan(wasm).exports if kind == 0}
    except WasmFormatError as err:
        raise BuildError(f"rustc wrote a module nanonet cannot read ({err})") from None
    missing = [name for name in names if name not in exported]
    if missing:
        raise BuildError(f"{src} defines no function {', '.join(missing)} to export; add "
                         f'#[no_mangle] pub extern "C" fn {missing[0]}(...)')


def _compile(rustc: Rustc, src: Path, flags: list[str], scratch: Path, depfile: Path,
             memory: MemoryStyle, exports: Sequence[str]) -> None:
    rlib = binding(rustc)
    _rustc(rustc, [*flags, f"--crate-name={crate_name(src)}", "--extern", f"nanonet={rlib}",
                   "--emit", f"link={scratch},dep-info={depfile}", str(src)], str(src), scratch)
    wasm = scratch.read_bytes()
    _check_exports(src, wasm, ("run", *exports))
    if memory == "import":  # WASI writes through an exported memory (docs/abi.md)
        scratch.write_bytes(export_memory(wasm))


def compile_rust(source: str | Path, *, memory: MemoryStyle = "export",
                 exports: Sequence[str] = (), flags: Sequence[str] = ()) -> Built:
    """Build Rust ``source`` unless an identical build is cached; say which happened."""
    t0 = time.perf_counter()
    src = Path(source).resolve()
    if not src.is_file():
        raise BuildError(f"no Rust source at {src}")
    rustc = find_rustc()
    all_flags = flags_for(memory, exports, flags)
    base = f"{src.stem}-rs-{cache_key(rustc, src, all_flags)}-{place_tag(src)}"
    return depfile_build(base, t0, lambda scratch, depfile: _compile(
        rustc, src, all_flags, scratch, depfile, memory, exports))


def build_rust(source: str | Path, *, memory: MemoryStyle = "export",
               exports: Sequence[str] = (), flags: Sequence[str] = ()) -> Path:
    """The path of the ``.wasm`` built from Rust ``source``.

    ``memory="export"`` (rustc's default) makes the guest define and export
    its memory; ``"import"`` makes it import ``env.memory`` (and export it
    too, for WASI). ``run`` is always exported, as is every ``#[no_mangle]
    pub extern "C"`` function; ``exports`` names more. ``flags`` go to rustc
    as they are (``--cfg``, ``-C``...).
    """
    return compile_rust(source, memory=memory, exports=exports, flags=flags).path
