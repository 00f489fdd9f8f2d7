// Prints modules with wasm-tools as jco ships it, many per process: one module
// per input line (base64), one JSON line out per module, in order:
// {"ok": true, "text": "(module ...)"} or {"ok": false, "error": "..."}.
// Usage: node wasm_tools_print.mjs <path of jco-transpile's dist/wasm-tools.js>
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const { print } = await import(pathToFileURL(process.argv[2]).href);
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  let out;
  try {
    out = { ok: true, text: await print(Buffer.from(line, "base64")) };
  } catch (err) {
    out = { ok: false, error: String((err && err.message) || err) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
