// The relay world (nanonet:tunnel/relay) in JavaScript, built with
// componentize-js (`jco componentize`). A returned value is the result's ok
// case; a thrown string is its error.
// each function the world imports is the default export of a module of its name
import forward from "forward";
import receiveStream from "receive-stream";

export function transmitPacket(data) {
  if (data.payload.length === 0) throw "empty payload";
  forward(data.streamId, data.payload);
  return `stream ${data.streamId}: ${data.payload.length} bytes`;
}

export function receive(streamId) {
  const got = receiveStream();
  const kept = [];
  for (const [i, p] of got.entries()) {
    if (p.streamId !== streamId) continue;
    if (p.payload.length === 0) throw `packet ${i}: empty payload`;
    kept.push(p);
  }
  return kept;
}
