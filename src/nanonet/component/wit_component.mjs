// A core module -> a component: `wasm-tools component embed` then `component
// new`, through the wasm-tools that jco ships (the functions `jco embed` and
// `jco new` call). Called by nanonet.component.cbuild:
//     node wit_component.mjs NODE_MODULES CORE.wasm WIT_DIR WORLD OUT.wasm
// Not the `jco embed` command itself: it drops `--world-name`, so a package
// with several worlds cannot be embedded with it.
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, core, wit, world, out] = process.argv.slice(2);
const tools = join(modules, "@bytecodealliance/jco-transpile/dist/wasm-tools.js");
const { componentEmbed, componentNew } = await import(pathToFileURL(tools).href);
const embedded = await componentEmbed({
  binary: await readFile(core), witPath: resolve(wit), world,
  metadata: [["processed-by", [["nanonet", "0.1.0"]]]],
});
await writeFile(out, await componentNew(embedded, []));
