// The router of the composed access-control example (world nanonet:auth/router),
// built with componentize-js. Its one import is `authenticator`, composed with
// the auth component: each call stays in Wasm. An error result of an import
// is thrown (its payload is the reason).
import { authenticate } from "nanonet:auth/authenticator@0.1.0";

export function handle(path, jwt) {
  try {
    const who = authenticate(jwt);
    return `allow ${path} ${who.userId} ${who.role}`;
  } catch (e) {
    return `deny ${path}: ${e.payload ?? e}`;
  }
}

export function handleMany(count, jwt) {
  const last = jwt.at(-1);
  const forged = jwt.slice(0, -1) + (last === "0" ? "1" : "0");
  let allowed = 0;
  for (let i = 0; i < count; i++) {
    if (handle("/", i % 2 ? forged : jwt).startsWith("allow")) allowed++;
  }
  return allowed;
}
