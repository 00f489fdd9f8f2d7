//! The guest ABI seen from Rust, through nanonet.rs: every call and status
//! code of docs/abi.md, as tests/guests/conformance.c checks them from C.
//! `run` returns 0 if every check passed, else the number of the first failed
//! check (the export `status` holds the value that check saw).
//!
//! Tunnels: "out" (this guest writes; SLOTS slots of MAX_PAYLOAD bytes),
//! "in" (this guest reads) and "sync" (this guest writes). The host reads
//! "sync" before it touches "out" or "in", so phase 1 sees them untouched.
#![no_std]

use core::sync::atomic::{AtomicI32, Ordering};
use nanonet::{record_size, Batch, Code, Status, Tunnel};

const SLOTS: u8 = 4;
const MAX_PAYLOAD: usize = 32;

static STATUS: AtomicI32 = AtomicI32::new(0);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[no_mangle]
pub extern "C" fn status() -> i32 {
    STATUS.load(Ordering::Relaxed)
}

/// A failed check: its number, with what it saw kept for `status`.
type Check = Result<(), i32>;

fn expect(step: i32, value: i32, want: i32) -> Check {
    STATUS.store(value, Ordering::Relaxed);
    if value == want { Ok(()) } else { Err(step) }
}

fn handles(out: Tunnel, inp: Tunnel) -> Check {
    let mut buf = [0u8; 256];
    let msg = [0u8; 4];
    expect(1, (out.handle() >= 0 && inp.handle() >= 0 && out != inp) as i32, 1)?;
    expect(2, Tunnel::open("nope").map(Tunnel::handle).unwrap_or_else(Status::code), -5)?;
    expect(3, Tunnel::from_handle(99).send(&msg).code(), Status::BadHandle.code())?;
    expect(4, inp.send(&msg).code(), Status::BadHandle.code())?; // wrong direction
    expect(5, out.recv(&mut buf).code(), Status::BadHandle.code())?;
    expect(6, Tunnel::from_handle(-1).close().code(), Status::BadHandle.code())
}

fn empty_and_big(out: Tunnel, inp: Tunnel) -> Check {
    let mut buf = [0u8; 256];
    let big = [0u8; MAX_PAYLOAD + 1];
    let mut recs = [0u8; 2 * (4 + MAX_PAYLOAD + 8)];
    expect(10, inp.try_recv(&mut buf).code(), Status::Again.code())?;
    expect(11, inp.try_recv_batch(&mut buf, 8).map(|r| r.len()).code(), 0)?;
    expect(12, out.send(&big).code(), Status::TooBig.code())?;
    expect(13, out.try_send(&big).code(), Status::TooBig.code())?;
    let mut batch = Batch::new(&mut recs);
    expect(14, batch.push(&big) as i32, 1)?;
    expect(15, out.send_batch(&batch).code(), Status::TooBig.code())
}

/// Fill "out" with messages 0 .. SLOTS-1, the last one through a batch.
fn fill(out: Tunnel) -> Check {
    let mut recs = [0u8; 2 * (4 + MAX_PAYLOAD + 8)];
    for i in 0..SLOTS - 1 {
        expect(20, out.try_send(&[i, 0, 0, 0]).code(), 0)?;
    }
    let mut batch = Batch::new(&mut recs);
    batch.push(&[SLOTS - 1, 0, 0, 0]);
    batch.push(&[99, 0, 0, 0]);
    expect(25, batch.bytes().len() as i32, 2 * record_size(4) as i32)?;
    expect(21, out.try_send_batch(&batch).code(), 1)?; // only one fits
    expect(22, out.try_send(&[99, 0, 0, 0]).code(), Status::Again.code())?;
    expect(23, out.try_send_batch(&batch).code(), Status::Again.code())
}

/// The host sends "hello", "ab", "cdefg" in one publish, then closes "in".
fn receive(inp: Tunnel) -> Check {
    let mut buf = [0u8; 256];
    expect(30, inp.recv(&mut buf[..2]).code(), Status::Truncated.code())?; // it stays
    expect(31, inp.recv(&mut buf).code(), 5)?;
    expect(32, (&buf[..5] == b"hello") as i32, 1)?;
    let mut records = match inp.recv_batch(&mut buf, 8) {
        Ok(records) => records,
        Err(status) => return expect(33, status.code(), 2),
    };
    expect(33, records.len() as i32, 2)?;
    expect(35, (records.next() == Some(&b"ab"[..])) as i32, 1)?;
    expect(38, (records.next() == Some(&b"cdefg"[..])) as i32, 1)?;
    expect(36, records.next().is_none() as i32, 1)?;
    expect(39, inp.recv(&mut buf).code(), Status::Closed.code())?; // closed and drained
    expect(40, inp.try_recv(&mut buf).code(), Status::Closed.code())?;
    expect(41, inp.recv_batch(&mut buf, 8).map(|r| r.len()).code(), Status::Closed.code())
}

fn finish(out: Tunnel) -> Check {
    let mut recs = [0u8; 4 + 8];
    let mut batch = Batch::new(&mut recs);
    batch.push(b"late");
    expect(50, out.send(b"last").code(), 0)?; // the host drained "out"
    expect(51, out.close().code(), 0)?;
    expect(52, out.send(b"late").code(), Status::Closed.code())?;
    expect(53, out.try_send(b"late").code(), Status::Closed.code())?;
    expect(54, out.send_batch(&batch).code(), Status::Closed.code())?;
    expect(55, out.try_send_batch(&batch).code(), Status::Closed.code())
}

fn checks() -> Check {
    let bad = Tunnel::from_handle(-1);
    let out = Tunnel::open("out").unwrap_or(bad);
    let inp = Tunnel::open("in").unwrap_or(bad);
    let sync = Tunnel::open("sync").unwrap_or(bad);
    handles(out, inp)?;
    empty_and_big(out, inp)?;
    fill(out)?;
    expect(24, sync.send(b"1").code(), 0)?; // phase 1 done
    receive(inp)?;
    finish(out)
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    match checks() {
        Ok(()) => 0,
        Err(step) => step,
    }
}
