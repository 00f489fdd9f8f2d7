"""Two or more "hosts" as network namespaces (joined by a veth pair, or by
veth pairs to one bridge), made by a test and removed in its finalizer;
addresses exist only inside them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Hosts:
    a: str  # namespace names
    b: str
    addr_a: str
    addr_b: str
    dev_b: str  # b's end of the veth pair

    def run(self, ns: str, *cmd: str) -> list[str]:
        """``cmd`` run inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns, *cmd]

    def link(self, up: bool) -> None:
        """Cut (or restore) b's link."""
        _ip("-n", self.b, "link", "set", self.dev_b, "up" if up else "down")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root; the loopback tests cover the bridge"
    try:
        _ip("netns", "add", "nanonet-probe")
        _ip("netns", "del", "nanonet-probe")
    except (OSError, subprocess.SubprocessError) as err:
        return f"cannot make a network namespace ({err}); the loopback tests cover the bridge"
    return None


@contextmanager
def two_hosts() -> Iterator[Hosts]:
    tag = f"{os.getpid() % 100000}"
    h = Hosts(f"nn-a{tag}", f"nn-b{tag}", "10.231.0.1", "10.231.0.2", f"vb{tag}")
    try:
        _ip("netns", "add", h.a)
        _ip("netns", "add", h.b)
        _ip("link", "add", f"va{tag}", "netns", h.a, "type", "veth", "peer", "name", h.dev_b,
            "netns", h.b)
        for ns, dev, addr in ((h.a, f"va{tag}", h.addr_a), (h.b, h.dev_b, h.addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield h
    finally:
        for ns in (h.a, h.b):  # deleting a namespace deletes its end of the pair, and the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@contextmanager
def one_host_without_udp() -> Iterator[str]:
    """A namespace with only loopback, whose firewall (nft) drops every UDP
    packet: QUIC cannot connect there, TCP can. Removed afterwards."""
    ns = f"nn-u{os.getpid() % 100000}"
    try:
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        rules = ("table inet nanonet {\n chain out {\n"
                 "  type filter hook output priority 0;\n  meta l4proto udp drop\n }\n}\n")
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules.encode(),
                       check=True, capture_output=True, timeout=10)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def nft_missing() -> str | None:
    """Why UDP cannot be blocked here (None: it can)."""
    import shutil
    return None if shutil.which("nft") else "no nft: apt-get install nftables (scripts/setup)"


@dataclass(frozen=True)
class Mesh:
    """``n`` hosts, each a namespace with one address, on one bridge that lives
    in a namespace of its own (``hub``): nothing is added to the machine's."""

    names: tuple[str, ...]
    addrs: tuple[str, ...]
    hub: str

    def run(self, i: int, *cmd: str) -> list[str]:
        """``cmd`` run inside host ``i``."""
        return ["ip", "netns", "exec", self.names[i], *cmd]


@contextmanager
def hosts_on_a_bridge(n: int) -> Iterator[Mesh]:
    """``n`` namespaces joined by veth pairs to one bridge, removed afterwards
    even when the test fails; names carry the process id, so two runs at once
    do not meet (the subnet is kept apart from two_hosts' by its third byte)."""
    tag = f"{os.getpid() % 100000}"
    m = Mesh(tuple(f"nn-{i}h{tag}" for i in range(n)),
             tuple(f"10.231.{1 + os.getpid() % 250}.{i + 1}" for i in range(n)), f"nn-hub{tag}")
    made: list[str] = []
    try:
        for ns in (m.hub, *m.names):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("-n", m.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", m.hub, "link", "set", "br0", "up")
        for i, (ns, addr) in enumerate(zip(m.names, m.addrs, strict=True)):
            _join(m.hub, ns, f"p{i}{tag}", addr)
        yield m
    finally:
        for ns in made:  # the bridge and each pair go with their namespaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _join(hub: str, ns: str, port: str, addr: str) -> None:
    """One host on the bridge: ``eth0`` inside ``ns``, ``port`` on the hub's bridge."""
    _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
    _ip("-n", hub, "link", "set", port, "master", "br0")
    _ip("-n", hub, "link", "set", port, "up")
    _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
    _ip("-n", ns, "link", "set", "eth0", "up")
    _ip("-n", ns, "link", "set", "lo", "up")
