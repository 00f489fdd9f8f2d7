// The producer world (nanonet:tunnel/producer) in JavaScript, built with
// componentize-js: `run(count, size)` calls `forward` `count` times.
import forward from "forward";

export function run(count, size) {
  const payload = new Uint8Array(size);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < size && k < 4; k++) payload[k] = (i >>> (8 * k)) & 0xff;
    forward(i, payload);
  }
  return count;
}
