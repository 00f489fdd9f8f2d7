"""Where the bridge rows' two ends run: two network namespaces, or loopback.

A cross-node row needs two network stacks with a link between them. As
root, with ``ip`` at hand, the bench makes two namespaces joined by a veth
pair (``placed``), runs its near end (and the nats-server) in the first and
every far end in the second, and removes both afterwards; elsewhere both
ends share the loopback interface, and ``Placement.where`` says which and
why, so every row names the path its figures crossed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

NEAR_ADDR, FAR_ADDR = "10.232.0.1", "10.232.0.2"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Placement:
    where: str  # "netns (veth)", or "loopback (why)"
    near_addr: str
    far_addr: str
    near_ns: str = ""  # namespace names; "" on loopback
    far_ns: str = ""

    def near(self, argv: list[str]) -> list[str]:
        """``argv`` run on the near side (its namespace, if any)."""
        return _inside(self.near_ns, argv)

    def far(self, argv: list[str]) -> list[str]:
        """``argv`` run on the far side."""
        return _inside(self.far_ns, argv)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Placement:
        return cls(**json.loads(text))


def _inside(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else argv


def loopback(why: str) -> Placement:
    return Placement(f"loopback ({why})", LOOPBACK, LOOPBACK)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _why_not() -> str | None:
    """Why two namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no ip command (iproute2)"
    return None


def _make(near: str, far: str, tag: str) -> None:
    """Namespaces ``near`` and ``far``, a veth pair between them, addresses up."""
    _ip("netns", "add", near)
    _ip("netns", "add", far)
    dev_near, dev_far = f"nbn{tag}", f"nbf{tag}"
    _ip("link", "add", dev_near, "netns", near, "type", "veth", "peer", "name", dev_far,
        "netns", far)
    for ns, dev, addr in ((near, dev_near, NEAR_ADDR), (far, dev_far, FAR_ADDR)):
        _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
        _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", ns, "link", "set", "lo", "up")


def _remove(*names: str) -> None:
    for ns in names:  # deleting a namespace deletes its end of the veth pair, and the pair
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@contextmanager
def placed() -> Iterator[Placement]:
    """Two namespaces joined by veth when they can be made, else loopback."""
    why = _why_not()
    if why:
        yield loopback(why)
        return
    tag = f"{os.getpid() % 100000}"
    near, far = f"nb-n{tag}", f"nb-f{tag}"
    try:
        _make(near, far, tag)
    except (OSError, subprocess.SubprocessError) as err:
        _remove(near, far)
        detail = getattr(err, "stderr", b"") or b""
        yield loopback(f"cannot make network namespaces: {err} {detail.decode()[-200:]}".strip())
        return
    try:
        yield Placement("netns (veth)", NEAR_ADDR, FAR_ADDR, near, far)
    finally:
        _remove(near, far)
