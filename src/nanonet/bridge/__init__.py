"""Tunnels across machines: the bridge protocol (``frames``, ``session``), the
pumps that join it to a ring (``pump``) and its transports (docs/bridge.md)."""
