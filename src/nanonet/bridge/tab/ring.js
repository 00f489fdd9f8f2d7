// A tunnel's ring in a SharedArrayBuffer, laid out as docs/ring.md says
// (src/nanonet/ring/layout.py): the tab makes the memory, writes the header
// exactly as ring/memory.py does (magic, version, slot_count, slot_size,
// closed 0, quarantine 0, header_size, name_len, name), and reads the
// counters the adapter in the Worker publishes. Every read of a slot length
// is checked against max_payload before it is used.

const OFF = { magic: 0, version: 4, slot_count: 8, slot_size: 12, closed: 16, quarantine: 20,
              header_size: 24, name_len: 28, name: 32, head: 64, bytes_in: 72, full_count: 80,
              writer_parks: 88, tail: 128, bytes_out: 136, reader_waiting: 192, writer_waiting: 196,
              broken: 832 };
const SLOT_HEADER = 8; // [length u32][flags u32]

export class Ring {
  constructor(end) {
    this.end = end;
    this.memory = new WebAssembly.Memory({ initial: end.pages, maximum: end.pages, shared: true });
    const buf = this.memory.buffer;
    this.q = new BigUint64Array(buf, 0, end.header_size / 8);
    this.w = new Int32Array(buf, 0, end.header_size / 4);
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    this.mask = end.slot_count - 1;
    this.bytesOut = 0;
  }

  init() {
    const e = this.end, dv = this.dv, name = new TextEncoder().encode(e.tunnel);
    [e.magic, e.version, e.slot_count, e.slot_size, 0, 0, e.header_size, name.length]
      .forEach((v, i) => dv.setUint32(4 * i, v, true));
    this.u8.set(name, OFF.name);
    return this;
  }

  u64(field) { return Number(Atomics.load(this.q, OFF[field] / 8)); }
  u32(field) { return Atomics.load(this.w, OFF[field] / 4); }
  head() { return this.u64("head"); }
  tail() { return this.u64("tail"); }
  closed() { return this.u32("closed") !== 0; }

  // messages [from, to) as views into the ring (copy before the tail moves)
  slots(from, to) {
    const out = [];
    for (let seq = from; seq < to; seq++) {
      const at = this.end.header_size + (seq & this.mask) * this.end.slot_size;
      const len = this.dv.getUint32(at, true);
      if (len > this.end.max_payload) throw new Error(`ring ${this.end.tunnel}: slot length ${len} over max_payload`);
      out.push(this.u8.subarray(at + 8, at + 8 + len));
    }
    return out;
  }

  // the reader's commit: publish tail, then wake a writer that parked on it
  // (SYNC POINT with the adapter's $wait: tail stored before writer_waiting is read)
  commit(tail, bytes) {
    this.bytesOut += bytes;
    Atomics.store(this.q, OFF.bytes_out / 8, BigInt(this.bytesOut));
    Atomics.store(this.q, OFF.tail / 8, BigInt(tail));
    if (Atomics.load(this.w, OFF.writer_waiting / 4) !== 0) Atomics.notify(this.w, OFF.tail / 4);
  }

  // The reader's idle wait, without blocking the page: until head passes
  // `seen`, the ring closes, or `ms`. Announced as a parked reader is, so the
  // adapter's $publish notifies (SYNC POINT with $publish: reader_waiting
  // stored, then head re-read; it stores head, then reads the flag).
  waitHead(seen, ms) { return this.waitFor("head", "reader_waiting", seen, ms); }

  // The writer's: until the guest's commit moves tail past `seen` (its $commit
  // notifies a writer that announced itself once the ring is half empty).
  waitTail(seen, ms) { return this.waitFor("tail", "writer_waiting", seen, ms); }

  async waitFor(counter, flag, seen, ms) {
    Atomics.store(this.w, OFF[flag] / 4, 1);
    try {
      if (this.u64(counter) !== seen || this.closed()) return;
      const r = Atomics.waitAsync(this.w, OFF[counter] / 4, seen | 0, ms); // the low word
      if (r.async) await r.value;
    } finally {
      Atomics.store(this.w, OFF[flag] / 4, 0);
    }
  }

  // -- the writer's side, for a ring the tab's receiving bridge fills ------------

  // free slots: what a receiver may grant as credit
  free() { return this.end.slot_count - (this.head() - this.tail()); }

  // write messages at head, head + 1, ... (the caller checked they fit), then
  // publish head and wake a reader that parked on it
  // (SYNC POINT with the adapter's $wait: head stored before reader_waiting is read)
  publish(messages) {
    const e = this.end;
    let head = this.head(), bytes = 0;
    for (const m of messages) {
      const at = e.header_size + (head & this.mask) * e.slot_size;
      this.dv.setUint32(at, m.length, true);
      this.dv.setUint32(at + 4, 0, true);
      this.u8.set(m, at + SLOT_HEADER);
      head += 1;
      bytes += m.length;
    }
    Atomics.store(this.q, OFF.bytes_in / 8, BigInt(this.u64("bytes_in") + bytes));
    Atomics.store(this.q, OFF.head / 8, BigInt(head));
    if (Atomics.load(this.w, OFF.reader_waiting / 4) !== 0) Atomics.notify(this.w, OFF.head / 4);
    return head;
  }

  // the writer's end: closed after the last publish (broken first, if the far
  // writer's service is gone), then wake both sides
  // (SYNC POINT with the adapter's $refresh: closed seen, then head re-read)
  end_(brokenCode = 0) {
    if (brokenCode) Atomics.store(this.w, OFF.broken / 4, brokenCode);
    Atomics.store(this.w, OFF.closed / 4, 1);
    Atomics.notify(this.w, OFF.head / 4);
    Atomics.notify(this.w, OFF.tail / 4);
  }

  stats() {
    return { head: this.head(), tail: this.tail(), bytes_in: this.u64("bytes_in"),
             full: this.u64("full_count"), writer_parks: this.u64("writer_parks"),
             closed: this.closed(), quarantine: this.u32("quarantine") };
  }
}
