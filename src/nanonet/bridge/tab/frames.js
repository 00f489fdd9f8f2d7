// The bridge's frames in JavaScript (docs/bridge.md): the same layouts as
// src/nanonet/bridge/frames.py, checked against it by shared test vectors
// (tests/test_browser_frames.py). Every frame is an 8-byte header
// [magic u16][type u8][flags u8][length u32] and a body; little-endian.
// u64 fields are BigInt. decodeAll throws an Error on any fault, as the
// Python decoder raises BridgeProtocolError.

export const MAGIC = 0x424e;
export const VERSION = 1;
export const MAX_FRAME = 1 << 20;
export const MAX_BATCH = 4096;
export const MAX_NAME = 32;
export const ACK_REWIND = 1;
export const ACK_ENDED = 2;
export const KIND = { HELLO: 1, WELCOME: 2, REFUSE: 3, DATA: 4, ACK: 5, PING: 6, PONG: 7, CLOSE: 8,
                      BROKEN: 9 };
export const KIND_NAME = Object.fromEntries(Object.entries(KIND).map(([k, v]) => [v, k]));

// the fixed part of each body, as frames.LAYOUTS: [field, struct code]
export const LAYOUTS = {
  1: [["min_version", "H"], ["max_version", "H"], ["max_payload", "I"], ["nonce", "Q"],
      ["name_len", "B"], ["token_len", "B"]],
  2: [["version", "H"], ["reserved", "H"], ["credit", "I"], ["nonce", "Q"], ["next_seq", "Q"]],
  3: [["code", "H"], ["reason_len", "H"]],
  4: [["first_seq", "Q"], ["count", "I"], ["reserved", "I"]],
  5: [["next_seq", "Q"], ["credit", "I"], ["flags", "I"]],
  6: [["nonce", "Q"]],
  7: [["nonce", "Q"]],
  8: [["end_seq", "Q"]],
  9: [["end_seq", "Q"], ["reason", "H"], ["service_len", "B"], ["cause_len", "B"]],
};
const SIZE = { B: 1, H: 2, I: 4, Q: 8 };
const WITH_REST = new Set([KIND.HELLO, KIND.REFUSE, KIND.DATA, KIND.BROKEN]);

export function fixedSize(kind) {
  return LAYOUTS[kind].reduce((n, [, code]) => n + SIZE[code], 0);
}

function put(dv, at, code, value) {
  if (code === "B") dv.setUint8(at, value);
  else if (code === "H") dv.setUint16(at, value, true);
  else if (code === "I") dv.setUint32(at, value, true);
  else dv.setBigUint64(at, BigInt(value), true);
}

function get(dv, at, code) {
  if (code === "B") return dv.getUint8(at);
  if (code === "H") return dv.getUint16(at, true);
  if (code === "I") return dv.getUint32(at, true);
  return dv.getBigUint64(at, true);
}

// One frame: its fixed fields (an object, by name) then the bytes of `rest`.
export function encode(kind, fields, rest = new Uint8Array(0)) {
  const fixed = fixedSize(kind);
  const out = new Uint8Array(8 + fixed + rest.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, MAGIC, true);
  dv.setUint8(2, kind);
  dv.setUint8(3, 0);
  dv.setUint32(4, fixed + rest.length, true);
  let at = 8;
  for (const [name, code] of LAYOUTS[kind]) {
    put(dv, at, code, fields[name] ?? 0);
    at += SIZE[code];
  }
  out.set(rest, at);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function hello(maxPayload, nonce, name, token) {
  const n = enc.encode(name), t = enc.encode(token);
  if (n.length > MAX_NAME || t.length > 255) throw new Error("hello: name or token too long");
  const rest = new Uint8Array(n.length + t.length);
  rest.set(n, 0);
  rest.set(t, n.length);
  return encode(KIND.HELLO, { min_version: VERSION, max_version: VERSION, max_payload: maxPayload,
                              nonce, name_len: n.length, token_len: t.length }, rest);
}

// A DATA frame: lengths (u32 each) then the payloads end to end.
export function data(firstSeq, payloads) {
  const count = payloads.length;
  const total = payloads.reduce((n, p) => n + p.length, 0);
  const rest = new Uint8Array(4 * count + total);
  const dv = new DataView(rest.buffer);
  let at = 4 * count;
  payloads.forEach((p, i) => { dv.setUint32(4 * i, p.length, true); rest.set(p, at); at += p.length; });
  return encode(KIND.DATA, { first_seq: firstSeq, count, reserved: 0 }, rest);
}

export const ping = (nonce) => encode(KIND.PING, { nonce });
export const pong = (nonce) => encode(KIND.PONG, { nonce });
export const close = (endSeq) => encode(KIND.CLOSE, { end_seq: endSeq });

// What a receiver sends (tab/receiver.js): WELCOME, ACK and REFUSE.
export const welcome = (credit, nonce, nextSeq) =>
  encode(KIND.WELCOME, { version: VERSION, reserved: 0, credit, nonce, next_seq: nextSeq });
export const ack = (nextSeq, credit, flags) => encode(KIND.ACK, { next_seq: nextSeq, credit, flags });
export function refuse(code, reason) {
  const r = enc.encode(reason).subarray(0, 200);
  return encode(KIND.REFUSE, { code, reason_len: r.length }, r);
}

function fail(why) {
  return new Error(`bridge peer broke the protocol: ${why}`);
}

function body(kind, view) {
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const fields = {};
  let at = 0;
  for (const [name, code] of LAYOUTS[kind]) {
    fields[name] = get(dv, at, code);
    at += SIZE[code];
  }
  const rest = view.subarray(at);
  if (!WITH_REST.has(kind) && rest.length) throw fail(`${rest.length} bytes past a ${KIND_NAME[kind]} frame's fields`);
  return { kind, fields, rest };
}

// Every whole frame in `bytes` (a WebSocket message carries whole frames).
export function decodeAll(bytes, limit = MAX_FRAME) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 8) throw fail("a frame cut short in its header");
    const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
    const magic = dv.getUint16(0, true), kind = dv.getUint8(2), flags = dv.getUint8(3);
    const length = dv.getUint32(4, true);
    if (magic !== MAGIC) throw fail(`magic 0x${magic.toString(16)}, not 0x424e`);
    if (!(kind in LAYOUTS) || flags) throw fail(`frame type ${kind} with flags ${flags}`);
    if (length < fixedSize(kind) || length > limit) throw fail(`a ${KIND_NAME[kind]} frame of ${length} bytes`);
    if (bytes.length - at - 8 < length) throw fail("a frame cut short in its body");
    out.push(body(kind, bytes.subarray(at + 8, at + 8 + length)));
    at += 8 + length;
  }
  return out;
}

export function parseHello(f) {
  const { name_len: n, token_len: t } = f.fields;
  if (f.rest.length !== n + t || n > MAX_NAME) throw fail("hello's name and token lengths do not match its body");
  return { ...f.fields, name: dec.decode(f.rest.subarray(0, n)), token: dec.decode(f.rest.subarray(n)) };
}

export function parseRefuse(f) {
  if (f.rest.length !== f.fields.reason_len) throw fail("refuse's reason length does not match its body");
  return { code: f.fields.code, reason: dec.decode(f.rest) };
}

export function parseData(f, maxPayload) {
  const { first_seq: first, count } = f.fields;
  if (!(count > 0 && count <= MAX_BATCH) || f.rest.length < 4 * count) throw fail(`a batch of ${count} messages in ${f.rest.length} bytes`);
  const dv = new DataView(f.rest.buffer, f.rest.byteOffset, 4 * count);
  const lengths = Array.from({ length: count }, (_, i) => dv.getUint32(4 * i, true));
  if (Math.max(...lengths) > maxPayload) throw fail(`a message of ${Math.max(...lengths)} bytes in a tunnel of ${maxPayload}`);
  const payload = f.rest.subarray(4 * count);
  const sum = lengths.reduce((a, b) => a + b, 0);
  if (sum !== payload.length) throw fail(`lengths add up to ${sum} bytes, the batch holds ${payload.length}`);
  const messages = [];
  let at = 0;
  for (const n of lengths) { messages.push(payload.subarray(at, at + n)); at += n; }
  return { first_seq: first, lengths, messages };
}

// BROKEN: the stream ends at end_seq and the writer's service is gone (its reason code).
export function parseBroken(f) {
  const { service_len: n, cause_len: c } = f.fields;
  if (f.rest.length !== n + c || f.fields.reason === 0) throw fail("broken's lengths or reason do not match its body");
  return { end_seq: f.fields.end_seq, reason: f.fields.reason,
           service: dec.decode(f.rest.subarray(0, n)), cause: dec.decode(f.rest.subarray(n)) };
}
