// One tunnel's link to the host: WebTransport where the browser and the host
// offer it, else WebSocket, carrying the same bridge frames (docs/bridge.md).
//
// dial(wsUrl, tunnel, wt) returns a link at once: send(bytes), close(),
// open, bufferedAmount, and the callbacks onopen(), onmessage(bytes: whole
// frames), onclose(why); kind is "webtransport" or "websocket" once chosen
// and why says why it is not WebTransport. `wt` is what the host's control
// reply said: { mode: "auto" | "websocket" | "webtransport", url, sha256 }.
// In "auto" a WebTransport that fails to open within WT_WAIT ms makes this
// page use WebSocket from then on (wt.failed keeps the reason), and the
// first WebSocket says why in its URL (?fallback=...) so the host logs it.
// A WebTransport stream is a byte stream: Frames cuts it back into whole
// frames, as a WebSocket message carries them.
//
// A tunnel the tab reads (a feed) dials with a greeting, its first message
// ({"token": ...}): over WebSocket it goes as one message and the host
// answers a refusal with the socket's close reason; over WebTransport (at
// wt.feed_url) it goes as one line, and the host's first line answers:
// "ok", then the frames, or the reason ("refused", "busy", "ended") and the
// stream's end. The stream's end after "ok" means the feed was sent to its
// end: onclose("ended"), as the WebSocket's close reason says then.

import { MAX_FRAME } from "./frames.js";

export const WT_WAIT = 2000;
export const ENDED = "ended"; // a feed's last word: everything was sent
const ANSWER_MOST = 64; // bytes of the host's answer line on a feed's stream
const enc = new TextEncoder(), dec = new TextDecoder();

class Link {
  constructor() {
    this.kind = "";
    this.why = "";
    this.open = false;
    this.done = false;
    this.onopen = this.onmessage = this.onclose = () => {};
  }

  get bufferedAmount() { return this.impl ? this.impl.buffered() : 0; }
  send(bytes) { if (this.impl) this.impl.send(bytes); }
  close() { if (this.impl) this.impl.close(); else this.lost("closed while dialing"); }

  opened() { this.open = true; this.onopen(); }

  lost(why) {
    if (this.done) return;
    this.done = true;
    this.open = false;
    this.onclose(why);
  }
}

// Bytes of a stream in, whole frames out (a frame's header holds its length).
export class Frames {
  constructor() { this.buf = new Uint8Array(0); }

  push(chunk) {
    const buf = new Uint8Array(this.buf.length + chunk.length);
    buf.set(this.buf);
    buf.set(chunk, this.buf.length);
    const dv = new DataView(buf.buffer);
    let at = 0;
    while (buf.length - at >= 8) {
      const length = dv.getUint32(at + 4, true);
      if (length > MAX_FRAME) { at = buf.length; break; } // the decoder says what is wrong
      if (buf.length - at - 8 < length) break;
      at += 8 + length;
    }
    this.buf = buf.slice(at);
    return buf.subarray(0, at);
  }
}

function hashBytes(hex) {
  return new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
}

function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function openWebTransport(link, url, wt) {
  const session = new WebTransport(url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: hashBytes(wt.sha256) }],
  });
  session.closed.catch(() => {}); // a failed session rejects it too: handled below
  try {
    await within(WT_WAIT, session.ready, `WebTransport to ${wt.url}`);
    const stream = await within(WT_WAIT, session.createBidirectionalStream(), "a WebTransport stream");
    return { session, stream };
  } catch (err) {
    try { session.close(); } catch { /* never opened */ }
    throw err;
  }
}

// A feed's stream: the host's answer line, then frames (null: not yet whole).
function answerOf(got) {
  const at = got.indexOf(10);
  if (at < 0 && got.length > ANSWER_MOST) return { answer: "an answer line too long", rest: null };
  return at < 0 ? null : { answer: dec.decode(got.subarray(0, at)), rest: got.subarray(at + 1) };
}

function carry(link, session, stream, greeting) {
  const writer = stream.writable.getWriter(), reader = stream.readable.getReader();
  const frames = new Frames();
  let pending = 0, answered = greeting === null, head = new Uint8Array(0);
  link.impl = {
    buffered: () => pending,
    send(bytes) {
      pending += bytes.length;
      writer.write(bytes).then(() => { pending -= bytes.length; },
                               (err) => link.lost(`WebTransport write: ${err.message || err}`));
    },
    close() { try { session.close(); } catch { /* already closed */ } link.lost("closed"); },
  };
  session.closed.then(() => link.lost("the WebTransport session closed"),
                      (err) => link.lost(`WebTransport: ${err.message || err}`));
  // the bytes after the answer line go to frames; false: the link is lost
  const answer = (value) => {
    const got = new Uint8Array(head.length + value.length);
    got.set(head);
    got.set(value, head.length);
    const a = answerOf(got);
    if (a === null) { head = got; return new Uint8Array(0); }
    if (a.answer !== "ok") {
      link.lost(a.answer);
      try { session.close(); } catch { /* already closed */ }
      return null;
    }
    answered = true;
    link.opened();
    return a.rest;
  };
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { link.lost(greeting === null || !answered ? "the host ended the WebTransport stream" : ENDED); return; }
        const bytes = answered ? value : answer(value);
        if (bytes === null) return;
        const whole = frames.push(bytes);
        if (whole.length) link.onmessage(whole);
      }
    } catch (err) {
      link.lost(`WebTransport read: ${err.message || err}`);
    }
  })();
  if (greeting === null) link.opened();
  else link.impl.send(enc.encode(`${greeting}\n`));
}

function webSocket(link, url, greeting) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  link.kind = "websocket";
  link.impl = {
    buffered: () => ws.bufferedAmount,
    send(bytes) { ws.send(bytes); },
    close() { ws.close(); },
  };
  ws.onopen = () => { if (greeting !== null) ws.send(greeting); link.opened(); };
  ws.onmessage = (ev) => { if (ev.data instanceof ArrayBuffer) link.onmessage(new Uint8Array(ev.data)); };
  ws.onclose = (ev) => link.lost(ev.reason || `WebSocket closed (${ev.code})`);
}

// Why this dial goes straight to WebSocket ("" when WebTransport is to be tried).
function noWebTransport(wt) {
  if (!wt || wt.mode === "websocket") return "the host asked for WebSocket";
  if (!wt.url) return "the host serves no WebTransport";
  if (typeof WebTransport === "undefined") return "this browser has no WebTransport";
  return wt.mode === "webtransport" ? "" : wt.failed || "";
}

function fallback(link, wsUrl, wt, why, greeting) {
  link.why = why;
  let url = wsUrl;
  if (wt && wt.mode === "auto" && !wt.reported) {
    wt.reported = true; // the host logs why, once
    url += `?fallback=${encodeURIComponent(why)}`;
  }
  webSocket(link, url, greeting);
}

// A link for `tunnel`: one the tab writes (greeting null), or a feed, whose
// first message is `greeting`.
export function dial(wsUrl, tunnel, wt, greeting = null) {
  const link = new Link();
  const why = noWebTransport(wt);
  if (why) { fallback(link, wsUrl, wt, why, greeting); return link; }
  link.kind = "webtransport";
  const base = greeting === null ? wt.url : wt.feed_url;
  openWebTransport(link, base + encodeURIComponent(tunnel), wt).then(({ session, stream }) => {
    if (link.done) { session.close(); return; }
    carry(link, session, stream, greeting);
  }, (err) => {
    const reason = `WebTransport failed: ${err.message || err}`;
    if (wt.mode === "webtransport") { link.why = reason; link.lost(reason); return; } // no fallback
    wt.failed = reason;
    if (!link.done) fallback(link, wsUrl, wt, reason, greeting);
  });
  return link;
}
