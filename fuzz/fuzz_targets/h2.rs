//! HTTP/2 on arbitrary bytes: the frame parser, the HPACK decoder with its
//! Huffman code, the request-head checks, and a whole HTTP/2 session fed
//! the preface and SETTINGS and then the input, cut where the first byte
//! says. None may panic; the HPACK table stays within its limit; the
//! session never takes more bytes than it was given; and what it answers
//! does not depend on the cut: stream by stream the same heads, resets
//! and end, DATA of which one run's is the start of the other's (what
//! left before a later error cannot be called back), and on the
//! connection the same PING answers and GOAWAY.
#![no_main]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::date::DateLine;
use oneloop::http::files::Files;
use oneloop::http::head::Head;
use oneloop::http::session::{Session, SessionLoan};
use oneloop::http::site::Site;
use oneloop::http2::frame::{self, Frame, Parsed};
use oneloop::http2::hpack::Decoder;
use oneloop::http2::session::H2Session;
use oneloop::ops::Ops;
use oneloop::out::OutQueue;
use oneloop::stream::Stream;

/// A socket that takes everything (the embedded site has no files).
#[derive(Default)]
struct Memory(Vec<u8>);

impl Stream for Memory {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().for_each(|b| self.0.extend_from_slice(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn send_file(&mut self, _: &File, _: u64, _: usize) -> io::Result<usize> {
        Err(io::Error::other("no files here"))
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What one stream (0: the connection) was told.
#[derive(Debug, Default, PartialEq, Eq)]
struct Told {
    /// HEADERS blocks, decoded, and RST_STREAM codes, in order.
    heads: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    resets: Vec<u32>,
    data: Vec<u8>,
    ended: bool,
    /// On stream 0: PING ACK payloads and the GOAWAY code.
    pings: Vec<[u8; 8]>,
    goaway: Option<u32>,
}

fn session(input: &[u8], cut: usize) -> BTreeMap<u32, Told> {
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
    frame::write_settings(&mut kept, &[]);
    kept.extend_from_slice(&input[..cut]);
    let used = s.on_input(&kept, &mut env, &mut out);
    assert!(used <= kept.len());
    kept.drain(..used);
    kept.extend_from_slice(&input[cut..]);
    let used = s.on_input(&kept, &mut env, &mut out);
    assert!(used <= kept.len());
    let mut memory = Memory::default();
    while !out.is_empty() {
        out.flush(&mut memory, &mut 0).expect("memory takes it all");
    }
    told(&memory.0)
}

/// The server's frames, stream by stream.
fn told(mut bytes: &[u8]) -> BTreeMap<u32, Told> {
    let mut streams: BTreeMap<u32, Told> = BTreeMap::new();
    let mut decoder = Decoder::new(4096);
    while let Ok(Parsed::Frame(f, n)) = frame::parse(bytes, 1 << 24) {
        bytes = &bytes[n..];
        match f {
            Frame::Headers {
                stream,
                block,
                end_stream,
                ..
            } => {
                let mut fields = Vec::new();
                decoder
                    .decode(block, 1 << 20, |n, v| fields.push((n.to_vec(), v.to_vec())))
                    .expect("the server's heads decode");
                let t = streams.entry(stream).or_default();
                t.heads.push(fields);
                t.ended |= end_stream;
            }
            Frame::Data {
                stream,
                data,
                end_stream,
                ..
            } => {
                let t = streams.entry(stream).or_default();
                t.data.extend_from_slice(data);
                t.ended |= end_stream;
            }
            Frame::RstStream { stream, code } => {
                streams.entry(stream).or_default().resets.push(code as u32)
            }
            Frame::Ping { ack: true, data } => streams.entry(0).or_default().pings.push(data),
            Frame::GoAway { code, .. } => streams.entry(0).or_default().goaway = Some(code as u32),
            _ => {}
        }
    }
    assert!(bytes.is_empty(), "the server's frames parse to the end");
    streams
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    // Frames one after another until one is refused or cut short.
    let mut at = 0;
    while let Ok(Parsed::Frame(_, n) | Parsed::Refused(_, n)) =
        frame::parse(&input[at..], frame::DEFAULT_MAX_FRAME)
    {
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
    let _ = oneloop::field_coding::decode(input, &mut text);
    // A session, whole and cut.
    let cut = usize::from(first) % (input.len() + 1);
    let mut whole = session(input, input.len());
    let mut split = session(input, cut);
    for (id, w) in whole.iter_mut() {
        let s = split.entry(*id).or_default();
        let (short, long) = if w.data.len() <= s.data.len() {
            (&w.data, &s.data)
        } else {
            (&s.data, &w.data)
        };
        assert!(
            long.starts_with(short),
            "stream {id}: DATA differs with the cut at {cut}"
        );
        if w.ended == s.ended {
            w.data.clear();
            s.data.clear();
        } else {
            // One run finished the stream and the other did not: only
            // because its DATA had not all left before the connection
            // ended.
            assert!(w.goaway.is_some() || whole.get(&0).is_some_and(|c| c.goaway.is_some()));
            return;
        }
    }
    for (id, s) in split.iter_mut() {
        s.data.clear();
        whole.entry(*id).or_default().data.clear();
    }
    assert_eq!(whole, split, "the answers depend on the cut at {cut}");
});
