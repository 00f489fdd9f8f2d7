"""``nanonet bench``: run the side-by-side suite, show it, optionally save JSON.

The figures are keyed ``result[workload][transport][statistic]`` (workloads ``w1``,
``rate``, ``w2_64``, ``w2_1024``, ``w2_4096``, ``w3``, ``w4``, and ``scale`` whose rows
are named, not transports; ``pubsub_64``, ``fanin_64``, ``reqrep`` and ``waitany`` from
``patterns``; ``bridge_64``, ``bridge_4096``, ``bridge_rtt`` and ``bridge_rtt_4096``
from ``bridge``; ``rate_wait``, ``rate`` per tunnel wait policy, from ``rate``;
``http``, ``components`` and ``browser``, whose rows come from the standalone benches,
``result[workload][row][statistic]``), next to ``machine``, ``versions``, ``meta``
(mode, syscall counter, method notes), ``targets``, ``skipped`` (peers that cannot run
here, and why) and ``histograms`` (encoded HDR histograms of the latency runs).
``--report`` writes the performance page from the same result.
With ``--json -`` the JSON goes to stdout and everything else to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import native, page, report, syscalls
from .avail import peer_versions
from .machine import machine, versions
from .plan import DEFAULT_WORKLOADS, TRANSPORTS, WORKLOADS, parse_list
from .suite import Suite
from .targets import evaluate

NOTES = {
    "w1": "one-way = RTT/2, HDR histogram (3 digits); py sockets, mp-pipe, zmq-ipc, iceoryx2 "
          "and nats run their two ends in two processes, c sockets, c-ring, zmq-inproc and "
          "nanonet-py in two threads, nanonet in two Wasm services on two threads",
    "rate": "W1 paced at a fixed offered rate; latency is the whole round trip counted from "
            "each message's intended send time, so stalls are not hidden (coordinated "
            "omission); a transport slower than the rate queues up and its figures grow",
    "rate_wait": "the rate workload once per tunnel wait policy (nanonet-spin, "
                 "nanonet-adaptive, nanonet-park) beside c-ring in the same run; cpu_per_wall "
                 "is the child process's CPU seconds over its wall seconds; every row's pinger "
                 "spins on the clock until each round is due, about one core of its own",
    "w2": "socket streams, nanonet-host and nanonet-py hand 64 messages per call, as the Wasm "
          "producer's send_batch; nanonet-host (and nanonet-host-async, the same stream "
          "from an asyncio task with a 1 ms ticker beside it; ticks_kept in the JSON is the "
          "ticker's rate beside the stream over its rate on the idle loop) hands "
          "them as one Packed buffer of fixed-size records, as a program holding its records "
          "in an array would; mp-pipe, zmq, iceoryx2 and nats send one per call, as "
          "their docs show; c-ring publishes per message; nats waits for the subscriber "
          "every 4096 messages (core NATS drops for slow consumers), iceoryx2 is made "
          "lossless (no safe overflow, RetryUntilDelivered)",
    "w3": "loaded W2 64 B run minus the same run with zero messages, child processes "
          "included (nats: the nats-server too)",
    "w4": "one mesh, tunnel and service per sample; RSS delta includes each service's "
          "tunnel and thread; the engine floor is a new Store and InstancePre.instantiate "
          "of the same guest in the same process, its imports host functions that do nothing "
          "(no adapter, ring, shim or thread)",
    "patterns": "pubsub_64: one publisher, 4 subscribers, delivered messages/s of all "
                "subscribers together (iceoryx2 lossless as in w2, ZeroMQ XPUB with "
                "XPUB_NODROP so a full subscriber makes the publisher wait; 'lost' counts "
                "what did not arrive); fanin_64: 4 writers, 1 reader (ZeroMQ PUSH/PULL), "
                "released together; reqrep: one client, the whole round trip, iceoryx2 "
                "request-response, ZeroMQ REQ/REP, NATS request/reply; every far end is a "
                "process of its own (zmq-inproc: threads of one process)",
    "bridge": "cross-node: the near end (and the nats-server) in one network namespace, "
              "each far end a process in another, joined by veth (made by the bench as "
              "root; else loopback, and each row's placement says why); bridge_64, "
              "bridge_4096: a host writer on one mesh to a host reader on another through "
              "the NATS (nanonet), QUIC (nanonet-quic) and WebSocket (nanonet-ws) bridges' "
              "own pumps, against nats-py publishing one NATS message per message and "
              "ZeroMQ PUSH/PULL over TCP (zmq-tcp); the far end checks every sequence "
              "number (lost, out_of_order); the bridged rings: 32768 slots at 64 B, a "
              "cross-machine tunnel's window, docs/bridge.md; 1024 at 4 KiB; bridge_rtt, "
              "bridge_rtt_4096: one message out and back through two bridged tunnels, "
              "against nats-py request/reply and ZeroMQ REQ/REP (p50, p99)",
    "http": "http_bench's clients (a subprocess: 8 threads, one keep-alive connection each) "
            "against the HTTP example's WAT service behind the ingress, then against a "
            "Starlette app under one uvicorn server and http.server's ThreadingHTTPServer, "
            "each answering the same kind of short body",
    "components": "component_cost's rows, each part in a child process: pair (component -> "
                  "component call timed inside Wasm, host -> component call timed from "
                  "Python, the same import linked through Python), boundary and bulk "
                  "(list<u8> and strings across the host boundary: core API against the "
                  "value layer), stream and ring (component -> tunnel with and without the "
                  "Wasm path), cold start of C, Python and JavaScript components beside a "
                  "core module (built guests cached on disk)",
    "browser": "browser_bench's and tabhttp_bench's rows: headless Chromium tabs against the "
               "same guests on the host, each part in a child process",
    "nanonet-py": "two Python threads on one process: the GIL serialises them, so this row "
                  "measures Python and its GIL as much as the tunnel",
}


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _run_suite(suite: Suite, console: Console) -> None:
    steps = suite.steps()
    with _progress(console) as bar:
        task = bar.add_task("building native peers", total=len(steps) + 1)
        if suite.needs_native():
            suite.build_native()
        bar.advance(task)
        for step in steps:
            bar.update(task, description=step.label)
            suite.run_step(step)
            bar.advance(task)


def _zig() -> str:
    try:
        return native.zig_version()
    except Exception:  # only a version string: never fail the run for it
        return "unknown"


def _finish(suite: Suite, quick: bool, host: dict[str, object]) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": host,
                              "versions": {**versions(_zig()), **peer_versions()},
                              "meta": {"mode": "quick" if quick else "full",
                                       "syscall_counter": syscalls.describe(syscalls.counter()),
                                       "notes": NOTES}}
    result.update(suite.result)
    result["targets"] = evaluate(result)
    return result


def _write_json(result: dict[str, Any], path: str) -> None:
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def _run(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json == "-")
    try:
        workloads = (parse_list(args.only, WORKLOADS, "workload") if args.only
                     else DEFAULT_WORKLOADS)
        transports = parse_list(args.transports, TRANSPORTS, "transport")
    except ValueError as err:
        console.print(f"[red]{err}[/red]")
        return 2
    host = machine()  # before the run: its load is the other work, not ours
    suite = Suite(workloads, transports, args.quick)
    _run_suite(suite, console)
    result = _finish(suite, args.quick, host)
    report.show(console, result)
    for failure in suite.failures():
        console.print(f"[red]failed:[/red] {failure}", markup=True, highlight=False)
    if args.json:
        _write_json(result, args.json)
    if args.report:
        written = page.write(result, Path(args.report))
        console.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
    return 1 if suite.failures() else 0


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure tunnels side by side with what you would use "
                       "instead", description="W1 ping-pong latency (closed loop and at a "
                       "fixed rate), W2 stream throughput, W3 syscalls per message, W4 "
                       "cold start and idle memory, scale rows, pub-sub, fan-in, "
                       "request/reply and wait-any patterns, the NATS, QUIC and WebSocket "
                       "bridges, HTTP ingress; nanonet against Python and C sockets, a C "
                       "shared-memory ring, multiprocessing pipes, ZeroMQ, iceoryx2, NATS "
                       "and Python HTTP servers, in one run. On request (--only): component "
                       "calls, bulk and cold start (components), and browser tabs (browser, "
                       "needs Chromium).")
    p.add_argument("--quick", action="store_true", help="small counts (tests, CI)")
    p.add_argument("--only", metavar="W1,W2",
                   help=f"workloads to run ({','.join(WORKLOADS)}; without --only all but "
                   f"{','.join(w for w in WORKLOADS if w not in DEFAULT_WORKLOADS)})")
    p.add_argument("--transports", metavar="T1,T2",
                   help=f"transports to run ({','.join(TRANSPORTS)})")
    p.add_argument("--json", metavar="PATH", help="write every figure as JSON ('-': stdout)")
    p.add_argument("--report", metavar="PATH.md",
                   help="write the performance page (markdown, PNG plots beside it)")
    p.set_defaults(func=_run)
