// One service of the tab, in its own Worker: the same guest .wasm and the
// same generated adapter the host would run. The adapter is instantiated
// with the guest's memory and the service's rings (shared WebAssembly
// memories made by the page, imported as "t0" "ring", "t1" "ring", ... in
// handle order, then the ports it serves as "p0" "port", ...), then the
// guest with the adapter's exports as its
// "nanonet" imports, then configure(...) if the plan says so, then run().
// memory.atomic.wait32 in the adapter parks this Worker, as it parks a
// host thread.

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

function ringImports(rings, ports) {
  return { ...Object.fromEntries(rings.map((memory, i) => [`t${i}`, { ring: memory }])),
           ...Object.fromEntries(ports.map((memory, i) => [`p${i}`, { port: memory }])) };
}

async function link(plan, guestMod, adMod, rings, ports) {
  if (plan.memory) { // the guest imports its memory: make it, the adapter first
    const [initial, maximum] = plan.memory;
    const memory = new WebAssembly.Memory(maximum === null ? { initial } : { initial, maximum });
    const ad = await WebAssembly.instantiate(adMod, { guest: { memory }, ...ringImports(rings, ports) });
    return WebAssembly.instantiate(guestMod, { env: { memory }, nanonet: ad.exports });
  }
  let ad = null; // the guest exports its memory: the guest first, its calls forwarded
  const nanonet = {};
  for (const imp of WebAssembly.Module.imports(guestMod))
    if (imp.module === "nanonet") nanonet[imp.name] = (...a) => ad.exports[imp.name](...a);
  const guest = await WebAssembly.instantiate(guestMod, { nanonet });
  ad = await WebAssembly.instantiate(adMod, { guest: { memory: guest.exports.memory },
                                                   ...ringImports(rings, ports) });
  return guest;
}

onmessage = async ({ data: { plan, session, rings, ports } }) => {
  try {
    const base = `/wasm/${session}/${encodeURIComponent(plan.name)}`;
    const [g, a] = await Promise.all([bytes(`${base}/guest.wasm`), bytes(`${base}/adapter.wasm`)]);
    const guest = await link(plan, await WebAssembly.compile(g), await WebAssembly.compile(a), rings,
                             ports);
    if (plan.configure.length)
      guest.exports.configure(...plan.configure.map(([t, v]) => (t === "i64" ? BigInt(v) : v)));
    postMessage({ state: "running" });
    const result = guest.exports[plan.entry]();
    postMessage({ state: "exited", result });
  } catch (err) {
    postMessage({ state: "failed", error: String(err) });
  }
};
