"""Building C guests: ``zig cc`` from PyPI, cached by content.

nanonet builds C with zig's clang from the ``ziglang`` wheel (the ``[c]``
extra: ``pip install 'nanonet[c]'``), so building a guest needs no system
compiler and gives the same bytes on every machine (the demo's C guests ship
prebuilt, so only building needs it):

    from nanonet.toolchain.build import build
    wasm = build("ingress.c", memory="import", exports=["configure"])

Outputs are cached under ``<nanonet cache>/build/``, keyed by the source, the
flags and the zig version, and by every file the compiler read for it: zig cc
writes a depfile (``-MD -MF``), whose files and their SHA-256 are kept beside
the output (``.deps``), so editing any header it included (``sub/x.h`` too)
rebuilds it, and an unchanged guest is never recompiled. zig's own object
cache lives there too, so the whole build state is in one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import NanonetError
from ..host.engine import cache_dir
from ..policy.wasmbin import uleb128
from ..runtime.startfn import sections, uleb_at

INCLUDE_DIR = Path(__file__).parent.parent / "include"
# no strip flag: zig's linker drops the name section with the debug sections,
# and traps name their functions only from it; drop_debug() keeps it
BASE_FLAGS = ("--target=wasm32-freestanding", "-O2", "-nostdlib", "-Wl,--no-entry")
AFTER_ZIG = "drop-debug-keep-names-1"  # drop_debug's version: a change rebuilds every guest
MemoryStyle = Literal["export", "import"]
NEEDS_ZIG = "building C guests needs zig's C compiler: pip install 'nanonet[c]'"


class BuildError(NanonetError):
    """A guest failed to compile or link; the message holds the compiler's words."""

    code: ClassVar[str] = "build-failed"


@dataclass(frozen=True)
class Built:
    """One build: where the module is, whether it came from the cache, how long it took."""

    path: Path
    cached: bool
    seconds: float

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def how(self) -> str:
        """For progress lines: "cached", or how long the build took."""
        if self.cached:
            return "cached"
        took = self.seconds
        return f"built in {took * 1e3:.0f} ms" if took < 1 else f"built in {took:.1f} s"


def build_dir() -> Path:
    """Where built guests live: beside the compiled-module cache."""
    return cache_dir().parent / "build"


def zig_version() -> str:
    """The zig version of the ``ziglang`` wheel (its version is zig's); a
    BuildError naming the extra to install when it is absent."""
    try:
        return version("ziglang")
    except PackageNotFoundError:
        raise BuildError(NEEDS_ZIG) from None


def has_zig() -> bool:
    """Whether C guests can be built here (the ``[c]`` extra is installed)."""
    try:
        return bool(version("ziglang"))
    except PackageNotFoundError:
        return False


def flags_for(memory: MemoryStyle, exports: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Compiler flags for one guest: the base, its memory style, its exports."""
    if memory not in ("export", "import"):
        raise BuildError(f"memory={memory!r}: use 'export' (the default) or 'import'")
    flags = [*BASE_FLAGS, f"-I{INCLUDE_DIR}"]
    # WASI writes its results through the caller's *exported* memory, so an
    # importing guest re-exports it too (harmless, and the clock grant needs it)
    flags += ["-Wl,--import-memory", "-Wl,--export-memory"] if memory == "import" else []
    flags += [f"-Wl,--export={name}" for name in ("run", *exports)]
    return flags + list(extra)


def _headers(source: Path) -> list[Path]:
    """Headers whose change must rebuild the guest."""
    local = sorted(source.parent.glob("*.h"))
    return [*sorted(INCLUDE_DIR.glob("*.h")), *local]


def cache_key(source: Path, flags: Sequence[str]) -> str:
    """Content of source and headers, the flags (minus paths), zig's version and
    what is done to zig's output (``AFTER_ZIG``)."""
    h = hashlib.sha256(f"zig-{zig_version()}\0{AFTER_ZIG}\0".encode())
    for flag in flags:
        h.update(b"-I<nanonet>" if flag == f"-I{INCLUDE_DIR}" else flag.encode())
        h.update(b"\0")
    for path in (source, *_headers(source)):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def read_depfile(text: str, base: Path) -> list[Path]:
    """The prerequisites of the first Make rule of a depfile (clang's ``-MD -MF``
    writes one, rustc's ``--emit dep-info`` one per output and an empty one per
    input), paths relative to ``base``, the compiler's working directory."""
    rule = text.replace("\\\n", " ").split("\n", 1)[0]
    _, _, deps = rule.partition(": ")
    tokens = re.findall(r"(?:\\.|[^\s\\])+", deps)
    return [base / re.sub(r"\\(.)", r"\1", t).replace("$$", "$") for t in tokens]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # gone: whatever was built from it is stale


def _inputs_tag(files: list[tuple[str, str | None]]) -> str:
    """A short name for one set of inputs and their contents."""
    h = hashlib.sha256()
    for path, digest in sorted(files):
        h.update(f"{path}\0{digest}\0".encode())
    return h.hexdigest()[:12]


def cached_build(root: Path, base: str) -> Path | None:
    """The output built from the files ``base.deps`` lists, as they are now, if any."""
    try:
        listed = json.loads((root / f"{base}.deps").read_text())["files"]
        files = [(str(path), _digest(Path(path))) for path, _ in listed]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(digest is None for _, digest in files):
        return None
    out = root / f"{base}-{_inputs_tag(files)}.wasm"
    return out if out.exists() else None


def keep_build(root: Path, base: str, scratch: Path, depfile: Path) -> Path:
    """Name the fresh build after what it read, and list that beside it."""
    try:
        deps = read_depfile(depfile.read_text(), Path.cwd())
    finally:
        depfile.unlink(missing_ok=True)
    files = [(str(path.resolve()), _digest(path)) for path in deps]
    out = root / f"{base}-{_inputs_tag(files)}.wasm"
    os.replace(scratch, out)
    listing = root / f"{base}.{os.getpid()}.tmp.deps"
    listing.write_text(json.dumps({"files": files}, indent=1))
    os.replace(listing, root / f"{base}.deps")  # atomic, like the output
    return out


def _zig_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ZIG_GLOBAL_CACHE_DIR"] = str(root / "zig")
    env["ZIG_LOCAL_CACHE_DIR"] = str(root / "zig")
    return env


def zig_cc(source: Path, flags: Sequence[str], out: Path) -> None:
    """Compile ``source`` to ``out`` with zig cc; a failure is a BuildError with its words."""
    tmp = out.with_suffix(f".{os.getpid()}.tmp.wasm")
    cmd = [sys.executable, "-m", "ziglang", "cc", *flags, str(source), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_zig_env(out.parent))
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        words = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        raise BuildError(f"building {source} failed:\n{words}\ncommand: {' '.join(cmd)}")
    os.replace(tmp, out)  # atomic: a concurrent build never sees half a file


def drop_debug(wasm: bytes) -> bytes:
    """``wasm`` without its DWARF and toolchain sections (``.debug_*``,
    ``producers``, ``target_features``), its ``name`` section kept: a trap
    then names the guest's functions (``parse_line+0x1c``) at a few bytes
    per function, not the DWARF's kilobytes."""
    out = bytearray(wasm[:8])
    for sid, head, body, end in sections(wasm):
        name = _custom_name(wasm, body) if sid == 0 else ""
        if name == "name":
            out += _without_module_name(wasm, body, end)
        elif not _dropped(name):
            out += wasm[head:end]
    return bytes(out)


def _without_module_name(wasm: bytes, body: int, end: int) -> bytes:
    """The name section without its module name (subsection 0): the linker
    writes the scratch file's name there, which a trap would then show."""
    size, at = uleb_at(wasm, body)
    content = bytearray(wasm[body:at + size])  # the section's own name, "name"
    pos = at + size
    while pos < end:
        sub = wasm[pos]
        length, start = uleb_at(wasm, pos + 1)
        if sub != 0:
            content += wasm[pos:start + length]
        pos = start + length
    return bytes([0]) + uleb128(len(content)) + bytes(content)


def _dropped(name: str) -> bool:
    return name.startswith(".debug") or name in ("producers", "target_features")


def _custom_name(wasm: bytes, body: int) -> str:
    size, at = uleb_at(wasm, body)
    return wasm[at:at + size].decode("utf-8", "replace")


def place_tag(source: Path) -> str:
    """A short tag of where ``source`` lives: the listing of what a build read
    belongs to that file, since one of the same bytes elsewhere includes its
    own neighbours."""
    return hashlib.sha256(str(source).encode()).hexdigest()[:8]


def depfile_build(base: str, t0: float, compile_to: Callable[[Path, Path], None]) -> Built:
    """The build named ``base`` from the cache if every input it read is as it
    was, else ``compile_to(scratch, depfile)`` kept with its depfile; nothing
    half-made is left behind when it fails."""
    root = build_dir()
    out = cached_build(root, base)
    if out is not None:
        return Built(out, True, time.perf_counter() - t0)
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / f"{base}.{os.getpid()}.build.wasm"
    depfile = root / f"{base}.{os.getpid()}.d"
    try:
        compile_to(scratch, depfile)
    except BaseException:
        depfile.unlink(missing_ok=True)
        scratch.unlink(missing_ok=True)
        raise
    return Built(keep_build(root, base, scratch, depfile), False, time.perf_counter() - t0)


def compile_c(source: str | Path, *, memory: MemoryStyle = "export",
              exports: Sequence[str] = (), flags: Sequence[str] = ()) -> Built:
    """Build ``source`` unless an identical build is cached; say which happened."""
    t0 = time.perf_counter()
    src = Path(source).resolve()
    if not src.is_file():
        raise BuildError(f"no C source at {src}")
    all_flags = flags_for(memory, exports, flags)
    base = f"{src.stem}-{cache_key(src, all_flags)}-{place_tag(src)}"

    def compile_to(scratch: Path, depfile: Path) -> None:
        zig_cc(src, [*all_flags, "-MD", "-MF", str(depfile)], scratch)
        scratch.write_bytes(drop_debug(scratch.read_bytes()))

    return depfile_build(base, t0, compile_to)


def build(source: str | Path, *, memory: MemoryStyle = "export",
          exports: Sequence[str] = (), flags: Sequence[str] = ()) -> Path:
    """The path of the ``.wasm`` built from C ``source``.

    ``memory="export"`` (the toolchain default) makes the guest define and
    export its memory; ``"import"`` makes it import ``env.memory``. ``run`` is
    always exported; ``exports`` adds more (``NN_EXPORT`` in the source works
    too). ``flags`` go to the compiler as they are (``-DNAME=1``...).
    """
    return compile_c(source, memory=memory, exports=exports, flags=flags).path
