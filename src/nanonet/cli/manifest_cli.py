"""``nanonet check`` and ``nanonet run``: a mesh from its ``nanonet.toml``.

Both go through ``load_manifest`` and ``Manifest.build_mesh``, the same path
as the Python API, so that what ``check`` accepts is exactly what ``run``
runs. ``check`` prints what every service can reach (from the manifest alone);
it also loads every service (unless ``--no-load``), because an import no
grant allows is only visible in the compiled module. Loading runs no guest
code (start functions run only when a mesh starts), and ``check`` runs no
build command unless ``--build`` asks it to.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

from ..bridge import placement
from ..bridge.node import placed
from ..component.fastpath import lines
from ..component.ringmesh import paths
from ..errors import ManifestError, NanonetError
from ..manifest.httpcheck import loaded_route_problems
from ..manifest.manifest import Manifest, check_manifest, load_manifest
from ..manifest.reach import describe
from ..observe.feeds import SharedWriter
from ..observe.hook import add_arguments, attach, mesh_name, preflight
from . import feed
from .calls import CallSpec, start_calls
from .check_report import as_json, as_text
from .check_roles import service_roles
from .labels import labelled
from .manifest_run import (
    CLOSED_OUTPUT,
    CTRL_C,
    HostReads,
    Print,
    RunOptions,
    Stop,
    failed,
    run_mesh,
    summary,
)
from .node_cli import Bridging, add_bridge_arguments, bridge_lines, bridging, started_line
from .run_report import summary_json
from .stopping import SIGPIPE_EXIT
from .verbosity import add_switch
from .watch import INTERVAL as WATCH_INTERVAL
from .watch import Watcher
from .watched import Pending, run_watched
from .web_cli import add_web_argument, browsers, run_web
from .web_run import add_http_argument, share_lines, start_ingress
from .where import manifest_path


def _progress(line: str) -> None:
    print(line, flush=True)


def _aside(line: str) -> None:
    """With --json, what is said on the way goes to stderr: stdout is the JSON."""
    print(line, file=sys.stderr, flush=True)


def _load_all(m: Manifest, build: bool, say: Print) -> list[ManifestError]:
    """Compile, check and instantiate every service (no guest code runs), then
    release everything; build commands run only with ``build``. Every service
    that cannot be built or loaded is one error."""
    runs = "running build commands" if build else "no build command runs without --build"
    say(f"\nloading every service ({runs}; --no-load skips this):")
    failures: list[ManifestError] = []
    mesh = m.build_mesh(say, build=build, failures=failures)
    waiters = ", ".join(sorted(mesh.bells.waiters))
    if waiters:  # wait_any importers and fan-in readers: one bell line each
        say(f"waiting on many ends with one park (wait_any or a fan-in tunnel): {waiters}")
    for name, comp in sorted(mesh.components.items()):  # split.py, or the Wasm tunnel path
        for line in lines(name, comp.loaded.binary, paths(mesh).get(name)):
            say(line)
    said, bad_routes = loaded_route_problems(m, mesh)
    for line in said:
        say(line)
    failures += bad_routes
    mesh.stop(grace=0)
    if not failures:
        count = len(m.services)
        loads = "the service loads" if count == 1 else f"all {count} services load"
        say(f"{loads}: every import is granted")
    return sorted(failures, key=lambda e: e.line)


def _check(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest, "check")
    if path is None:
        return 1
    say = _aside if args.json else _progress
    m, errors = check_manifest(path)
    if m is not None and not errors:
        if not args.json:
            print("\n".join(describe(m) + placement.lines(m.table)))
        if not args.no_load:
            errors = _load_all(m, args.build, say)
    if args.json:
        names = (list(m.services), list(m.table.tunnels)) if m is not None else ([], [])
        print(as_json(path, errors, *names, roles=None if m is None else service_roles(m),
                      placement=placement.as_json(m.table) if m is not None else None))
    elif errors:
        print("\n".join(as_text(path, errors)), file=sys.stderr)
    return 1 if errors else 0


def _run(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest, "run")
    if path is None:
        return 1
    opts = RunOptions(args.timeout, args.quiet, args.format, args.max_bytes)
    if args.call and args.top:
        print("--call reports when its calls are done; it does not run under --top: "
              "drop one", file=sys.stderr)
        return 2
    args.dashboard = args.dashboard or bool(args.feed)  # --feed is for the control endpoint
    say = _aside if args.json else _progress
    try:
        m = load_manifest(path)
        fed = feed.plan(m, args)
        preflight(args)
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1
    if browsers(m.table, args.web) or args.web:  # services in browser tabs: serve the page
        return run_web(m, args)
    if placed(m.table):  # services on other nodes: this is the main node, bridged
        if m.table.http:
            print("[[http]] routes are served by a mesh on one node only (docs/http.md); "
                  "remove them, or the services' node keys", file=sys.stderr)
            return 1
        return _run_main_node(m, args, opts, say)
    return _run_labelled(m, args, opts, say, fed)


def _run_main_node(m: Manifest, args: argparse.Namespace, opts: RunOptions, say: Print) -> int:
    """The main node of a manifest split over nodes: its part, bridged, run
    like any mesh (--send, --feed, --top, --json, --watch, the dashboard)."""
    try:
        with bridging(m, None, args) as how:
            fed = feed.plan(how.part.manifest, args)
            return _run_labelled(how.part.manifest, args, opts, say, fed, how)
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1


def _run_labelled(m: Manifest, args: argparse.Namespace, opts: RunOptions, say: Print,
                  fed: feed.Plan, how: Bridging | None = None) -> int:
    pending = Pending()
    # several services' stdio is labelled; under --top it prints above the view
    with labelled(args.json or args.top or len(m.services) > 1,
                  sys.stderr if args.json else None, pending.put if args.top else None):
        return _run_loaded(m, args, opts, say, pending, fed, how)


def _run_loaded(m: Manifest, args: argparse.Namespace, opts: RunOptions, say: Print,
                pending: Pending, fed: feed.Plan, how: Bridging | None) -> int:
    try:
        say(f"building and loading {len(m.services)} services from {m.path}")
        mesh = m.build_mesh(say, latency=args.dashboard or args.top)
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1
    try:
        ingress = start_ingress(m, mesh, args.http, say)
    except (OSError, ValueError, NanonetError) as err:
        print(f"http: {err}", file=sys.stderr)
        mesh.close()
        return 1
    if ingress is not None and getattr(args, "share", None):
        for line in share_lines(ingress):
            say(line)
    feeds = feed.open_feeds(mesh, fed)
    for name in m.host_writes:
        if name not in feeds:
            mesh.writer(name).close()
            say(f"host: closed its write end of {name} (nothing feeds it: --send, --feed)")
    host = HostReads({name: mesh.reader(name) for name in m.host_reads}, opts,
                     pending.put if args.top else say)
    limit = "" if opts.timeout is None else f", {opts.timeout:g} s at most"
    say(f"running (Ctrl-C stops{limit})")
    t0 = time.perf_counter()
    stop = Stop()
    driven = start_calls(mesh, args.call, args.calls, stop) if args.call else None
    bridges = None
    if how is not None:
        _aside(started_line("main", how.part))
        bridges = how.start(mesh)
    with attach(mesh, args, args.name or mesh_name(m.path)) as seen:
        for end in feeds.values():
            seen.observer.offer(end)
        feeders = _start_feeders(feeds, fed, args)
        with Watcher(m, mesh, pending.put if args.top else say) if args.watch \
                else contextlib.nullcontext():
            why = (run_watched(mesh, host, opts, seen, pending, bridges) if args.top
                   else run_mesh(mesh, host, opts, stop, bridges))
    seconds = time.perf_counter() - t0
    if ingress is not None:
        ingress.stop()
    if driven is not None:
        driven[1].join(60)  # its calls end with the mesh's stop at the latest
        say(driven[0].report())
    sent = feed.finish(feeders, feeds.values())
    for line in bridge_lines("main", bridges) if bridges is not None else []:
        _aside(line)  # on stderr, as ``nanonet node`` says them
    bridge_failed = bridges is not None and bool(bridges.errors)
    status = (130 if why == CTRL_C else SIGPIPE_EXIT if why == CLOSED_OUTPUT
              else 1 if failed(mesh, why) or bridge_failed or any(f.error for f in feeders)
              else 0)
    if args.json:
        print(summary_json(mesh, host, why, seconds, status))
    else:
        print(f"{why} after {seconds:.3f} s")
        print("\n".join(summary(mesh, host) + sent))
    mesh.close()  # release every store (and its WASI streams) while Python still runs
    return status


def _start_feeders(feeds: dict[str, SharedWriter], fed: feed.Plan,
                   args: argparse.Namespace) -> list[feed.Feeder]:
    """One thread per ``--send``; a failure prints its line and closes its tunnel (what
    went before it is still delivered), and the run's exit status is 1."""
    def failed_with(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return [feed.Feeder(feeds[name], path, args.send_format, args.send_keep_open,
                        failed_with).start() for name, path in fed.sends.items()]


def _call_spec(text: str) -> CallSpec:
    try:
        return CallSpec.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


MANIFEST_HELP = ("the manifest (TOML; default ./nanonet.toml); paths in it are relative to "
                 "its directory")
JSON_HELP = "print one JSON object on stdout (what is said on the way goes to stderr)"


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate a nanonet.toml and show what each service "
                       "can reach", description="Check a manifest: its TOML, every key, "
                       "the references between tables and the files it names, then load every "
                       "service (compiled, imports checked, instantiated; no guest code runs) "
                       "so that an import nobody granted is caught. Build commands run only "
                       "with --build. Prints, "
                       "per service, its tunnel ends, files, env, args, clock, random, stdio, "
                       "network, raw access, limits and restart policy. Exit status 0 if the "
                       "manifest is valid, 1 with every FILE:LINE: KEY: PROBLEM; FIX "
                       "otherwise.")
    p.add_argument("manifest", nargs="?", help=MANIFEST_HELP)
    p.add_argument("--no-load", action="store_true",
                   help="check the file only: do not build or load the services")
    p.add_argument("--build", action="store_true",
                   help="run the services' build commands (and componentize-py builds) "
                   "first, as `nanonet run` does; without it, what is not built is an error")
    p.add_argument("--json", action="store_true", help=JSON_HELP + ": ok, or every error")
    add_switch(p)
    p.set_defaults(func=_check)

    r = sub.add_parser("run", help="build and run the mesh of a nanonet.toml",
                       description="Build what the manifest needs, load every service with "
                       "its grants and limits, and run the mesh until every service ends, "
                       "the --timeout, Ctrl-C or SIGTERM (a clean stop). What arrives on the "
                       "tunnels the host reads (reader = \"host\") is printed; the tunnels it "
                       "writes are fed with --send or --feed, or closed at the start. A summary "
                       "of every service and tunnel follows. Guests' stdout and stderr lines "
                       "are prefixed with [SERVICE] when the mesh has several. Exit status 0 if "
                       "no service failed.")
    r.add_argument("manifest", nargs="?", help=MANIFEST_HELP)
    r.add_argument("--timeout", type=float, default=None,
                   help="stop the mesh after this many seconds")
    r.add_argument("--quiet", action="store_true",
                   help="count what the host receives instead of printing it")
    r.add_argument("--format", choices=("auto", "hex", "text"), default="auto",
                   help="how to print received messages (auto: text if printable UTF-8)")
    r.add_argument("--max-bytes", type=int, default=64,
                   help="print at most this many bytes of each message (default 64)")
    r.add_argument("--json", action="store_true", help=JSON_HELP + ": the final summary")
    r.add_argument("--call", type=_call_spec, metavar="SERVICE.EXPORT(ARGS)",
                   help="call a component service's export (arguments as Python literals) "
                        "--calls times once the mesh has started, then stop; the summary "
                        "says calls/s and p50/p99 latency")
    r.add_argument("--calls", type=int, default=1000, metavar="N",
                   help="how many times --call calls (default 1000)")
    r.add_argument("--watch", action="store_true",
                   help="poll every module service's source (its mtime, every "
                   f"{WATCH_INTERVAL:g} s); on a change rebuild it and hot-upgrade the running "
                   "service at a commit point, printing what happened (a failed build, a "
                   "refusal or a rollback leaves the old module running)")
    add_switch(r)
    feed.add_arguments(r)
    add_arguments(r)
    add_bridge_arguments(r)
    add_web_argument(r)
    add_http_argument(r)
    r.set_defaults(func=_run)
