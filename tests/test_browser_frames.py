"""The tab's JavaScript bridge frames (bridge/tab/frames.js) against the Python core.

Shared test vectors: Python's encoders (bridge/frames.py) make frames and
its decoder reads them back; the JavaScript module, run in real Chromium,
must decode each into the same kind, fields and trailing bytes (BROKEN too),
encode the same fields into the same bytes, build the same HELLO, DATA, PING
and CLOSE (the sender's) and WELCOME, ACK and REFUSE (the receiver's) from
the same arguments, and refuse every frame the Python decoder refuses.
"""

from __future__ import annotations

import json
import re
import shutil
from array import array
from pathlib import Path

import pytest

from nanonet.bridge import frames as F
from nanonet.errors import BridgeProtocolError

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
FRAMES_JS = Path(F.__file__).parent / "tab" / "frames.js"
BIG = (1 << 64) - 3  # a u64 past 2^53: JavaScript must keep it exact (BigInt)


def _good() -> list[tuple[str, bytes, list[object] | None]]:
    """(label, frame bytes, [JS builder, args] or None) made by the Python encoders."""
    return [
        ("hello", F.hello(1, 1, 64, BIG, b"out", b"tok.en"),
         ["hello", 64, str(BIG), "out", "tok.en"]),
        ("hello-empty-token", F.hello(1, 3, 1 << 20, 7, b"a" * 32, b""), None),
        ("welcome", F.welcome(1, 4096, BIG, 1 << 40), ["welcome", 4096, str(BIG), str(1 << 40)]),
        ("refuse", F.refuse(F.Refusal.AUTH, "the token does not grant tunnel 'x'"),
         ["refuse", 1, "the token does not grant tunnel 'x'"]),
        ("data", F.data(BIG - 5, array("I", [3, 0, 5]), b"abc" + b"hello"),
         ["data", str(BIG - 5), ["616263", "", "68656c6c6f"]]),
        ("data-one", F.data(0, array("I", [64]), bytes(range(64))),
         ["data", "0", [bytes(range(64)).hex()]]),
        ("ack", F.ack(123456789, 17, F.ACK_REWIND | F.ACK_ENDED), ["ack", "123456789", 17, 3]),
        ("broken", F.broken(BIG, 2, "producer", "trapped: unreachable"), None),
        ("ping", F.ping(BIG), ["ping", str(BIG)]),
        ("pong", F.pong(9), None),
        ("close", F.close(1 << 53), ["close", str(1 << 53)]),
        ("two-frames", F.ping(1) + F.ack(2, 3), None),
    ]


def _bad() -> list[tuple[str, bytes]]:
    ping = F.ping(1)
    return [
        ("magic", b"XX" + ping[2:]),
        ("flags", ping[:3] + b"\x01" + ping[4:]),
        ("kind", ping[:2] + b"\x0a" + ping[3:]),
        ("short-body", F.HEADER.pack(F.MAGIC, F.Kind.PING, 0, 4) + b"\0" * 4),
        ("trailing", F.HEADER.pack(F.MAGIC, F.Kind.PING, 0, 12) + b"\0" * 12),
        ("too-long", F.HEADER.pack(F.MAGIC, F.Kind.DATA, 0, F.MAX_FRAME + 1)),
    ]


def _bad_bodies() -> list[tuple[str, str, bytes]]:
    """Frames whose header is fine but whose body the parsers refuse."""
    hello = F._frame(F.Kind.HELLO, F.BODIES[F.Kind.HELLO].pack(1, 1, 64, 1, 3, 9), b"out")
    data = F.data(0, array("I", [3, 4]), b"abcdef")  # 7 bytes promised, 6 there
    big = F.data(0, array("I", [65]), bytes(65))  # over a max_payload of 64
    refuse = F._frame(F.Kind.REFUSE, F.BODIES[F.Kind.REFUSE].pack(1, 50), b"short")
    broken = F._frame(F.Kind.BROKEN, F.BODIES[F.Kind.BROKEN].pack(1, 1, 5, 0), b"abc")
    no_reason = F._frame(F.Kind.BROKEN, F.BODIES[F.Kind.BROKEN].pack(1, 0, 1, 0), b"p")
    return [("hello-lengths", "hello", hello), ("data-sum", "data", data),
            ("data-too-big", "data", big), ("refuse-length", "refuse", refuse),
            ("broken-lengths", "broken", broken), ("broken-no-reason", "broken", no_reason)]


def _parse(kind: str, frame: F.Frame) -> object:
    if kind == "hello":
        return F.parse_hello(frame)
    if kind == "refuse":
        return F.parse_refuse(frame)
    if kind == "broken":
        return F.parse_broken(frame)
    return F.parse_data(frame, 64)


def _python_view(frame: F.Frame) -> dict[str, object]:
    names = [n for n, _ in F.LAYOUTS[frame.kind]]
    return {"kind": int(frame.kind), "fields": {n: str(v) for n, v in
                                                zip(names, frame.fields, strict=True)},
            "rest": bytes(frame.rest).hex()}


def vectors() -> dict[str, object]:
    good = []
    for label, raw, build in _good():
        frames = F.FrameDecoder().feed(raw)  # the Python decoder reads it back
        good.append({"label": label, "hex": raw.hex(), "build": build,
                     "frames": [_python_view(f) for f in frames]})
    bad = []
    for label, raw in _bad():
        with pytest.raises(BridgeProtocolError):
            F.FrameDecoder().feed(raw)
        bad.append({"label": label, "hex": raw.hex()})
    bodies = []
    for label, kind, raw in _bad_bodies():
        with pytest.raises(BridgeProtocolError):
            _parse(kind, F.FrameDecoder().feed(raw)[0])
        bodies.append({"label": label, "parser": kind, "hex": raw.hex()})
    return {"good": good, "bad": bad, "bad_bodies": bodies, "big": str(BIG)}


JS_CHECK = """(v) => {
  const F = window.F, out = [];
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((h) => parseInt(h, 16)));
  const view = (f) => ({ kind: f.kind,
    fields: Object.fromEntries(Object.entries(f.fields).map(([k, x]) => [k, String(x)])),
    rest: hex(f.rest) });
  for (const g of v.good) {
    const frames = F.decodeAll(unhex(g.hex));
    out.push([g.label, "decode", JSON.stringify(frames.map(view)), JSON.stringify(g.frames)]);
    const again = frames.map((f) => hex(F.encode(f.kind, f.fields, f.rest))).join("");
    out.push([g.label, "encode", again, g.hex]);
    if (g.build) {
      const [fn, ...a] = g.build;
      const made = fn === "hello" ? F.hello(a[0], BigInt(a[1]), a[2], a[3])
        : fn === "data" ? F.data(BigInt(a[0]), a[1].map(unhex))
        : fn === "welcome" ? F.welcome(a[0], BigInt(a[1]), BigInt(a[2]))
        : fn === "ack" ? F.ack(BigInt(a[0]), a[1], a[2])
        : fn === "refuse" ? F.refuse(a[0], a[1])
        : F[fn](BigInt(a[0]));
      out.push([g.label, "build", hex(made), g.hex]);
    }
    if (g.label === "data") {
      const d = F.parseData(frames[0], 64);
      out.push([g.label, "parse", d.messages.map(hex).join("|"), "616263||68656c6c6f"]);
    }
    if (g.label === "broken") {
      const b = F.parseBroken(frames[0]);
      out.push([g.label, "parse", `${b.end_seq}/${b.reason}/${b.service}/${b.cause}`,
                `${v.big}/2/producer/trapped: unreachable`]);
    }
    if (g.label === "hello") {
      const h = F.parseHello(frames[0]);
      out.push([g.label, "parse", `${h.name}/${h.token}/${h.nonce}`,
                `out/tok.en/${g.build[2]}`]);
    }
  }
  const refused = (fn) => { try { fn(); return "accepted"; } catch (e) { return "refused"; } };
  for (const b of v.bad)
    out.push([b.label, "refuse", refused(() => F.decodeAll(unhex(b.hex))), "refused"]);
  const parsers = { hello: F.parseHello, refuse: F.parseRefuse, broken: F.parseBroken,
                    data: (f) => F.parseData(f, 64) };
  for (const b of v.bad_bodies)
    out.push([b.label, "refuse",
              refused(() => parsers[b.parser](F.decodeAll(unhex(b.hex))[0])), "refused"]);
  return out;
}"""


def _module_as_script() -> str:
    """frames.js as a classic script that leaves its exports on ``window.F``."""
    src = FRAMES_JS.read_text()
    names = re.findall(r"^export (?:const|function) (\w+)", src, re.M)
    names += [n.strip() for n in re.findall(r"^export const (\w+) =", src, re.M)]
    body = re.sub(r"^export ", "", src, flags=re.M)
    return f"(() => {{ {body}\nwindow.F = {{ {', '.join(sorted(set(names)))} }}; }})();"


def test_javascript_frames_match_the_python_core(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    v = vectors()
    (tmp_path / "vectors.json").write_text(json.dumps(v, indent=1))  # what both sides read
    shared = json.loads((tmp_path / "vectors.json").read_text())
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(content=_module_as_script())
            results = page.evaluate(JS_CHECK, shared)
        finally:
            browser.close()
    assert len(results) == 12 * 2 + 8 + 3 + 6 + 6  # decode+encode, builds, parses, refusals
    wrong = [r for r in results if r[2] != r[3]]
    assert not wrong, wrong
