"""HTTP requests/s and p50 through the ingress, beside a stdlib server, in one run.

The nanonet side is the HTTP example's WAT service (examples/http/hello.wat,
shipped in the package) behind ``web.server.HttpIngress``; the peer is
``http.server.ThreadingHTTPServer`` answering the same kind of text body
from Python, and a Starlette app under uvicorn (``asgi_peer.py``, when they
are installed). The clients run in a
subprocess of their own (so they do not share the servers' GIL): 8 threads,
each on one keep-alive connection, each timing its requests.

    python -m nanonet.bench.http_bench [--requests N] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..mesh import Mesh
from ..web.routes import HttpRoute
from ..web.server import HttpIngress

WAT = Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.wat"


def _clients(host: str, port: int, clients: int, per: int, prefix: str = "/api",
             ) -> dict[str, float]:
    """Run in the client subprocess: requests/s over all, p50 of each request
    (``GET PREFIX/cK/I``)."""
    lat: list[float] = []

    def one(k: int) -> None:
        c = http.client.HTTPConnection(host, port, timeout=30)
        for i in range(per):
            t0 = time.perf_counter()
            c.request("GET", f"{prefix}/c{k}/{i}")
            r = c.getresponse()
            r.read()
            lat.append(time.perf_counter() - t0)
            if r.status != 200:
                raise SystemExit(f"status {r.status}")
        c.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {"requests_per_s": len(lat) / seconds, "p50_ms": statistics.median(lat) * 1e3,
            "requests": len(lat)}


def _drive(address: tuple[str, int], clients: int, per: int, prefix: str = "/api",
           ) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "nanonet.bench.http_bench", "--client",
                          address[0], str(address[1]), str(clients), str(per), prefix],
                         capture_output=True, text=True, timeout=600, check=True)
    row: dict[str, float] = json.loads(out.stdout)
    return row


def nanonet_row(clients: int, per: int, wat: Path = WAT, port: str = "api") -> dict[str, float]:
    """The clients against ``wat`` (serving ``port``, the name in its binary)
    behind every route of an ingress, in this process."""
    with Mesh() as mesh:
        mesh.port(port, max_payload=4096, clients=0, host_clients=clients)
        mesh.service("hello", wat.read_text(), serves=[port])
        mesh.start()
        with HttpIngress(mesh, [HttpRoute("/*", port)]) as ingress:
            assert ingress.address is not None
            return _drive(ingress.address, clients, per)


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else head and body wait for a delayed ACK (~40 ms)
    count = 0

    def do_GET(self) -> None:
        _Hello.count += 1
        body = f"hello from python: {self.path} #{_Hello.count}\n".encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def peer_row(clients: int, per: int) -> dict[str, float]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        return _drive((str(host), int(port)), clients, per)
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--client", nargs=5, metavar=("HOST", "PORT", "CLIENTS", "PER", "PREFIX"))
    args = p.parse_args(argv)
    if args.client:
        host, port, clients, per, prefix = args.client
        print(json.dumps(_clients(host, int(port), int(clients), int(per), prefix)))
        return
    per = args.requests // args.clients
    from .asgi_peer import asgi_row, missing
    rows = {"http_nanonet_wat": nanonet_row(args.clients, per),
            "http_python_stdlib": peer_row(args.clients, per)}
    if not missing():
        rows["http_uvicorn_starlette"] = asgi_row(args.clients, per)
    for name, row in rows.items():
        print(f"{name:<20} {row['requests_per_s']:>9,.0f} requests/s  p50 "
              f"{row['p50_ms']:.3f} ms  ({int(row['requests'])} requests, {args.clients} "
              "keep-alive clients)")
    ratio = rows["http_nanonet_wat"]["requests_per_s"] / rows["http_python_stdlib"][
        "requests_per_s"]
    print(f"nanonet / stdlib requests/s: {ratio:.2f}")


if __name__ == "__main__":
    main()
