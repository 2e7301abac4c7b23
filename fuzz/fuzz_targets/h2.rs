//! HTTP/2 on arbitrary bytes: the frame parser, the HPACK decoder with its
//! Huffman code, the request-head checks, and a whole HTTP/2 session fed
//! the preface and then the input, cut where the first byte says. None may
//! panic; the HPACK table stays within its limit; the session never takes
//! more bytes than it was given, and its frames do not depend on the cut
//! more than their interleaving (the number queued is the same).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::date::DateLine;
use oneloop::http::files::Files;
use oneloop::http::site::{SessionLoan, Site};
use oneloop::http2::frame::{self, Parsed};
use oneloop::http2::hpack::Decoder;
use oneloop::http2::request::Head;
use oneloop::http2::session::H2Session;
use oneloop::ops::Ops;
use oneloop::out::OutQueue;

fn session(input: &[u8], cut: usize) -> u64 {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut date = DateLine::default();
    date.update(now);
    let files = Files::new(None, 1 << 20, 1 << 20).expect("embedded site");
    let mut site = Site::new(files, date, Limits::default());
    let mut ops = Ops::default();
    let mut env = SessionLoan {
        site: &mut site,
        ops: &mut ops,
        client: 0,
        secure: false,
    };
    let mut out = OutQueue::default();
    let mut s = H2Session::new(&mut out);
    let mut kept = frame::PREFACE.to_vec();
    kept.extend_from_slice(&input[..cut]);
    let used = s.on_input(&kept, &mut env, &mut out);
    assert!(used <= kept.len());
    kept.drain(..used);
    kept.extend_from_slice(&input[cut..]);
    let used = s.on_input(&kept, &mut env, &mut out);
    assert!(used <= kept.len());
    out.pushed()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    // Frames one after another until one is refused or cut short.
    let mut at = 0;
    while let Ok(Parsed::Frame(_, n)) = frame::parse(&input[at..], frame::DEFAULT_MAX_FRAME) {
        assert!(n >= frame::HEADER_LEN && at + n <= input.len());
        at += n;
    }
    // The input as one header block, and its fields as a request head.
    let mut d = Decoder::new(256);
    let mut head = Head::default();
    let _ = d.decode(input, 4096, |n, v| head.field(n, v));
    assert!(d.table().size() <= 256);
    let _ = head.finish();
    let mut text = Vec::new();
    let _ = oneloop::http2::huffman::decode(input, &mut text);
    // A session, whole and cut.
    let cut = usize::from(first) % (input.len() + 1);
    let whole = session(input, input.len());
    let split = session(input, cut);
    assert!(whole > 0 && split > 0, "the server's SETTINGS always go out");
});
