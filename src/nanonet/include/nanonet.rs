//! nanonet.rs: the guest ABI of nanonet, for Rust guests (see docs/abi.md).
//!
//! `#![no_std]`, no crates: raw `extern "C"` imports of the `nanonet` module
//! (the same functions `nanonet.h` declares for C) and safe wrappers over them.
//! nanonet's build compiles this file as the crate `nanonet` and passes it to
//! the guest with `--extern`, so a guest writes `use nanonet::Tunnel;`:
//!
//! ```ignore
//! #![no_std]
//! use nanonet::{Code, Status, Tunnel};
//!
//! #[panic_handler]
//! fn panic(_: &core::panic::PanicInfo) -> ! { core::arch::wasm32::unreachable() }
//!
//! #[no_mangle]
//! pub extern "C" fn run() -> i32 {
//!     let (inp, out) = match (Tunnel::open("in"), Tunnel::open("out")) {
//!         (Ok(i), Ok(o)) => (i, o),
//!         _ => return Status::BadHandle.code(),
//!     };
//!     let mut buf = [0u8; 256];
//!     loop {
//!         match inp.recv(&mut buf) {
//!             Ok(n) => if let Err(s) = out.send(&buf[..n]) { return s.code() },
//!             Err(Status::Closed) => return out.close().code(),
//!             Err(s) => return s.code(),
//!         }
//!     }
//! }
//! ```
//!
//! Only the functions a guest calls become imports (the linker drops the
//! rest), so a service that only reads does not import `send`.
#![no_std]

/// The raw imports, exactly as docs/abi.md lists them: every value an `i32`.
pub mod raw {
    #[link(wasm_import_module = "nanonet")]
    extern "C" {
        pub fn tunnel(name: *const u8, name_len: usize) -> i32;
        pub fn close(h: i32) -> i32;
        pub fn commit(h: i32) -> i32;
        pub fn send(h: i32, ptr: *const u8, len: usize) -> i32;
        pub fn try_send(h: i32, ptr: *const u8, len: usize) -> i32;
        pub fn recv(h: i32, buf: *mut u8, cap: usize) -> i32;
        pub fn try_recv(h: i32, buf: *mut u8, cap: usize) -> i32;
        pub fn send_batch(h: i32, ptr: *const u8, count: u32) -> i32;
        pub fn try_send_batch(h: i32, ptr: *const u8, count: u32) -> i32;
        pub fn recv_batch(h: i32, buf: *mut u8, cap: usize, max: u32) -> i32;
        pub fn try_recv_batch(h: i32, buf: *mut u8, cap: usize, max: u32) -> i32;
        /// For raw readers: the payload stays in the ring, its offset there goes
        /// to `*at`. Reading it needs a second memory, which Rust cannot address;
        /// declared for completeness, as in nanonet.h (see docs/abi.md).
        pub fn recv_raw(h: i32, at: *mut u32) -> i32;
        pub fn try_recv_raw(h: i32, at: *mut u32) -> i32;
        /// Request/reply ports (docs/abi.md, "Ports"); `serve_reply`'s call is an `i64`.
        pub fn port(name: *const u8, name_len: usize) -> i32;
        pub fn call(h: i32, req: *const u8, len: usize, buf: *mut u8, cap: usize,
                    timeout_ms: i32) -> i32;
        pub fn serve_recv(h: i32, buf: *mut u8, cap: usize, call: *mut u64) -> i32;
        pub fn try_serve_recv(h: i32, buf: *mut u8, cap: usize, call: *mut u64) -> i32;
        pub fn serve_reply(h: i32, call: u64, ptr: *const u8, len: usize) -> i32;
        /// A pub-sub subscriber's missed count (lossy ones; saturating).
        pub fn missed(h: i32) -> i32;
        pub fn wait_any(set: *const i32, count: u32, timeout_ms: i32) -> i32;
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        /// Needs the `clock` grant.
        pub fn clock_time_get(clock_id: u32, precision: u64, time_ns: *mut u64) -> i32;
    }
}

/// Why a call did not succeed: the negative status codes of docs/abi.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The tunnel is closed; a reader sees it only once it has read everything.
    Closed,
    /// `try_*` only: the ring is full (send) or empty (receive).
    Again,
    /// Longer than the tunnel's `max_payload`; nothing was sent.
    TooBig,
    /// The ring failed a consistency check and is quarantined for good.
    Corrupt,
    /// No such tunnel or handle, or the wrong direction.
    BadHandle,
    /// The buffer is smaller than the next message, which stays queued.
    Truncated,
    /// The service at the other end is gone for good: an error, unlike `Closed`.
    Broken,
    /// The host asks the service to return now (a hot upgrade): everything
    /// received so far is committed; return it from `run`.
    Yield,
    /// A port call's deadline passed with no reply; a late reply is dropped.
    Timeout,
    /// A code this binding does not know.
    Other(i32),
}

impl Status {
    /// The status a negative result means.
    pub const fn from_code(code: i32) -> Status {
        match code {
            -1 => Status::Closed,
            -2 => Status::Again,
            -3 => Status::TooBig,
            -4 => Status::Corrupt,
            -5 => Status::BadHandle,
            -6 => Status::Truncated,
            -7 => Status::Broken,
            -8 => Status::Yield,
            -9 => Status::Timeout,
            other => Status::Other(other),
        }
    }

    /// Its code, as the C ABI and a service's exit code write it.
    pub const fn code(self) -> i32 {
        match self {
            Status::Closed => -1,
            Status::Again => -2,
            Status::TooBig => -3,
            Status::Corrupt => -4,
            Status::BadHandle => -5,
            Status::Truncated => -6,
            Status::Broken => -7,
            Status::Yield => -8,
            Status::Timeout => -9,
            Status::Other(code) => code,
        }
    }
}

/// What every wrapper returns: a count or nothing, or the status.
pub type Result<T> = core::result::Result<T, Status>;

/// A result as the ABI's `i32`, for `run`'s exit code: the count (or 0) if it
/// succeeded, else the negative status.
pub trait Code {
    fn code(self) -> i32;
}

impl Code for Result<()> {
    fn code(self) -> i32 {
        self.map_or_else(Status::code, |()| 0)
    }
}

impl Code for Result<usize> {
    fn code(self) -> i32 {
        self.map_or_else(Status::code, |n| n as i32)
    }
}

fn check(r: i32) -> Result<usize> {
    if r >= 0 { Ok(r as usize) } else { Err(Status::from_code(r)) }
}

fn done(r: i32) -> Result<()> {
    check(r).map(|_| ())
}

/// A port this service serves or calls: a small handle, stable for the life
/// of the service (look it up once, at the start of `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(i32);

/// A request taken by `Port::serve_recv`: answer it with `Port::reply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call(u64);

impl Port {
    /// The port `name` this service serves or calls, or `BadHandle`.
    pub fn open(name: &str) -> Result<Port> {
        check(unsafe { raw::port(name.as_ptr(), name.len()) }).map(|h| Port(h as i32))
    }

    /// Call the port: the reply goes into `buf`; its length. `Timeout` after
    /// `timeout_ms` (negative: no deadline), then a late reply is dropped.
    #[inline]
    pub fn call(self, req: &[u8], buf: &mut [u8], timeout_ms: i32) -> Result<usize> {
        check(unsafe {
            raw::call(self.0, req.as_ptr(), req.len(), buf.as_mut_ptr(), buf.len(), timeout_ms)
        })
    }

    /// Serve the port: the next request (round robin over the callers) into
    /// `buf`; blocks until one is posted. Its length and the call to answer.
    #[inline]
    pub fn serve_recv(self, buf: &mut [u8]) -> Result<(usize, Call)> {
        let mut call = 0u64;
        check(unsafe { raw::serve_recv(self.0, buf.as_mut_ptr(), buf.len(), &mut call) })
            .map(|n| (n, Call(call)))
    }

    /// Answer `call` with `data` (dropped if its caller gave up).
    #[inline]
    pub fn reply(self, call: Call, data: &[u8]) -> Result<()> {
        done(unsafe { raw::serve_reply(self.0, call.0, data.as_ptr(), data.len()) })
    }
}

/// Wait until one of `ends` (1 to 31) is ready: a read end with a message (or
/// ended), a write end with a free slot (or ended). The mask of the ready ones
/// (bit i for `ends[i]`), or `Again` once `timeout_ms` passed with none (0: look
/// once, -1: wait for ever). One park for all of them (docs/abi.md).
pub fn wait_any(ends: &[Tunnel], timeout_ms: i32) -> Result<u32> {
    let mut set = [0i32; 31];
    for (slot, end) in set.iter_mut().zip(ends) {
        *slot = end.0;
    }
    let count = if ends.len() > set.len() { 0 } else { ends.len() as u32 };
    check(unsafe { raw::wait_any(set.as_ptr(), count, timeout_ms) }).map(|m| m as u32)
}

/// One end of one tunnel that this service holds: a small handle, stable for
/// the life of the service (look it up once, at the start of `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel(i32);

impl Tunnel {
    /// The end of tunnel `name` this service holds, or `BadHandle`.
    pub fn open(name: &str) -> Result<Tunnel> {
        check(unsafe { raw::tunnel(name.as_ptr(), name.len()) }).map(|h| Tunnel(h as i32))
    }

    /// Any integer as a handle: the calls answer `BadHandle` for one the
    /// service was never given.
    pub const fn from_handle(h: i32) -> Tunnel {
        Tunnel(h)
    }

    pub const fn handle(self) -> i32 {
        self.0
    }

    /// Send `data`; blocks while the ring is full.
    #[inline]
    pub fn send(self, data: &[u8]) -> Result<()> {
        done(unsafe { raw::send(self.0, data.as_ptr(), data.len()) })
    }

    /// Send `data` now, or `Again` if the ring is full.
    #[inline]
    pub fn try_send(self, data: &[u8]) -> Result<()> {
        done(unsafe { raw::try_send(self.0, data.as_ptr(), data.len()) })
    }

    /// Receive one message into `buf`; blocks while the ring is empty. Its length.
    #[inline]
    pub fn recv(self, buf: &mut [u8]) -> Result<usize> {
        check(unsafe { raw::recv(self.0, buf.as_mut_ptr(), buf.len()) })
    }

    /// Receive one message now, or `Again` if the ring is empty.
    #[inline]
    pub fn try_recv(self, buf: &mut [u8]) -> Result<usize> {
        check(unsafe { raw::try_recv(self.0, buf.as_mut_ptr(), buf.len()) })
    }

    /// Send every record of `batch`; blocks until all are sent. How many were
    /// (fewer if one is too big, or the tunnel closed on the way).
    #[inline]
    pub fn send_batch(self, batch: &Batch<'_>) -> Result<usize> {
        check(unsafe { raw::send_batch(self.0, batch.buf.as_ptr(), batch.count) })
    }

    /// Send the records of `batch` that fit now: how many, or `Again` if none.
    #[inline]
    pub fn try_send_batch(self, batch: &Batch<'_>) -> Result<usize> {
        check(unsafe { raw::try_send_batch(self.0, batch.buf.as_ptr(), batch.count) })
    }

    /// Receive 1 to `max` messages as records into `buf`; blocks until there is one.
    #[inline]
    pub fn recv_batch<'b>(self, buf: &'b mut [u8], max: u32) -> Result<Records<'b>> {
        let n = check(unsafe { raw::recv_batch(self.0, buf.as_mut_ptr(), buf.len(), max) })?;
        Ok(Records::new(buf, n))
    }

    /// As `recv_batch`, but no records (an empty `Records`) at once if the ring is empty.
    #[inline]
    pub fn try_recv_batch<'b>(self, buf: &'b mut [u8], max: u32) -> Result<Records<'b>> {
        let n = check(unsafe { raw::try_recv_batch(self.0, buf.as_mut_ptr(), buf.len(), max) })?;
        Ok(Records::new(buf, n))
    }

    /// Give back the slots of what the last receive returned (receiving is
    /// two-phase: the next receive, a park and a normal return commit too).
    #[inline]
    pub fn commit(self) -> Result<()> {
        done(unsafe { raw::commit(self.0) })
    }

    /// Close the tunnel for both ends (commits first, on a read end).
    #[inline]
    pub fn close(self) -> Result<()> {
        done(unsafe { raw::close(self.0) })
    }
}

/// Bytes one record of a `len`-byte payload takes: `[len u32][payload][pad to 4]`.
pub const fn record_size(len: usize) -> usize {
    4 + ((len + 3) & !3)
}

/// Records written back to back into a buffer of the guest's, for `send_batch`.
pub struct Batch<'a> {
    buf: &'a mut [u8],
    used: usize,
    count: u32,
}

impl<'a> Batch<'a> {
    /// An empty batch that writes its records into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Batch<'a> {
        Batch { buf, used: 0, count: 0 }
    }

    /// Append one record; false (and nothing written) if `buf` has no room for it.
    pub fn push(&mut self, data: &[u8]) -> bool {
        let size = record_size(data.len());
        if size > self.buf.len() - self.used || data.len() > u32::MAX as usize {
            return false;
        }
        let at = &mut self.buf[self.used..self.used + size];
        at[..4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        at[4..4 + data.len()].copy_from_slice(data);
        at[4 + data.len()..].fill(0);
        self.used = self.used + size;
        self.count += 1;
        true
    }

    /// Forget every record, to fill the buffer again.
    pub fn clear(&mut self) {
        self.used = 0;
        self.count = 0;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The records written so far, as bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.used]
    }
}

/// The messages a batch receive wrote: an iterator over their payloads.
pub struct Records<'b> {
    rest: &'b [u8],
    left: usize,
}

impl<'b> Records<'b> {
    /// The first `count` records laid out in `buf` (what a batch receive
    /// wrote there, or records that came in a message).
    pub fn new(buf: &'b [u8], count: usize) -> Records<'b> {
        Records { rest: buf, left: count }
    }

    /// How many records are left to read.
    pub fn len(&self) -> usize {
        self.left
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'b> Iterator for Records<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        if self.left == 0 || self.rest.len() < 4 {
            return None;
        }
        let len = u32::from_le_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]);
        let len = len as usize;
        let size = record_size(len).min(self.rest.len());
        let payload = self.rest.get(4..4 + len)?;
        self.rest = &self.rest[size..];
        self.left -= 1;
        Some(payload)
    }
}

/// The clock: needs the `clock` grant (docs/abi.md).
pub mod clock {
    fn now(clock_id: u32) -> u64 {
        let mut t: u64 = 0;
        unsafe { super::raw::clock_time_get(clock_id, 1, &mut t) };
        t
    }

    /// Wall-clock nanoseconds since 1970: one time base across services.
    pub fn realtime_ns() -> u64 {
        now(0)
    }

    /// Monotonic nanoseconds, for intervals within one service only (each
    /// service's monotonic clock starts near zero when it is loaded).
    pub fn monotonic_ns() -> u64 {
        now(1)
    }
}
