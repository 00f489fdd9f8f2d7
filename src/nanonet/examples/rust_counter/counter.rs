//! counter.rs: reads words from "words" in batches, sends each one on to
//! "upper" upper-cased, and when "words" closes sends one line to "summary":
//! how many words, how many bytes, the longest word. Written against
//! nanonet.rs (the `nanonet` crate nanonet's build hands to rustc).
#![no_std]

use core::fmt::Write;
use nanonet::{Code, Status, Tunnel};

const MAX_WORD: usize = 32; // the tunnels' max_payload (nanonet.toml)

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// What the counter has seen so far.
struct Tally {
    words: u32,
    bytes: usize,
    longest: [u8; MAX_WORD],
    longest_len: usize,
}

impl Tally {
    fn add(&mut self, word: &[u8]) {
        self.words += 1;
        self.bytes += word.len();
        if word.len() > self.longest_len {
            self.longest[..word.len()].copy_from_slice(word);
            self.longest_len = word.len();
        }
    }
}

/// A line of text in a fixed buffer (`write!` into it; what does not fit is cut).
struct Line {
    buf: [u8; 64],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let take = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

fn summary(tally: &Tally, to: Tunnel) -> nanonet::Result<()> {
    let mut line = Line { buf: [0; 64], len: 0 };
    let longest = core::str::from_utf8(&tally.longest[..tally.longest_len]).unwrap_or("?");
    let _ = write!(line, "{} words, {} bytes, longest: {}", tally.words, tally.bytes, longest);
    to.send(&line.buf[..line.len])
}

fn count(words: Tunnel, upper: Tunnel, totals: Tunnel) -> nanonet::Result<()> {
    let mut tally = Tally { words: 0, bytes: 0, longest: [0; MAX_WORD], longest_len: 0 };
    let mut batch = [0u8; 16 * nanonet::record_size(MAX_WORD)];
    let mut word = [0u8; MAX_WORD];
    loop {
        let records = match words.recv_batch(&mut batch, 16) {
            Err(Status::Closed) => break,
            got => got?,
        };
        for data in records {
            tally.add(data);
            let shout = &mut word[..data.len()];
            shout.copy_from_slice(data);
            shout.make_ascii_uppercase();
            upper.send(shout)?;
        }
    }
    upper.close()?;
    summary(&tally, totals)?;
    totals.close()
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    match (Tunnel::open("words"), Tunnel::open("upper"), Tunnel::open("summary")) {
        (Ok(words), Ok(upper), Ok(totals)) => count(words, upper, totals).code(),
        _ => Status::BadHandle.code(),
    }
}
