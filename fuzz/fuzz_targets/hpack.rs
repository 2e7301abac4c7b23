//! HPACK header blocks from arbitrary bytes, one connection's in a row,
//! decoded by the server's decoder and by loona-hpack's: whatever the
//! server accepts, loona-hpack accepts with the same fields
//! (`harness/hpack.rs` says where the server is the stricter).
#![no_main]

#[path = "../harness/hpack.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(how) = harness::compare(data) {
        panic!("{how}");
    }
});
