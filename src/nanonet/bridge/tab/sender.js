// The tab's sending bridge for one tunnel (docs/bridge.md), the browser's
// SendPump: HELLO with the token until WELCOME, DATA batches from the ring
// up to the credit, cumulative ACKs that commit the ring (the ring is the
// retransmit buffer: its tail moves only with what the host acknowledged),
// REWIND and a resend timer that go back to the last acknowledged sequence,
// PING when idle, CLOSE once the ring is closed and all of it acknowledged.
// A new link after a lost one says hello again and resumes from the
// sequence the host's WELCOME names; a tab whose guest started again from
// the beginning (it rejoined within its lease) lets what lies below that
// sequence go unsent as the guest writes it again. The link is WebTransport or WebSocket
// (link.js): `transport` and `fallback` say which, and why not the first.

import * as F from "./frames.js";
import { dial } from "./link.js";

const FINAL = ["ended", "refused", "failed"];
const AUTH = 1, VERSION = 2; // REFUSE codes that no retry will change
const RECONNECT_AFTER = 250;
const IDLE_WAIT = 20; // ms an empty ring is waited on before the timers are looked at
const HELLO_EVERY = 250, RESEND_AFTER = 1000, HEARTBEAT = 1000;
// a zero-delay turn (setTimeout(0) is clamped to 4 ms once nested)
const turns = new MessageChannel(), queued = [];
turns.port1.onmessage = () => queued.shift()();
function soon(fn) { queued.push(fn); turns.port2.postMessage(0); }

const HIGH_WATER = 1 << 20;
// a DATA body is 16 bytes, 4 a length, then the payloads: at most F.MAX_FRAME
const fits = (n, bytes) => 16 + 4 * n + bytes <= F.MAX_FRAME;

export class TunnelSender {
  constructor(url, ring, token, onState, wt = null) {
    Object.assign(this, { url, ring, token, onState, wt });
    this.transport = this.fallback = "";
    this.state = "connecting";
    this.acked = this.sent = this.limit = 0;
    this.batches = []; // [endSeq, bytes] of batches sent and not yet acknowledged
    this.lastAck = this.lastSend = this.lastHello = 0;
    this.frames = 0; // DATA frames sent (resends included)
    this.reconnects = 0;
    this.ticking = false;
  }

  start() {
    const ws = this.ws = dial(this.url, this.ring.end.tunnel, this.wt);
    this.nonce = BigInt(Math.floor(Math.random() * 2 ** 52));
    ws.onopen = () => {
      Object.assign(this, { transport: ws.kind, fallback: ws.why });
      this.set("hello");
      this.lastHello = 0;
      if (!this.ticking) { this.ticking = true; this.tick(); }
    };
    ws.onmessage = (bytes) => { if (ws === this.ws) this.receive(bytes); };
    ws.onclose = (why) => this.lost(ws, why);
    return this;
  }

  // A lost link: say hello again on a new WebSocket; the host's WELCOME
  // names the sequence to go on from (everything unacknowledged is still
  // in the ring).
  lost(ws, why) {
    if (ws !== this.ws || FINAL.includes(this.state)) return;
    this.reconnects += 1;
    this.set("reconnecting", why);
    setTimeout(() => this.start(), RECONNECT_AFTER);
  }

  set(state, why = "") { this.state = state; this.onState(state, why); }

  send(frame) { this.ws.send(frame); this.lastSend = performance.now(); }

  receive(bytes) {
    let frames;
    try { frames = F.decodeAll(bytes); } catch (err) { this.set("failed", String(err)); this.ws.close(); return; }
    for (const f of frames) this.handle(f);
  }

  handle(f) {
    if (f.kind === F.KIND.WELCOME && f.fields.nonce === this.nonce) {
      const next = Number(f.fields.next_seq);
      if (next > this.acked) this.commit(next);
      this.sent = next;
      this.limit = next + f.fields.credit;
      this.set("open");
    } else if (f.kind === F.KIND.REFUSE) {
      const { code, reason } = F.parseRefuse(f);
      if (code === AUTH || code === VERSION) this.set("refused", reason); // final
      this.ws.close(); // else (tunnel busy, no session): try again

    } else if (f.kind === F.KIND.ACK) {
      const next = Number(f.fields.next_seq);
      if (next > this.acked) this.commit(next);
      this.limit = Math.max(this.limit, next + f.fields.credit);
      if (f.fields.flags & F.ACK_REWIND) this.sent = this.acked;
      if (f.fields.flags & F.ACK_ENDED) { this.set("ended"); this.ws.close(); }
    } else if (f.kind === F.KIND.PING) {
      this.send(F.pong(f.fields.nonce));
    }
  }

  commit(next) {
    let bytes = 0;
    while (this.batches.length && this.batches[0][0] <= next) bytes += this.batches.shift()[1];
    this.acked = next;
    this.lastAck = performance.now();
    if (next <= this.ring.head()) this.ring.commit(next, bytes);
    else this.release();
  }

  // The ring's tail follows what the host has, but never past the guest's
  // head: after a WELCOME beyond it (the guest started again from the
  // beginning), each message below the host's sequence is let go unsent as
  // the guest writes it again.
  release() {
    const tail = this.ring.tail(), to = Math.min(this.acked, this.ring.head());
    if (to <= tail) return;
    let bytes = 0;
    for (const m of this.ring.slots(tail, to)) bytes += m.length;
    this.ring.commit(to, bytes);
  }

  tick() {
    if (FINAL.includes(this.state)) return;
    const now = performance.now();
    const busy = this.state === "open" ? this.pump(now) : this.sayHello(now);
    if (busy) soon(() => this.tick());
    else if (this.idle()) this.ring.waitHead(this.ring.head(), IDLE_WAIT).then(() => soon(() => this.tick()));
    else setTimeout(() => this.tick(), 1);
  }

  // all sent (or, after a restart, still below what the host has), credit
  // left, the ring open: only the guest's next message (its publish
  // notifies) or a timer can give work
  idle() {
    return this.state === "open" && this.sent >= this.ring.head() && this.sent < this.limit &&
      !this.ring.closed();
  }

  sayHello(now) {
    if (this.ws.open && now - this.lastHello >= HELLO_EVERY) {
      this.lastHello = now;
      this.send(F.hello(this.ring.end.max_payload, this.nonce, this.ring.end.tunnel, this.token));
    }
    return false;
  }

  pump(now) {
    if (this.ring.tail() < this.acked) this.release();
    if (this.sent > this.acked && now - this.lastAck > RESEND_AFTER) { this.sent = this.acked; this.lastAck = now; }
    const closed = this.ring.closed(); // SYNC POINT with the adapter's $close: closed, then head
    const head = this.ring.head();
    const to = Math.min(head, this.limit, this.sent + F.MAX_BATCH);
    if (to > this.sent && this.ws.bufferedAmount < HIGH_WATER) {
      this.sendBatch(to);
      return true;
    }
    if (closed && this.acked === head && now - this.lastSend >= HELLO_EVERY) this.send(F.close(head));
    else if (now - this.lastSend >= HEARTBEAT) this.send(F.ping(0n));
    return false;
  }

  sendBatch(to) {
    let messages = this.ring.slots(this.sent, to), bytes = 0, n = 0;
    for (; n < messages.length && fits(n + 1, bytes + messages[n].length); n++) bytes += messages[n].length;
    messages = messages.slice(0, Math.max(n, 1));
    const frame = F.data(this.sent, messages); // copies the payloads out of the ring
    this.sent += messages.length;
    const last = this.batches[this.batches.length - 1];
    if (!last || last[0] < this.sent) this.batches.push([this.sent, bytes]);
    this.frames += 1;
    this.send(frame);
  }
}
