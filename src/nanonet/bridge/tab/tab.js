// The tab: read the token from the URL's fragment, send it as the first
// message of the control WebSocket, and run what the host granted: per
// service, its rings (shared memories laid out per docs/ring.md), a Worker
// running the guest and its adapter, and a TunnelSender bridging each ring
// the service writes to the host, a TunnelReceiver each ring it reads from
// the host; a tunnel between two services of this tab is their shared ring.
// A port a service serves is a port memory of the tab's (port.js), given to
// that service's Worker, and a PortLink that brings the host's calls into it.
// The page shows the grant, the services and the tunnels' counters read
// from the ring headers, live.

import { Ring } from "./ring.js";
import { TunnelSender } from "./sender.js";
import { TunnelReceiver } from "./receiver.js";
import { TabPort, PortLink } from "./port.js";

const state = window.nanonet = { status: "starting", why: "", grant: null, services: {}, tunnels: {},
                                 ports: {} };
// the first header line of a ring as hex (what ring/memory.py writes there)
state.header = (tunnel) => Array.from(rings[tunnel].u8.subarray(0, 64),
                                      (b) => b.toString(16).padStart(2, "0")).join("");
const $ = (id) => document.getElementById(id);
const rings = {}, senders = {}, ports = {};
// a served port's counters, read now (the table's copy is refreshed every 200 ms)
state.portStats = (port) => ports[port].stats();

function status(s, why = "") {
  state.status = s;
  state.why = why;
  $("status").textContent = why ? `${s}: ${why}` : s;
}

function token() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.get("token") || "";
}

function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

// tunnels with both ends in this tab: no bridge, the one ring is shared
function inTab(plans) {
  const ends = (dir) => new Set(plans.flatMap((p) => p.ends.filter((e) => e.direction === dir)
                                                        .map((e) => e.tunnel)));
  const reads = ends("read");
  return new Set([...ends("write")].filter((t) => reads.has(t)));
}

function runService(plan, session, tok, local, wt) {
  const svc = state.services[plan.name] = { state: "loading", result: null, error: "" };
  const mine = plan.ends.map((end) => (rings[end.tunnel] ??= new Ring(end).init()));
  const served = plan.ports.map((p) => (ports[p.port] = new TabPort(p).init()));
  const worker = new Worker("/tab/worker.js");
  worker.onmessage = ({ data }) => Object.assign(svc, data);
  worker.postMessage({ plan, session, rings: mine.map((r) => r.memory),
                       ports: served.map((p) => p.memory) });
  for (const p of served) {
    const s = state.ports[p.plan.port] = { link: "connecting", why: "" };
    new PortLink(wsUrl(`/nanonet-port/${encodeURIComponent(p.plan.port)}`), p, tok,
      (st, why) => Object.assign(s, { link: st, why })).start();
  }
  plan.ends.forEach((end, i) => {
    if (local.has(end.tunnel)) return;
    const t = state.tunnels[end.tunnel] = { bridge: "connecting", why: "" };
    // either way the link is WebTransport where the page may use it, else WebSocket
    const [Bridge, path] = end.direction === "write" ? [TunnelSender, "/nanonet/"]
      : [TunnelReceiver, "/nanonet-feed/"];
    senders[end.tunnel] = new Bridge(wsUrl(`${path}${encodeURIComponent(end.tunnel)}`), mine[i], tok,
      (s, why) => Object.assign(t, { bridge: s, why, [`${s}_at`]: performance.now() }), wt).start();
  });
}

function show() {
  const rows = Object.entries(state.services).map(([n, s]) =>
    `<tr><td>${n}</td><td>${s.state}</td><td>${s.result ?? ""}</td><td>${s.error}</td></tr>`);
  $("services").innerHTML = rows.join("");
  const trows = Object.entries(rings).map(([n, r]) => {
    const st = r.stats(), t = (state.tunnels[n] ??= {});
    const sender = senders[n] || { frames: 0, reconnects: 0 };
    Object.assign(t, st, { frames: sender.frames, reconnects: sender.reconnects,
                           transport: sender.transport, fallback: sender.fallback });
    const via = t.transport ? ` via ${t.transport}${t.fallback ? ` (${t.fallback})` : ""}` : "";
    return `<tr><td>${n}</td><td>${r.end.direction}</td><td>${st.head}</td><td>${st.tail}</td>` +
      `<td>${st.bytes_in}</td><td>${st.closed ? "closed" : "open"}</td><td>${t.bridge || ""} ${t.why || ""}${via}</td></tr>`;
  });
  $("tunnels").innerHTML = trows.join("");
  $("ports").innerHTML = Object.entries(ports).map(([n, p]) => {
    const st = Object.assign(state.ports[n], p.stats());
    return `<tr><td>${n}</td><td>${st.calls}</td><td>${st.replied}</td><td>${st.cancelled}</td>` +
      `<td>${st.in_flight}</td><td>${st.link} ${st.why}</td></tr>`;
  }).join("");
  setTimeout(show, 200);
}

// a browser shares memory with Workers only in a secure context: a page from
// http://<another machine> is none, and its guests could not run
const NOT_ISOLATED = "this page is not cross-origin isolated, so it has no SharedArrayBuffer " +
  "and cannot run services (a browser isolates only a secure context): open it at " +
  "http://127.0.0.1 or http://localhost, e.g. through an SSH tunnel " +
  "(ssh -L PORT:127.0.0.1:PORT HOST), or serve it over HTTPS";

function start() {
  $("isolated").textContent = String(crossOriginIsolated);
  if (!crossOriginIsolated) { status("refused", NOT_ISOLATED); return; } // no shared memory
  const tok = token();
  if (!tok) { status("refused", "no token in the URL (open it as /#token=...)"); return; }
  history.replaceState(null, "", location.pathname); // the token leaves the address bar
  const ws = new WebSocket(wsUrl("/nanonet-tab"));
  ws.onopen = () => { status("authenticating"); ws.send(JSON.stringify({ token: tok })); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (!msg.ok) { status("refused", msg.why); return; }
    state.grant = msg.grant;
    $("grant").textContent = `node ${msg.grant.node}: services ${msg.grant.services.join(", ")}; ` +
      `expires ${new Date(msg.grant.expires * 1000).toISOString()}`;
    status("running");
    const wt = { mode: msg.transport || "websocket", ...(msg.webtransport || {}) };
    const local = inTab(msg.services);
    for (const plan of msg.services) runService(plan, msg.session, tok, local, wt);
    show();
  };
  ws.onclose = (ev) => {
    if (state.status === "refused") return;
    if (ev.reason === "revoked") status("refused", "the host revoked this node's tokens; ask it for a new link");
    else status("disconnected");
  };
  state.control = ws;
}

start();
