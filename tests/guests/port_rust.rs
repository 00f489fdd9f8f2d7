//! A port client in Rust (nanonet.rs): calls "rpc" 500 times and checks that
//! each reply is 'C' + its request (tests/guests/port_c.c serves it); returns
//! the number of bad replies, or the first unexpected status.
#![no_std]

use nanonet::{Code, Port};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    let port = match Port::open("rpc") {
        Ok(p) => p,
        Err(s) => return Err::<(), _>(s).code(),
    };
    let mut req = [0u8; 64];
    let mut rep = [0u8; 128];
    let mut bad = 0;
    for i in 0..500u32 {
        let len = 4 + (i as usize % 60);
        for (k, b) in req[..len].iter_mut().enumerate() {
            *b = (i as usize + k) as u8;
        }
        match port.call(&req[..len], &mut rep, 10_000) {
            Ok(n) if n == len + 1 && rep[0] == b'C' && rep[1..n] == req[..len] => {}
            Ok(_) => bad += 1,
            Err(s) => return Err::<(), _>(s).code(),
        }
    }
    bad
}
