//! TLS 1.3 records built from arbitrary bytes, opened by the server's own
//! record layer and by rustls's after a real handshake: the same
//! plaintext, and the same end (open, close_notify, or rustls's alert).
#![no_main]

#[path = "../harness/records.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let specs = harness::Spec::list(data);
    if let Err(how) = harness::compare(&specs) {
        panic!("the record layers differ on {specs:?}: {how}");
    }
});
