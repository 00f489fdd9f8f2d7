"""What ``nanonet top``'s keyed view shows, as plain functions of snapshots.

The textual app (``toptui.py``) only lays these out: rows in the order a key
chose, CPU use as a share of one core between two snapshots, a tunnel's
details (its writer and reader, and the services behind them), uptime. Kept
apart from the app so that every rule here is plain data in, text out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .units import byte_rate, size

Snap = dict[str, Any]
NATS_TRANSPORTS = ("nats", "jetstream")  # a link's transports that run on a NATS client
SORTS = ("name", "rate", "fill", "lag", "cpu")  # the keys n, r, f, l, c


def rate(v: float) -> str:
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


def ns(v: int | None) -> str:
    if v is None:
        return "-"
    return f"{v} ns" if v < 1e3 else f"{v / 1e3:.1f} µs" if v < 1e6 else f"{v / 1e6:.2f} ms"


def uptime(seconds: float | None) -> str:
    """``42s``, ``3m07s``, ``2h05m``; ``-`` before the mesh started."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s // 60 % 60:02d}m"


def tunnel_state(t: Snap) -> str:
    if t.get("quarantine"):
        return "quarantined"
    if t.get("broken"):
        return "broken"
    return "closed" if t.get("closed") else "open"


def fill_share(t: Snap) -> float:
    return t["fill"] / t["slots"] if t["slots"] else 0.0


_TUNNEL_ORDER: dict[str, Callable[[Snap], Any]] = {
    "name": lambda t: t["name"],
    "rate": lambda t: (-t["msgs_per_s"], t["name"]),
    "fill": lambda t: (-fill_share(t), t["name"]),
    "lag": lambda t: (t["p99_ns"] is None, -(t["p99_ns"] or 0), t["name"]),
    "cpu": lambda t: t["name"],
}


def sorted_tunnels(snap: Snap, key: str) -> list[Snap]:
    """The tunnels by name, or busiest first (rate, fill, lag p99; none-yet last)."""
    return sorted(snap["tunnels"], key=_TUNNEL_ORDER[key])


def sorted_services(snap: Snap, key: str, cpu: dict[str, float | None]) -> list[Snap]:
    """The services by name, or (key ``cpu``) the busiest thread first."""
    if key != "cpu":
        return sorted(snap["services"], key=lambda s: s["name"])
    return sorted(snap["services"], key=lambda s: (-(cpu.get(s["name"]) or 0.0), s["name"]))


def cpu_shares(cur: Snap, prev: Snap | None) -> dict[str, float | None]:
    """Each service's CPU use between ``prev`` and ``cur``, as a share of one core."""
    span = (cur["time_ns"] - prev["time_ns"]) / 1e9 if prev else 0.0
    before = {s["name"]: s.get("cpu_seconds") for s in (prev or {}).get("services", [])}
    shares: dict[str, float | None] = {}
    for s in cur["services"]:
        now, then = s.get("cpu_seconds"), before.get(s["name"])
        ok = now is not None and then is not None and span > 0
        shares[s["name"]] = max(0.0, now - then) / span if ok else None
    return shares


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}s" if v < 100 else f"{v:.0f}s"


def traps(s: Snap) -> str:
    return ", ".join(f"{c}×{n}" for c, n in s["traps"].items()) or "0"


def traps_short(s: Snap, width: int = 18) -> str:
    """How many traps, and the commonest cause, cut to ``width`` (80 columns hold it)."""
    total = sum(s["traps"].values())
    if not total:
        return "0"
    cause = max(s["traps"].items(), key=lambda kv: kv[1])[0]
    text = f"{total} {cause}"
    return text if len(text) <= width else text[:width - 1] + "…"


def fuel(v: int | None) -> str:
    """Fuel burnt, short: ``812``, ``45.3 k``, ``12.40 M``, ``3.10 G``."""
    if v is None:
        return "-"
    return f"{v / 1e9:.2f} G" if v >= 1e9 else rate(float(v))


def _end(snap: Snap, owner: str | None) -> str:
    """One end of a tunnel: who holds it, and that service's state and CPU time."""
    if owner is None:
        return "nobody yet"
    svc = next((s for s in snap["services"] if s["name"] == owner), None)
    if svc is None:
        return owner
    return (f"{owner} ({svc['state']}, cpu {seconds(svc.get('cpu_seconds'))}, "
            f"traps {traps(svc)}, memory {size(svc['memory_bytes'])})")


def tunnel_end(snap: Snap, t: Snap, side: str) -> str:
    """Who holds a tunnel's ``side`` ("writer" or "reader"); an end the bridge
    holds is named by its link's far end (``producer on main``)."""
    if t[side] == "<bridge>":
        for k in snap.get("links", []):
            if k["tunnel"] == t["name"] and k.get("far_node"):
                return f"{k.get('far_service') or '?'} on {k['far_node']}"
    return str(t[side] or "-")


def _held(snap: Snap, t: Snap, side: str) -> str:
    far = tunnel_end(snap, t, side)
    return f"{far} (over the bridge)" if t[side] == "<bridge>" and far != "<bridge>" \
        else _end(snap, t[side])


def tunnel_details(snap: Snap, name: str) -> list[str]:
    """Everything a snapshot says of tunnel ``name``: its ends first."""
    t = next((t for t in snap["tunnels"] if t["name"] == name), None)
    if t is None:
        return [f"{name}: no longer in the snapshot"]
    why = t.get("quarantine_reason") or t.get("broken_reason")
    return [
        f"tunnel {name}: {tunnel_state(t)}" + (f" ({why})" if why else "")
        + ("  [tap attached]" if t["tap"] else ""),
        f"  writer  {_held(snap, t, 'writer')}",
        f"  reader  {_held(snap, t, 'reader')}",
        f"  ring    {t['slots']} slots of {size(t['max_payload'])}, fill {t['fill']}; "
        f"full {t['times_full']:,}×, empty {t['times_empty']:,}×",
        f"  moved   {t['sent']:,} sent, {t['received']:,} received ({size(t['bytes_out'])})",
        f"  now     {rate(t['msgs_per_s'])} msg/s, {byte_rate(t['bytes_per_s'])}; lag p50 "
        f"{ns(t['p50_ns'])}, p99 {ns(t['p99_ns'])}",
        f"  parks   writer {t['writer_parks']:,}, reader {t['reader_parks']:,}; "
        f"dead letters {t.get('dead_letters', 0)}",
        *_subscriber_lines(t),
        *_writer_lines(t),
    ]


def _subscriber_lines(t: Snap) -> list[str]:
    """A pub-sub tunnel's subscribers: who, which policy, how far behind, what missed."""
    return [f"  sub {s['line']:<3} {s.get('owner') or '?'} ({s['policy']}): lag {s['lag']:,}, "
            f"received {s['received']:,}, missed {s['missed']:,}"
            for s in t.get("subscribers", [])]


def _writer_lines(t: Snap) -> list[str]:
    """A fan-in tunnel's writers: each one's own ring, what it sent, what was read of it."""
    return [f"  writer  {w['writer']}: sent {w['sent']:,}, received {w['received']:,}"
            + ("  [closed]" if w.get("closed") else "") for w in t.get("writers", [])]


PORT_COLUMNS = ("port", "server", "calls/s", "calls", "flight", "p50", "tmo", "late", "requ")


def port_row(p: Snap) -> tuple[str, ...]:
    """One port as the ports table shows it (80 columns: the short headings above)."""
    return (p["name"], p.get("server") or "-", rate(p.get("calls_per_s", 0.0)),
            f"{p['calls']:,}", str(p["in_flight"]), ns(p.get("call_p50_ns")),
            f"{p['timeouts']:,}", f"{p['late']:,}", f"{p['requeued']:,}")


def pattern_lines(snap: Snap) -> list[str]:
    """The services that wait on many ends (their bell parks), those upgraded
    (how many times, the last result) and the bridged links (``link_lines``),
    one line each; none: nothing to say."""
    lines = [f"{s['name']} waits on many ends: {s['bell_parks']:,} bell parks"
             for s in snap["services"] if s.get("bell_parks") is not None]
    lines += [f"{s['name']} upgraded {s['upgrades']}×; last: {s.get('last_upgrade') or '-'}"
              for s in snap["services"] if s.get("upgrades")]
    return lines + link_lines(snap)


def link_lines(snap: Snap) -> list[str]:
    """Each bridged link: the tunnel's far end, the session's state, its round
    trip, in flight, retransmits, reconnects, bytes each way, what a link
    that carries datagrams missed, and a link over NATS its client's reconnects."""
    return [f"link {k['tunnel']} ({k['side']}, {k['transport']}){_far(k)}: {k['state']}, "
            f"rtt {_rtt(k.get('rtt_s'))}, in flight {k['in_flight']:,}, retransmits "
            f"{k['retransmits']:,}, reconnects {k['reconnects']:,}, "
            f"{size(k['bytes_sent'])} out, {size(k['bytes_received'])} in"
            + missed_text(k) + nats_reconnects_text(k) for k in snap.get("links", [])]


def missed_text(k: Snap) -> str:
    """A datagram link's count of messages given up as lost on the way."""
    return f", missed {k['missed']:,} (datagram)" if k.get("delivery") == "datagram" else ""


def nats_reconnects_text(k: Snap) -> str:
    """A link over NATS: how often its NATS client connected again to a server."""
    if k["transport"] not in NATS_TRANSPORTS:
        return ""
    return f", nats reconnects {k.get('nats_reconnects', 0):,}"


def _far(k: Snap) -> str:
    """Where the link's tunnel goes: `` to checker on b`` (or comes from)."""
    if not k.get("far_node"):
        return ""
    way = "to" if k["side"] == "send" else "from"
    return f" {way} {k.get('far_service') or '?'} on {k['far_node']}"


def _rtt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def tunnel_pattern_lines(snap: Snap) -> list[str]:
    """Every pub-sub tunnel's subscribers and fan-in tunnel's writers, under its name
    (the plain view, which has no details pane)."""
    lines = []
    for t in snap["tunnels"]:
        more = [*_subscriber_lines(t), *_writer_lines(t)]
        lines += [f"tunnel {t['name']}:", *more] if more else []
    return lines
