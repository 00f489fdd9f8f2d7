"""The tab's receiving bridge (bridge/tab/receiver.js) against the Python core.

Shared scripts: the same wire messages go to the JavaScript ``TunnelReceiver``
(in real Chromium, over a ring in a shared ``WebAssembly.Memory``) and to
Python's ``ReceiverSession`` driven as ``ReceivePump`` drives it (the batch
written, then acknowledged with the ring's head and free slots; a window
update once the reader freed a quarter of the ring). After every step both
must answer with the same frames: a REFUSE for a wrong token or for data
before a hello, a WELCOME naming the head, cumulative ACKs with the same
credit, duplicates dropped, one REWIND per gap, a PONG, ENDED once every
message before CLOSE or BROKEN is in the ring; a batch past the credit is a
protocol error on both sides. The rings end up holding the same messages,
closed, or broken with the same code.
"""

from __future__ import annotations

import re
import shutil
from array import array
from itertools import pairwise
from pathlib import Path

import pytest

from nanonet.bridge import frames as F
from nanonet.bridge.events import Ended, Messages
from nanonet.bridge.session import ReceiverSession
from nanonet.errors import BridgeProtocolError

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TAB = Path(F.__file__).parent / "tab"
SLOTS, TOKEN = 8, b"tok.en"
Step = tuple[str, object]  # ("wire", frames) or ("free", messages the reader takes)


def _data(first: int, n: int) -> bytes:
    msgs = [b"m%d" % s for s in range(first, first + n)]
    return F.data(first, array("I", map(len, msgs)), b"".join(msgs))


def _hello(nonce: int, token: bytes = TOKEN) -> bytes:
    return F.hello(1, 1, 64, nonce, b"in", token)


SCRIPTS: dict[str, list[Step]] = {
    "close": [("wire", _hello(1, b"wrong")), ("wire", _data(0, 1)), ("wire", _hello(5)),
              ("wire", _data(0, 3)), ("wire", _data(0, 3)), ("wire", _data(5, 1)),
              ("wire", _data(6, 1)), ("wire", _data(3, 2) + _data(5, 2)), ("free", 5),
              ("wire", F.ping(9)), ("wire", _hello(6)), ("wire", F.close(8)),
              ("wire", _data(7, 1)), ("wire", _data(7, 1))],
    "broken": [("wire", _hello(2)), ("wire", _data(0, 2)),
               ("wire", F.broken(2, 1, "producer", "unreachable executed"))],
    "past-credit": [("wire", _hello(3)), ("wire", _data(0, SLOTS + 1))],
    "not-a-frame": [("wire", _hello(4)), ("wire", b"XX" + F.ping(1)[2:])],
}


class PyReceiver:
    """``ReceiverSession`` with a modelled ring, driven as ``ReceivePump`` does."""

    def __init__(self) -> None:
        self.s = ReceiverSession("in", 64, TOKEN, 0, SLOTS, 0.0)
        self.head = self.tail = self.broken = 0
        self.closed = False
        self.ring: list[bytes] = []

    def free(self) -> int:
        return SLOTS - (self.head - self.tail)

    def wire(self, data: bytes) -> list[F.Wire] | str:
        try:
            self.s.receive_data(data, 0.0)
        except BridgeProtocolError:
            return "error"
        while (e := self.s.next_event()) is not None:
            if isinstance(e, Messages):
                b = e.batch
                bounds = b.bounds[e.skip:]
                self.ring += [bytes(b.payload[a:z]) for a, z in pairwise(bounds)]
                self.head += e.count
                self.s.acknowledge(self.head, self.free())
            elif isinstance(e, Ended):
                self.closed, self.broken = True, e.broken[0] if e.broken else 0
                self.s.acknowledge(self.head, self.free())
        return self.s.data_to_send(0.0)

    def take(self, n: int) -> list[F.Wire]:
        """The reader takes ``n``; the window update ``ReceivePump._window`` sends."""
        self.tail += n
        s, free = self.s, self.free()
        if free > s.credit and (s.credit == 0 or free - s.credit >= SLOTS // 4):
            s.acknowledge(self.head, free)
        return s.data_to_send(0.0)


def _view(frames: list[F.Wire] | str) -> list[list[object]] | str:
    """Frames as (kind, fields); a REFUSE's reason left out (its code kept)."""
    if isinstance(frames, str):
        return frames
    out: list[list[object]] = []
    for f in F.FrameDecoder().feed(b"".join(frames)):
        fields = list(f.fields[:1]) if f.kind is F.Kind.REFUSE else list(f.fields)
        out.append([int(f.kind), *[str(x) for x in fields]])
    return out


def _python(script: list[Step]) -> dict[str, object]:
    r = PyReceiver()
    steps = [_view(r.wire(arg) if kind == "wire" else r.take(arg))  # type: ignore[arg-type]
             for kind, arg in script]
    return {"steps": steps, "ring": [m.hex() for m in r.ring], "closed": r.closed,
            "broken": r.broken}


JS_RUN = """(scripts) => {
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((h) => parseInt(h, 16)));
  const end = { tunnel: "in", direction: "read", slot_count: %(slots)d, slot_size: 72,
                max_payload: 64, pages: 1, version: 1, header_size: 1024, magic: 0x4e4e5452 };
  const out = {};
  for (const [name, script] of Object.entries(scripts)) {
    const ring = new Ring(end).init(), sent = [];
    const r = new TunnelReceiver("ws://unused", ring, "%(token)s", () => {});
    r.ws = { open: true, send: (f) => sent.push(f), close: () => sent.push("error") };
    r.reset();
    const view = () => {
      if (sent.includes("error")) return "error";
      const frames = sent.flatMap((f) => F.decodeAll(f));
      const fields = (f) => Object.values(f.fields).slice(0, f.kind === 3 ? 1 : undefined);
      return frames.map((f) => [f.kind, ...fields(f).map(String)]);
    };
    const steps = [];
    for (const [kind, arg] of script) {
      sent.length = 0;
      if (kind === "wire") r.receive(unhex(arg));
      else { ring.commit(ring.tail() + arg, 0); r.window(); }
      steps.push(view());
    }
    out[name] = { steps, ring: ring.slots(0, ring.head()).map(hex), closed: ring.closed(),
                  broken: Atomics.load(ring.w, 832 / 4) };
  }
  return out;
}"""


def _classic(name: str, exports: list[str]) -> str:
    """A tab module as a classic script: its imports from ``window`` (named
    ones from ``window.M``, every export so far), its exports left on
    ``window`` and in ``window.M``."""
    src = (TAB / name).read_text()
    src = re.sub(r'^import \* as F from "./frames.js";', "const F = window.F;", src, flags=re.M)
    src = re.sub(r'^import \{ ([^}]*) \} from "\./\w+\.js";', r"const { \1 } = window.M;", src,
                 flags=re.M)
    src = re.sub(r"^export ", "", src, flags=re.M)
    keep = "; ".join(f"window.{n} = {n}" for n in exports)
    return (f"(() => {{ {src}\n{keep}; window.M = Object.assign(window.M || {{}}, "
            f"{{ {', '.join(exports)} }}); }})();")


def test_the_javascript_receiver_answers_as_the_python_core() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    frames_js = (TAB / "frames.js").read_text()
    names = sorted(set(re.findall(r"^export (?:const|function) (\w+)", frames_js, re.M)))
    want = {name: _python(script) for name, script in SCRIPTS.items()}
    wire = {name: [[k, a.hex() if isinstance(a, bytes) else a] for k, a in script]
            for name, script in SCRIPTS.items()}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(content=_classic("frames.js", names))
            page.add_script_tag(content="window.F = { ...window.M };")
            page.add_script_tag(content=_classic("ring.js", ["Ring"]))
            page.add_script_tag(content=_classic("link.js", ["dial", "ENDED"]))
            page.add_script_tag(content=_classic("receiver.js", ["TunnelReceiver"]))
            got = page.evaluate(JS_RUN % {"slots": SLOTS, "token": TOKEN.decode()}, wire)
        finally:
            browser.close()
    for name in SCRIPTS:
        assert got[name] == want[name], name
    assert want["close"]["ring"] == [(b"m%d" % s).hex() for s in range(8)]
    assert want["close"]["closed"] and want["broken"]["broken"] == 1
    ends = [want[n]["steps"] for n in ("past-credit", "not-a-frame")]
    assert all(isinstance(s, list) and s[-1] == "error" for s in ends)
