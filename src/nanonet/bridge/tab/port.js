// A port a service of this tab serves: its memory, laid out as
// src/nanonet/ring/portlayout.py says (a shared WebAssembly.Memory the
// guest's adapter imports as "p0" "port", ...), and the link that brings the
// host's calls into it. Each call from the host is posted into a free
// mailbox as a client posts one (request, then the word (id, POSTED), then
// wake, then a notify if the server parked); the page waits on the mailbox
// word with Atomics.waitAsync, announced in client_waiting so the adapter's
// reply notifies, and sends the reply back with the call's wire id. A
// CANCEL (the host's caller gave up) abandons the mailbox as a client at its
// deadline does: the guest's late reply finds the word changed and is
// dropped. More calls than mailboxes wait here, in order. Every length read
// from the memory is checked against max_payload before it is used.
//
// The link: a WebSocket at /nanonet-port/PORT whose first message is
// {"token": ...}; then binary messages with an 8-byte head
// [kind u8][status u8][0 u16][wire id u32] (docs/browser.md): CALL 1 and
// CANCEL 3 from the host, REPLY 2 from the tab (status 0 and the reply, or
// 1 and why not). A lost link is redialled after 250 ms; one refused for
// its token is final.

const OFF = { magic: 0, version: 4, mailboxes: 8, max_payload: 12, box_size: 16, header_size: 20,
              closed: 24, quarantine: 28, name_len: 32, name: 36, wake: 64, server_waiting: 68 };
const BOX = { word: 0, req_len: 8, rep_len: 12, client_waiting: 16, calls: 24, timeouts: 32,
              request: 64 };
const IDLE = 0n, POSTED = 1n, TAKEN = 2n, REPLIED = 3n, ABANDONED = 4n;
const CALL = 1, REPLY = 2, CANCEL = 3;
const SLICE_MS = 1000; // a wait's slice: a cancel or a closed port is seen between
const REDIAL_MS = 250;

export class TabPort {
  constructor(plan) {
    this.plan = plan;
    this.memory = new WebAssembly.Memory({ initial: plan.pages, maximum: plan.pages, shared: true });
    const buf = this.memory.buffer;
    this.q = new BigUint64Array(buf);
    this.w = new Int32Array(buf);
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    this.free = Array.from({ length: plan.mailboxes }, (_, i) => i);
    this.ids = new Array(plan.mailboxes).fill(0);
    this.waiting = []; // calls with no mailbox yet: [wire, request]
    this.inFlight = new Map(); // wire -> { box, id, cancelled }
    this.calls = this.replied = this.cancelled = 0;
  }

  init() {
    const p = this.plan, dv = this.dv, name = new TextEncoder().encode(p.port);
    [p.magic, p.version, p.mailboxes, p.max_payload, p.box_size, p.header_size, 0, 0, name.length]
      .forEach((v, i) => dv.setUint32(4 * i, v, true));
    this.u8.set(name, OFF.name);
    return this;
  }

  box(i) { return this.plan.header_size + i * this.plan.box_size; }
  word(at) { return Atomics.load(this.q, at / 8); }

  // the host's call `wire`: post it now, or once a mailbox is free
  call(wire, request, answer) {
    this.calls += 1;
    if (request.length > this.plan.max_payload) { answer(wire, 1, "the request is over max_payload"); return; }
    this.waiting.push([wire, request.slice(), answer]);
    this.next();
  }

  cancel(wire) {
    const c = this.inFlight.get(wire);
    if (c) { c.cancelled = true; Atomics.notify(this.w, this.box(c.box) / 4); return; }
    const i = this.waiting.findIndex(([w]) => w === wire);
    if (i >= 0) { this.waiting.splice(i, 1); this.cancelled += 1; }
  }

  next() {
    while (this.waiting.length && this.free.length) {
      const [wire, request, answer] = this.waiting.shift();
      this.post(this.free.shift(), wire, request).then(([status, data]) => {
        if (status >= 0) answer(wire, status, data);
      });
    }
  }

  // SYNC POINT with the adapter's $precv: the request, then the word (SC), then wake
  async post(box, wire, request) {
    const at = this.box(box), dv = this.dv;
    const id = this.ids[box] = (this.ids[box] + 1) >>> 0;
    const hi = BigInt(id) << 32n;
    this.u8.set(request, at + BOX.request);
    dv.setUint32(at + BOX.req_len, request.length, true);
    dv.setBigUint64(at + BOX.calls, dv.getBigUint64(at + BOX.calls, true) + 1n, true);
    const c = { box, id, cancelled: false };
    this.inFlight.set(wire, c);
    Atomics.store(this.q, at / 8, hi | POSTED);
    Atomics.add(this.w, OFF.wake / 4, 1);
    if (Atomics.load(this.w, OFF.server_waiting / 4) !== 0) Atomics.notify(this.w, OFF.wake / 4, 1);
    try {
      return await this.await_(at, hi, c);
    } finally {
      this.inFlight.delete(wire);
      this.free.push(box);
      this.next();
    }
  }

  // until the reply (or a cancel): [0, bytes], [1, why], or [-1] when cancelled
  async await_(at, hi, c) {
    for (;;) {
      const w = this.word(at);
      if (w === (hi | REPLIED)) return this.deliver(at, hi);
      if ((w >> 32n) !== (hi >> 32n) || (w & 0xffffffffn) > TAKEN) {
        Atomics.store(this.q, at / 8, hi | IDLE);
        return [1, `the mailbox's word was refused or forged (${w})`];
      }
      if (c.cancelled && this.abandon(at, hi)) {
        this.cancelled += 1;
        return [-1];
      }
      if (Atomics.load(this.w, OFF.closed / 4) !== 0) return [1, "the tab's port is closed"];
      Atomics.store(this.w, (at + BOX.client_waiting) / 4, 1);
      try {
        if (this.word(at) !== w || c.cancelled) continue;
        const r = Atomics.waitAsync(this.w, at / 4, Number(w & 0xffffffffn) | 0, SLICE_MS);
        if (r.async) await r.value;
      } finally {
        Atomics.store(this.w, (at + BOX.client_waiting) / 4, 0);
      }
    }
  }

  // the caller gave up: POSTED or TAKEN -> ABANDONED (false: the reply came first)
  abandon(at, hi) {
    for (const s of [POSTED, TAKEN])
      if (Atomics.compareExchange(this.q, at / 8, hi | s, hi | ABANDONED) === (hi | s)) {
        const t = at + BOX.timeouts;
        this.dv.setBigUint64(t, this.dv.getBigUint64(t, true) + 1n, true);
        return true;
      }
    return false;
  }

  deliver(at, hi) {
    const n = this.dv.getUint32(at + BOX.rep_len, true);
    const out = n > this.plan.max_payload ? null
      : this.u8.slice(at + this.plan.reply_offset, at + this.plan.reply_offset + n);
    Atomics.store(this.q, at / 8, hi | IDLE);
    if (out === null) return [1, `a reply length of ${n} is over max_payload`];
    this.replied += 1;
    return [0, out];
  }

  stats() {
    return { calls: this.calls, replied: this.replied, cancelled: this.cancelled,
             in_flight: this.inFlight.size, waiting: this.waiting.length };
  }
}

function head(kind, status, wire) {
  const h = new DataView(new ArrayBuffer(8));
  h.setUint8(0, kind);
  h.setUint8(1, status);
  h.setUint32(4, wire, true);
  return new Uint8Array(h.buffer);
}

// The port's link to the host: calls in, replies out; `report(state, why)`.
export class PortLink {
  constructor(url, port, token, report) {
    Object.assign(this, { url, port, token, report, final: false, reconnects: 0 });
  }

  start() { this.dial(); return this; }

  dial() {
    const ws = this.ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { ws.send(JSON.stringify({ token: this.token })); this.report("serving", ""); };
    ws.onmessage = (ev) => this.arrived(ws, new Uint8Array(ev.data));
    ws.onclose = (ev) => {
      if (ev.reason === "refused") { this.final = true; this.report("refused", ev.reason); return; }
      this.report("redialling", ev.reason || `closed (${ev.code})`);
      this.reconnects += 1;
      setTimeout(() => this.dial(), REDIAL_MS);
    };
  }

  arrived(ws, data) {
    if (data.length < 8) return;
    const dv = new DataView(data.buffer, data.byteOffset, data.length);
    const kind = dv.getUint8(0), wire = dv.getUint32(4, true);
    if (kind === CANCEL) { this.port.cancel(wire); return; }
    if (kind !== CALL) return;
    this.port.call(wire, data.subarray(8), (w, status, body) => {
      if (ws.readyState !== WebSocket.OPEN) return; // the call died with its link
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      const msg = new Uint8Array(8 + bytes.length);
      msg.set(head(REPLY, status, w));
      msg.set(bytes, 8);
      ws.send(msg);
    });
  }
}
