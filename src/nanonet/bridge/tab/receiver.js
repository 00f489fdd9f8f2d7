// The tab's receiving bridge for one tunnel a service of this tab reads
// (docs/bridge.md), the browser's ReceivePump. The tab dials, as for the
// tunnels it writes: a link to /nanonet-feed/TUNNEL (link.js: WebTransport
// where the page may use it, else WebSocket) whose first message is
// {"token": ...}; the host checks it and then speaks as the sender. Here:
// a HELLO is checked (the token, compared in constant time, the version, the
// tunnel and its max_payload) and answered with a WELCOME naming the ring's
// head, the next sequence expected; DATA batches are written into the ring
// in order, duplicates dropped by sequence, a gap answered once with a
// REWIND; every batch is acknowledged cumulatively with credit = the ring's
// free slots, and the credit is renewed when the guest frees a quarter of the
// ring; CLOSE closes the ring and BROKEN breaks it for the guest once every
// message before the end is in it, and the ACK then says ENDED. A lost
// link is redialled after 250 ms; the new session's WELCOME names the
// ring's head, so the host resends what did not arrive. `transport` and
// `fallback` say which link it is, and why not WebTransport.

import * as F from "./frames.js";
import { dial, ENDED } from "./link.js";

const RECONNECT_AFTER = 250, HEARTBEAT = 1000, DEAD_AFTER = 5000;
const AUTH = 1, VERSION = 2, TUNNEL = 3, RESUME = 4; // REFUSE codes
const IDLE_WAIT = 20; // ms a full ring is waited on before the timers are looked at
const enc = new TextEncoder();
// a zero-delay turn (setTimeout(0) is clamped to 4 ms once nested)
const turns = new MessageChannel(), queued = [];
turns.port1.onmessage = () => queued.shift()();
function soon(fn) { queued.push(fn); turns.port2.postMessage(0); }

// equal byte strings, in time that depends on the lengths only
function same(a, b) {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export class TunnelReceiver {
  constructor(url, ring, token, onState, wt = null) {
    Object.assign(this, { url, ring, token: enc.encode(token), tokenText: token, onState, wt });
    this.transport = this.fallback = "";
    this.state = "connecting";
    this.endSeq = null; // where the stream ends, once CLOSE or BROKEN said so
    this.brokenCode = 0;
    this.ended = false; // the ring was closed (or broken) for the guest
    this.frames = 0; // DATA frames received
    this.duplicates = 0; // messages that came again and were dropped
    this.reconnects = 0;
    this.ticking = false;
  }

  start() {
    const greeting = JSON.stringify({ token: this.tokenText });
    const ws = this.ws = dial(this.url, this.ring.end.tunnel, this.wt, greeting);
    ws.onopen = () => {
      Object.assign(this, { transport: ws.kind, fallback: ws.why });
      this.reset();
      this.set("hello");
      if (!this.ticking) { this.ticking = true; this.tick(); }
    };
    ws.onmessage = (bytes) => { if (ws === this.ws) this.receive(bytes); };
    ws.onclose = (why) => this.lost(ws, why);
    return this;
  }

  // a new socket, a new session: no hello passed on it yet
  reset() {
    this.open = false;
    this.rewoundAt = -1;
    this.credit = this.granted = 0;
    this.lastHeard = this.lastSend = performance.now();
  }

  lost(ws, why) {
    if (ws !== this.ws || this.state === "refused") return;
    if (why === ENDED && this.ended) { this.set("ended"); return; }
    if (why === "refused") { this.set("refused", "the host refused this tab's token"); return; }
    // else (lost, "busy": the host has not seen the old link die yet): dial again
    this.reconnects += 1;
    this.set("reconnecting", why);
    setTimeout(() => this.start(), RECONNECT_AFTER);
  }

  set(state, why = "") { this.state = state; this.onState(state, why); }

  send(frame) { this.ws.send(frame); this.lastSend = performance.now(); }

  // One WebSocket message: whole frames. A fault in them means the byte
  // stream lost its framing: close this socket only and dial again.
  receive(bytes) {
    this.lastHeard = performance.now();
    this.pendingAck = null;
    try {
      for (const f of F.decodeAll(bytes)) this.handle(f);
    } catch (err) {
      this.ws.close(); // the stream lost its framing: dial again
      return;
    }
    if (this.pendingAck) this.send(this.pendingAck);
  }

  handle(f) {
    const K = F.KIND;
    if (f.kind === K.HELLO) this.hello(F.parseHello(f));
    else if (f.kind === K.DATA) this.data(f);
    else if (f.kind === K.CLOSE) this.close(Number(f.fields.end_seq), 0);
    else if (f.kind === K.BROKEN) { const b = F.parseBroken(f); this.close(Number(b.end_seq), b.reason); }
    else if (f.kind === K.PING) { // a sender pings only inside a session: none here asks for a hello
      this.send(F.pong(f.fields.nonce));
      if (this.open) this.ack(); else this.send(F.refuse(RESUME, "no session: say hello"));
    }
    else if (f.kind !== K.PONG) throw new Error(`a ${F.KIND_NAME[f.kind]} frame, which a receiver never gets`);
  }

  whyNot(h) {
    if (!same(enc.encode(h.token), this.token)) return [AUTH, "wrong token"];
    if (!(h.min_version <= F.VERSION && F.VERSION <= h.max_version))
      return [VERSION, `versions ${h.min_version}..${h.max_version} offered, ${F.VERSION} spoken here`];
    const e = this.ring.end;
    if (h.name !== e.tunnel || h.max_payload !== e.max_payload)
      return [TUNNEL, `tunnel '${h.name}' of max_payload ${h.max_payload}; here '${e.tunnel}' of ${e.max_payload}`];
    return null;
  }

  hello(h) {
    const no = this.whyNot(h);
    if (no) { this.send(F.refuse(...no)); return; }
    this.open = true;
    const head = this.ring.head();
    this.credit = this.ring.free();
    this.granted = Math.max(this.granted, head + this.credit);
    this.send(F.welcome(this.granted - head, h.nonce, head));
    this.set("open");
  }

  data(f) {
    if (!this.open) { this.send(F.refuse(RESUME, "no session: say hello")); return; }
    const b = F.parseData(f, this.ring.end.max_payload);
    const first = Number(b.first_seq), end = first + b.messages.length, expected = this.ring.head();
    if (end > this.granted) throw new Error(`messages up to ${end}, past the ${this.granted} granted`);
    this.frames += 1;
    if (first > expected) this.askAgain(expected);
    else if (end <= expected) { this.duplicates += end - first; this.ack(); }
    else {
      this.duplicates += expected - first;
      this.ring.publish(b.messages.slice(expected - first));
      this.maybeEnded();
      this.ack();
    }
  }

  // A batch went missing: ask for everything from the head, once per head.
  askAgain(expected) {
    if (this.rewoundAt !== expected) { this.rewoundAt = expected; this.ack(F.ACK_REWIND); }
  }

  close(endSeq, brokenCode) {
    if (!this.open) { this.send(F.refuse(RESUME, "no session: say hello")); return; }
    const head = this.ring.head();
    if (endSeq < head || (this.endSeq !== null && endSeq !== this.endSeq))
      throw new Error(`the stream ends at ${endSeq}, but ${head} arrived`);
    this.endSeq = endSeq;
    this.brokenCode = brokenCode;
    if (head < endSeq) this.askAgain(head);
    this.maybeEnded();
    if (this.ended) this.ack();
  }

  maybeEnded() {
    if (this.endSeq !== null && !this.ended && this.ring.head() === this.endSeq) {
      this.ended = true;
      this.ring.end_(this.brokenCode); // the guest reads the rest, then CLOSED or BROKEN
    }
  }

  // a cumulative acknowledgement (coalesced: one per WebSocket message)
  ack(flags = 0) {
    const head = this.ring.head();
    this.credit = this.ring.free();
    this.granted = Math.max(this.granted, head + this.credit);
    if (this.ended) flags |= F.ACK_ENDED;
    this.pendingAck = F.ack(head, this.credit, flags);
  }

  // the guest freed a good part of the ring: tell the sender (a window update)
  window() {
    const free = this.ring.free(), n = this.ring.end.slot_count;
    if (!this.ended && free > this.credit && (this.credit === 0 || free - this.credit >= n / 4)) {
      this.ack();
      this.send(this.pendingAck);
      return true;
    }
    return false;
  }

  tick() {
    if (this.state === "refused" || this.state === "ended") return;
    const now = performance.now();
    let busy = false;
    if (this.open && this.ws.open) {
      busy = this.window();
      if (now - this.lastSend >= HEARTBEAT) this.send(F.ping(0n));
      if (now - this.lastHeard >= DEAD_AFTER) this.ws.close();
    }
    if (busy) soon(() => this.tick());
    else if (this.open && !this.ended && this.credit < this.ring.end.slot_count / 4) // the guest's commit wakes us
      this.ring.waitTail(this.ring.tail(), IDLE_WAIT).then(() => soon(() => this.tick()));
    else setTimeout(() => this.tick(), 1);
  }
}
