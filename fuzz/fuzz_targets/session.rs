//! The connection state machine on arbitrary byte streams, cut where the
//! first byte says: it must never panic, never answer more requests than
//! could have been sent, and give the same answers whatever the cut.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::date::DateLine;
use oneloop::http::files::Files;
use oneloop::http::session::{Session, SessionLoan};
use oneloop::http::site::Site;
use oneloop::http1::session::H1Session;
use oneloop::ops::Ops;
use oneloop::out::OutQueue;

fn run(input: &[u8], cut: usize) -> usize {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut date = DateLine::default();
    date.update(now);
    let files = Files::new(None, 1 << 20, 1 << 20).expect("embedded site");
    let mut site = Site::new(files, date, Limits::default());
    site.routes.metrics_path = Some(b"/metrics"[..].into());
    let mut ops = Ops::default();
    let mut ctx = SessionLoan {
        site: &mut site,
        ops: &mut ops,
        client: 0,
        secure: false,
    };
    let mut session = H1Session::default();
    let mut out = OutQueue::default();
    let mut kept = input[..cut].to_vec();
    let used = session.on_input(&kept, &mut ctx, &mut out);
    kept.drain(..used);
    kept.extend_from_slice(&input[cut..]);
    session.on_input(&kept, &mut ctx, &mut out);
    out.len()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let cut = usize::from(first) % (input.len() + 1);
    let whole = run(input, input.len());
    let split = run(input, cut);
    // A response is at most four chunks, and a request at least 16 bytes
    // ("GET / HTTP/1.0\n\n"); one more answer may refuse trailing junk.
    assert!(whole <= 4 * (input.len() / 16 + 1));
    assert_eq!(
        whole, split,
        "the answers depend on where the stream was cut"
    );
});
