"""Compiled code on disk, used only when this user's key vouches for it.

wasmtime's deserialize maps the bytes of a file and runs them as machine code:
it is unsafe on anything but its own output. A compiled module planted in the
cache under the right name would run in place of the Wasm that was verified.
So an entry is deserialized only if

- the cache directory and its parent belong to this user and no one else can
  write them (else the directory is not used at all, with one warning);
- the entry file belongs to this user and no one else can write it;
- its keyed hash matches: HMAC-SHA256, under a per-user secret created 0600
  beside the entry directory on first use, over the digest of the source it
  was compiled from and the compiled bytes.

An entry that fails is never deserialized: the caller compiles the source and
the entry is replaced. The file is read once into memory and checked there, so
what is deserialized is exactly what was checked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import warnings
from pathlib import Path

MAGIC = b"nanonet-cwasm-1\n"  # format of an entry: MAGIC, MAC, compiled bytes
MAC_SIZE = 32
HEADER = len(MAGIC) + MAC_SIZE
KEY_NAME = "modules.key"  # beside the entry directory: not an entry itself
KEY_SIZE = 32
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
_WARNED: set[Path] = set()


class CacheWarning(UserWarning):
    """The compiled-module cache cannot be trusted, so it is not used."""


def _owned_and_private(st: os.stat_result, mode_mask: int = _OTHERS_WRITE) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & mode_mask


def _mac(key: bytes, digest: bytes, compiled: bytes | bytearray | memoryview) -> bytes:
    mac = hmac.new(key, digest, hashlib.sha256)
    mac.update(compiled)
    return mac.digest()


class DiskCache:
    """The entries under ``root`` (e.g. ``~/.cache/nanonet/modules``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._key: bytes | None = None
        self._checked = False

    def load(self, name: str, digest: bytes) -> bytes | None:
        """The compiled bytes of entry ``name`` if bound to ``digest``, else None."""
        view = self.load_view(name, digest)
        return None if view is None else bytes(view)

    def load_view(self, name: str, digest: bytes) -> memoryview | None:
        """``load`` without copying: a read-only view of the entry's compiled
        part, the tail of the bytes read (a component's is tens of MB)."""
        key = self._secret()
        if key is None:
            return None
        read = _read_private(self.root / name, _OTHERS_WRITE)
        if read is None:
            return None
        header, compiled = read[:HEADER], memoryview(read)[HEADER:]
        if header[:len(MAGIC)] != MAGIC:
            return None
        if not hmac.compare_digest(header[len(MAGIC):], _mac(key, digest, compiled)):
            return None
        return compiled

    def save(self, name: str, digest: bytes, compiled: bytes | bytearray) -> None:
        """Write entry ``name`` atomically (a reader never sees half a file)."""
        key = self._secret()
        if key is None:
            return
        path = self.root / name
        tmp = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + _mac(key, digest, compiled))
                f.write(compiled)
            os.replace(tmp, path)
        except OSError:  # a full disk, a directory in the way: the module still runs
            tmp.unlink(missing_ok=True)

    def forget(self, name: str) -> None:
        """Remove entry ``name`` if it is there (a stale entry is rebuilt)."""
        if self._secret() is not None:
            (self.root / name).unlink(missing_ok=True)

    # -- the directory and the key --------------------------------------------

    def _secret(self) -> bytes | None:
        """This user's key, or None if the directory is not safe to use."""
        if not self._checked:
            self._checked = True
            problem = self._unsafe()
            if problem is None:
                self._key = self._read_or_create_key()
                if self._key is None:
                    key = self.root.parent / KEY_NAME
                    problem = (f"{key} is not a 32-byte file that only this user can read "
                               f"and write; remove it (a new key is made on next use)")
            if problem is not None:
                _warn_once(self.root, problem)
        return self._key

    def _unsafe(self) -> str | None:
        """Why the directory cannot be trusted, or None; creates it 0700 if missing."""
        for d in (self.root.parent, self.root):
            try:
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
                st = os.stat(d)
            except OSError as err:
                return (f"{d} cannot be used ({err.strerror}); set NANONET_CACHE to a "
                        f"private directory")
            if not stat.S_ISDIR(st.st_mode) or not _owned_and_private(st):
                return (f"{d} is not a directory of this user that only it can write; "
                        f"run `chmod 700 {d}` (as its owner), or set NANONET_CACHE to a "
                        f"private directory")
        return None

    def _read_or_create_key(self) -> bytes | None:
        path = self.root.parent / KEY_NAME
        key = _read_key(path)
        if key is not None:
            return key
        tmp = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_SIZE))
            os.link(tmp, path)  # fails if another process made one first: use that one
        except FileExistsError:
            pass
        except OSError:
            return None
        finally:
            tmp.unlink(missing_ok=True)
        return _read_key(path)


def _read_private(path: Path, mode_mask: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of this user that no one
    else can write (nor, with ``mode_mask`` 0o077, read); else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _owned_and_private(st, mode_mask):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def _read_key(path: Path) -> bytes | None:
    """The key at ``path`` if it is a regular file only this user can read or write."""
    key = _read_private(path, 0o077)
    return key if key is not None and len(key) == KEY_SIZE else None


def _warn_once(root: Path, problem: str) -> None:
    if root in _WARNED:
        return
    _WARNED.add(root)
    warnings.warn(f"the compiled-module cache is not used (every module is compiled "
                  f"afresh): {problem}", CacheWarning, stacklevel=5)
