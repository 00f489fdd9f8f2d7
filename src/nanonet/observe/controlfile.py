"""The control file: where a serving mesh leaves its URL and token for the CLI.

It holds a secret, so it is written the way a careful program writes one: into
a directory that only its owner (or root) can change, as a new file made with
``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600, then renamed over the path.
A rename replaces a symbolic link planted at the path instead of writing
through it, and a reader never sees half a file. Reading opens with
``O_NOFOLLOW`` and trusts only a regular file of the user's own.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from ..errors import ControlFileError

_TRUSTED = {0}  # root may own a directory or the file besides the user


def _trusted_owner(uid: int) -> bool:
    return uid == os.geteuid() or uid in _TRUSTED


def open_directory(directory: Path) -> int:
    """A descriptor of ``directory`` once it is known to be safe to create files in."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    st = os.fstat(fd)
    fix = "or set XDG_CACHE_HOME (or NANONET_CONTROL_FILE) to a directory of your own"
    if not _trusted_owner(st.st_uid):
        os.close(fd)
        raise ControlFileError(f"{directory} belongs to uid {st.st_uid}, not to you: another "
                               f"user could replace the control file there; {fix}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        raise ControlFileError(f"{directory} is writable by others (mode "
                               f"{stat.S_IMODE(st.st_mode):o}): run 'chmod go-w {directory}', "
                               f"{fix}")
    return fd


def write_control_file(path: Path, url: str, token: str,
                       extra: dict[str, str] | None = None) -> None:
    """``{"url", "token"}`` (and ``extra``) at ``path``, readable by the owner
    only, never through a link."""
    dfd = open_directory(path.parent)
    try:
        tmp = _private_file(dfd, {"url": url, "token": token, **(extra or {})})
        try:
            os.replace(tmp, path.name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            os.unlink(tmp, dir_fd=dfd)
            raise
    except IsADirectoryError:
        raise ControlFileError(f"{path} is a directory: remove it, or set "
                               "NANONET_CONTROL_FILE to another path") from None
    finally:
        os.close(dfd)


def write_new_file(dfd: int, name: str, fields: dict[str, str]) -> bool:
    """``fields`` as ``name`` in the directory ``dfd`` unless that name exists
    (False then): a hard link creates a name or fails, it never replaces one."""
    tmp = _private_file(dfd, fields)
    try:
        os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp, dir_fd=dfd)
    return True


def _private_file(dfd: int, fields: dict[str, str]) -> str:
    """A new file of mode 0600 in ``dfd`` holding ``fields`` as JSON; its name."""
    tmp = f".control.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dfd)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(json.dumps(fields) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(tmp, dir_fd=dfd)
        raise
    return tmp


def read_control_file(path: Path) -> dict[str, str]:
    """What a server left at ``path`` (``{}`` if nothing is there)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ControlFileError(f"cannot read the control file {path}: {err.strerror} (a "
                               "symbolic link is not followed): remove it and start the "
                               "mesh again, or pass --connect and --token") from None
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode) or not _trusted_owner(st.st_uid):
            raise ControlFileError(f"{path} is not a file of your own: remove it and start "
                                   "the mesh again, or pass --connect and --token")
        return _parse(path, src.read(1 << 16))


def _parse(path: Path, raw: bytes) -> dict[str, str]:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ControlFileError(f"{path} is not a control file ({{\"url\", \"token\"}} as JSON): "
                               "remove it and start the mesh again")
    return {str(k): v for k, v in data.items()}
