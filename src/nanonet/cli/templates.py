"""The files ``nanonet new`` writes, per template.

Each core template (C, WAT, Rust) is a service that sends one greeting to the host on
tunnel ``out`` and ends, so that ``nanonet run`` shows it working end to
end; the component template is the auth example's Python component, whose
one import writes tunnel ``log`` to the host. Each comes with its manifest
and a README with the next commands. ``{name}`` is the service's name.
"""

from __future__ import annotations

from importlib import resources

MANIFEST_HEAD = """\
# {name}: a nanonet service (docs/manifest.md lists every key).
#
#   nanonet check    # validate; show what {name} can reach
#   nanonet run      # build, run, print what the host receives
"""

CORE_TUNNEL = """
[tunnels.out]
slots = 16
max_payload = 64
writer = "{name}"
reader = "host"          # the host prints what arrives
"""

C_MANIFEST = MANIFEST_HEAD + CORE_TUNNEL + """
[services.{name}]
source = "guest.c"       # built by nanonet with zig cc, cached
"""

C_GUEST = """\
/* {name}: sends one greeting on "out", closes it, and returns 0. */
#include <nanonet.h>

static const char greeting[] = "hello from {name}";

int32_t run(void) {{
    int32_t out = NN_TUNNEL("out");
    if (out < 0) return out; /* NN_BAD_HANDLE: the manifest gives it no "out" */
    int32_t sent = nn_send(out, greeting, sizeof greeting - 1);
    if (sent < 0) return sent;
    return nn_close(out);
}}
"""

WAT_MANIFEST = MANIFEST_HEAD + CORE_TUNNEL + """
[services.{name}]
source = "guest.wat"     # WebAssembly text, loaded as it is
"""

WAT_GUEST = """\
;; {name}: sends one greeting on "out", closes it, and returns 0.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (data (i32.const 16) "{greeting}")
  (func (export "run") (result i32)
    (local $out i32) (local $sent i32)
    (local.set $out (call $tunnel (i32.const 0) (i32.const 3)))
    (if (i32.lt_s (local.get $out) (i32.const 0)) (then (return (local.get $out))))
    (local.set $sent (call $send (local.get $out) (i32.const 16) (i32.const {length})))
    (if (i32.lt_s (local.get $sent) (i32.const 0)) (then (return (local.get $sent))))
    (call $close (local.get $out))))
"""

RUST_MANIFEST = MANIFEST_HEAD + CORE_TUNNEL + """
[services.{name}]
source = "guest.rs"      # built by nanonet with rustc (Debian's rustc and
                         # libstd-rust-dev-wasm32), cached
"""

RUST_GUEST = """\
//! {name}: sends one greeting on "out", closes it, and returns 0.
//! Written against nanonet.rs, the `nanonet` crate nanonet's build hands to rustc.
#![no_std]

use nanonet::{{Code, Tunnel}};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {{
    core::arch::wasm32::unreachable()
}}

fn greet() -> nanonet::Result<()> {{
    let out = Tunnel::open("out")?; // BadHandle: the manifest gives it no "out"
    out.send(b"{greeting}")?;
    out.close()
}}

#[no_mangle]
pub extern "C" fn run() -> i32 {{
    greet().code()
}}
"""

PY_MANIFEST = MANIFEST_HEAD + """
[tunnels.log]
slots = 64
max_payload = 120
writer = "{name}"        # through its access-logs import
reader = "host"

[services.{name}]
component = "guest_py/auth.py"   # built with componentize-py (cached)
wit = "auth"             # nanonet's WIT package (nanonet wit auth)
world = "auth-service"
wasi = true              # its Python runtime needs a (granted-nothing) WASI context
imports = {{ access-logs = "tunnel:log" }}
"""

README = """\
# {name}

A nanonet service made by `nanonet new --template {template}`.

    nanonet check     # validate nanonet.toml, show what {name} can reach
    nanonet build     # build its guest
    {run}

Edit `{guest}`, then run again. docs/manifest.md lists every manifest key.
"""

# template -> (guest file, its text, the manifest's text)
TEMPLATES = {
    "c": ("guest.c", C_GUEST, C_MANIFEST),
    "wat": ("guest.wat", WAT_GUEST, WAT_MANIFEST),
    "rust": ("guest.rs", RUST_GUEST, RUST_MANIFEST),
    "python-component": ("guest_py/auth.py", "", PY_MANIFEST),
}
# the auth example's component (an HMAC token check that logs every attempt):
# a whole, working Python guest, and one whose build is often cached already
AUTH_GUEST = ("examples", "auth", "guest_py", "auth.py")


def run_command(name: str, template: str) -> str:
    """How to run the new service: a component only answers calls, so it is called."""
    if template == "python-component":
        return f"nanonet run --call '{name}.authenticate(\"not.a.token\")' --calls 3"
    return "nanonet run"


def files(name: str, template: str) -> dict[str, str]:
    """File name -> text, for a service ``name`` made from ``template``."""
    guest, source, manifest = TEMPLATES[template]
    greeting = f"hello from {name}"
    fill = {"name": name, "template": template, "guest": guest, "greeting": greeting,
            "length": str(len(greeting.encode())),
            "run": f"{run_command(name, template):<17} # build, run, print what the host receives"}
    code = (source.format(**fill) if source
            else resources.files("nanonet").joinpath(*AUTH_GUEST).read_text())
    return {"nanonet.toml": manifest.format(**fill), guest: code,
            "README.md": README.format(**fill)}
