//! A guest tunnel end driven by the host, for the conformance suite: the Rust
//! twin of tests/conformance/agent.wat, written against nanonet.rs. It holds
//! one end of tunnel "t" and serves commands read from tunnel "wcmd" (the
//! writer agent) or "rcmd" (the reader agent), whichever it was given, each
//! answered on "wres" or "rres". `configure(mode)` picks the ABI form: 0
//! single messages (send/try_send, recv/try_recv), 1 batches
//! (send_batch/try_send_batch, recv_batch/try_recv_batch).
//!
//! A command is [op i32][a i32][b i32][batch records...]; the answer is
//! [status i32][count i32][batch records...]. Ops: 1 send and 2 try_send
//! (a records of the command), 3 recv and 4 try_recv (at most a messages,
//! receive buffer b bytes), 5 commit, 6 close.
#![no_std]

use core::sync::atomic::{AtomicI32, Ordering};
use nanonet::{record_size, Batch, Records, Status, Tunnel};

const CONTROL_PAYLOAD: usize = 40_000; // the command and answer tunnels' max_payload
static MODE: AtomicI32 = AtomicI32::new(0);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[no_mangle]
pub extern "C" fn configure(mode: i32) {
    MODE.store(mode, Ordering::Relaxed);
}

/// What one command did: its status (0, or the first failure) and its count.
struct Done {
    status: i32,
    count: i32,
}

fn word(buf: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn status_of<T>(r: nanonet::Result<T>) -> i32 {
    r.err().map_or(0, Status::code)
}

fn send_op(t: Tunnel, records: &[u8], n: usize, blocking: bool, copy: &mut [u8]) -> Done {
    let mut done = Done { status: 0, count: 0 };
    if MODE.load(Ordering::Relaxed) == 0 {
        for data in Records::new(records, n) {
            let r = if blocking { t.send(data) } else { t.try_send(data) };
            if let Err(status) = r {
                done.status = status.code();
                break;
            }
            done.count += 1;
        }
        return done;
    }
    let mut batch = Batch::new(copy);
    for data in Records::new(records, n) {
        batch.push(data);
    }
    match if blocking { t.send_batch(&batch) } else { t.try_send_batch(&batch) } {
        Ok(sent) => done.count = sent as i32,
        Err(status) => done.status = status.code(),
    }
    done
}

/// Receive into the answer's records: the first receive may block, the rest
/// of the answer is what is there now. Returns what it did and the bytes used.
fn recv_each(t: Tunnel, out: &mut [u8], limit: usize, cap: usize, blocking: bool) -> (Done, usize) {
    let (mut done, mut used) = (Done { status: 0, count: 0 }, 0);
    while (done.count as usize) < limit {
        let end = (used + 4 + cap).min(out.len());
        let buf = &mut out[used + 4..end];
        let r = if blocking && done.count == 0 { t.recv(buf) } else { t.try_recv(buf) };
        match r {
            Ok(len) => {
                out[used..used + 4].copy_from_slice(&(len as u32).to_le_bytes());
                used += record_size(len);
                done.count += 1;
            }
            Err(status) => {
                if done.count == 0 {
                    done.status = status.code();
                }
                break;
            }
        }
    }
    (done, used)
}

fn recv_op(t: Tunnel, out: &mut [u8], limit: usize, cap: usize, blocking: bool) -> (Done, usize) {
    if MODE.load(Ordering::Relaxed) == 0 {
        return recv_each(t, out, limit, cap, blocking);
    }
    let buf = &mut out[..cap.min(CONTROL_PAYLOAD)];
    let got = if blocking { t.recv_batch(buf, limit as u32) } else { t.try_recv_batch(buf, limit as u32) };
    match got {
        Ok(records) if records.is_empty() => (Done { status: Status::Again.code(), count: 0 }, 0),
        Ok(records) => {
            let count = records.len();
            let used = records.map(|data| record_size(data.len())).sum();
            (Done { status: 0, count: count as i32 }, used)
        }
        Err(status) => (Done { status: status.code(), count: 0 }, 0),
    }
}

/// Run the command in `cmd`; write the answer into `ans` and return its size.
fn dispatch(t: Tunnel, cmd: &[u8], ans: &mut [u8], copy: &mut [u8]) -> usize {
    let (op, a, b) = (word(cmd, 0), word(cmd, 4) as usize, word(cmd, 8) as usize);
    let (header, records) = ans.split_at_mut(8);
    let (done, used) = match op {
        1 | 2 => (send_op(t, &cmd[12..], a, op == 1, copy), 0),
        3 | 4 => recv_op(t, records, a, b, op == 3),
        5 => (Done { status: status_of(t.commit()), count: 0 }, 0),
        6 => (Done { status: status_of(t.close()), count: 0 }, 0),
        _ => (Done { status: -100, count: 0 }, 0),
    };
    header[..4].copy_from_slice(&done.status.to_le_bytes());
    header[4..].copy_from_slice(&done.count.to_le_bytes());
    8 + used
}

/// The command and answer tunnels of whichever role this agent was given.
fn control() -> Option<(Tunnel, Tunnel)> {
    match (Tunnel::open("wcmd"), Tunnel::open("wres")) {
        (Ok(cmd), Ok(res)) => Some((cmd, res)),
        _ => Tunnel::open("rcmd").ok().zip(Tunnel::open("rres").ok()),
    }
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    let mut cmd = [0u8; CONTROL_PAYLOAD];
    let mut ans = [0u8; CONTROL_PAYLOAD + 8];
    let mut copy = [0u8; CONTROL_PAYLOAD];
    let t = match Tunnel::open("t") {
        Ok(t) => t,
        Err(_) => return -500,
    };
    let (cmds, answers) = match control() {
        Some(both) => both,
        None => return -503,
    };
    loop {
        let n = match cmds.recv(&mut cmd) {
            Ok(n) => n,
            Err(Status::Closed) => return 0,
            Err(status) => return status.code(),
        };
        if n < 12 {
            return -501;
        }
        let size = dispatch(t, &cmd[..n], &mut ans, &mut copy);
        if answers.send(&ans[..size]).is_err() {
            return -502;
        }
    }
}
