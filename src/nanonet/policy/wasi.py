"""WASI, granted piece by piece.

Each WASI preview-1 function a guest may import belongs to the grants that
allow it; an import no grant of the service allows is refused at load, naming
the grant that would. The store's WASI context is then built from the grants
alone: no inherited arguments, environment, stdio or directories, so even an
allowed ``fd_write`` reaches only what was granted (stdout, stderr, or files
under a granted directory).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import wasmtime

from .policy import Grants

WASI_MODULE = "wasi_snapshot_preview1"

_FD_IO = ("fd_write", "fd_read", "fd_close", "fd_fdstat_get", "fd_seek", "fd_tell",
          "fd_sync", "fd_datasync", "fd_pwrite", "fd_pread")
_FILES = ("fd_prestat_get", "fd_prestat_dir_name", "fd_filestat_get", "fd_filestat_set_size",
          "fd_filestat_set_times", "fd_readdir", "fd_renumber", "fd_advise", "fd_allocate",
          "fd_fdstat_set_flags", "fd_fdstat_set_rights", "path_open", "path_create_directory",
          "path_remove_directory", "path_unlink_file", "path_rename", "path_filestat_get",
          "path_filestat_set_times", "path_readlink", "path_symlink", "path_link")

# WASI function -> the grants that allow it (any one suffices)
ALLOWED_BY: dict[str, tuple[str, ...]] = {
    "clock_time_get": ("clock",), "clock_res_get": ("clock",), "poll_oneoff": ("clock",),
    "random_get": ("random",),
    "args_get": ("args",), "args_sizes_get": ("args",),
    "environ_get": ("env",), "environ_sizes_get": ("env",),
    **{name: ("stdout", "stderr", "dirs") for name in _FD_IO},
    **{name: ("dirs",) for name in _FILES},
    "sock_accept": ("network",), "sock_recv": ("network",), "sock_send": ("network",),
    "sock_shutdown": ("network",),
    # ending or yielding one's own thread reaches nothing
    "proc_exit": (), "sched_yield": (),
}


def _granted(grants: Grants, name: str) -> bool:
    value = getattr(grants, name)
    return bool(value)


def check(service: str, function: str, grants: Grants) -> str | None:
    """None if ``function`` may be imported, else the refusal message."""
    if function not in ALLOWED_BY:
        return (f"service {service!r} imports {WASI_MODULE}.{function}, which nanonet never "
                "grants; remove the import")
    needs = ALLOWED_BY[function]
    if not needs or any(_granted(grants, g) for g in needs):
        return None
    which = " or ".join(repr(g) for g in needs)
    return (f"service {service!r} imports {WASI_MODULE}.{function}, which needs the {which} "
            "grant: grant it in the manifest (or Mesh.service(grants=...)), or remove the import")


class WasiContext(wasmtime.WasiConfig):
    """A WASI configuration that knows when its monotonic clock started.

    wasmtime starts a context's monotonic clock when the configuration is
    made, and reads it as the time elapsed since; ``origin_ns`` is the host's
    ``time.monotonic_ns()`` taken just after, so nanonet's ``poll_oneoff`` can
    place a guest's absolute monotonic timeouts (late by microseconds at
    most, never early).
    """

    def __init__(self) -> None:
        super().__init__()
        self.origin_ns = time.monotonic_ns()


# (owner, "stdout" or "stderr") -> the path of a file (a pipe) to write it to,
# in place of the host's own stream (``nanonet run`` labels each line with its
# service). A path, not a Python callback: wasmtime writes a custom stream from
# its own worker threads, which may still call into Python as it exits.
OutputPath = Callable[[str, str], str]
_route: list[OutputPath] = []


def route_output(where: OutputPath | None) -> None:
    """Send what guests write to their granted stdout/stderr to the file
    ``where(owner, stream)`` names, for contexts made from now on (None: back
    to the host's own streams)."""
    _route[:] = [] if where is None else [where]


def _stdio(cfg: WasiContext, grants: Grants, owner: str) -> None:
    """The granted streams: the host's own, or the files ``route_output`` names."""
    where = _route[0] if _route else None
    if grants.stdout:
        if where is None:
            cfg.inherit_stdout()
        else:
            cfg.stdout_file = where(owner, "stdout")
    if grants.stderr:
        if where is None:
            cfg.inherit_stderr()
        else:
            cfg.stderr_file = where(owner, "stderr")


def config(grants: Grants, owner: str = "") -> WasiContext:
    """A WASI context holding exactly what ``grants`` allow, nothing inherited;
    ``owner`` names the service for ``route_output``."""
    cfg = WasiContext()
    if grants.args:
        cfg.argv = list(grants.args)
    if grants.env:
        cfg.env = [list(pair) for pair in grants.env]
    _stdio(cfg, grants, owner)
    for d in grants.dirs:
        cfg.preopen_dir(str(d.host_path), d.guest_path, d.writable)
    return cfg
