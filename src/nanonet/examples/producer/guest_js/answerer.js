// The answerer world (nanonet:tunnel/answerer) in JavaScript, built with
// componentize-js: each export forwards its argument down the tunnel, then
// answers with it changed (ASCII letters upper-cased; bytes reversed).
import forward from "forward";

const encoder = new TextEncoder();

export function shout(text) {
  forward(1, encoder.encode(text));
  return text.replace(/[a-z]/g, (c) => c.toUpperCase());
}

export function reverse(data) {
  forward(2, data);
  return Uint8Array.from(data).reverse();
}
