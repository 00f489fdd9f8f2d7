"""The performance page's plots, drawn with matplotlib's Agg backend (no display).

Latency CDFs come from the HDR histograms the run kept (one curve per
transport, log time axis: the transports span four orders of magnitude);
throughput is messages/s by message size, one line per transport.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

SIZES = ((64, "w2_64"), (1024, "w2_1024"), (4096, "w2_4096"))
Result = dict[str, Any]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cdf(encoded: str) -> tuple[list[float], list[float]]:
    """(ns, cumulative %) points of an encoded HDR histogram."""
    hist = HdrHistogram.decode(encoded)
    total = hist.get_total_count() or 1
    xs, ys, seen = [], [], 0
    for item in hist.get_recorded_iterator():
        seen += item.count_at_value_iterated_to
        xs.append(float(item.value_iterated_to))
        ys.append(100.0 * seen / total)
    return xs, ys


def latency_cdf(result: Result, workload: str, title: str, path: Path) -> Path | None:
    """One CDF curve per transport of ``workload``'s histograms; None if there are none."""
    hists = result.get("histograms", {}).get(workload, {})
    if not hists:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for transport, encoded in hists.items():
        xs, ys = _cdf(encoded)
        ax.step(xs, ys, where="post", label=transport)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ns, log scale)")
    ax.set_ylabel("messages at or below (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(result: Result, path: Path) -> Path | None:
    """Messages/s by message size, one line per transport; None if W2 did not run."""
    transports = dict.fromkeys(t for _, key in SIZES for t in result.get(key, {}))
    if not transports:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for t in transports:
        points = [(size, result[key][t].get("msgs_per_s")) for size, key in SIZES
                  if t in result.get(key, {})]
        points = [(x, y) for x, y in points if isinstance(y, int | float)]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=t)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks([s for s, _ in SIZES], [f"{s} B" for s, _ in SIZES])
    ax.set_xlabel("message size")
    ax.set_ylabel("messages/s (log scale), every sequence number checked")
    ax.set_title("W2 stream throughput by message size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
