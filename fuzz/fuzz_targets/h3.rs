//! HTTP/3 on arbitrary bytes: QPACK's decoder, the frame reader, and a
//! whole HTTP/3 session fed the input as a request stream and as the
//! client's control stream, cut where the first byte says. None may
//! panic; a field section that decodes encodes back to one that decodes
//! to the same fields; and what the session does does not depend on the
//! cut: the same bytes written on each stream, the same resets, stops and
//! connection error. The decoder is held to wtransport-proto's, where the
//! two speak of the same thing (and tests/http3.rs to ls-qpack's on a
//! seeded corpus).
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::date::DateLine;
use oneloop::http::files::Files;
use oneloop::http::head::Head;
use oneloop::http::session::SessionLoan;
use oneloop::http::site::Site;
use oneloop::http3::frame;
use oneloop::http3::qpack;
use oneloop::http3::session::{Gone, H3Session, Streams};
use oneloop::ops::Ops;

/// QUIC's streams, recorded.
#[derive(Default, Debug, PartialEq, Eq)]
struct Record {
    written: BTreeMap<u64, Vec<u8>>,
    finished: Vec<u64>,
    resets: Vec<(u64, u64)>,
    stops: Vec<(u64, u64)>,
    closed: Option<u64>,
}

impl Streams for Record {
    fn write(&mut self, id: u64, data: &mut [Bytes]) -> Result<(), Gone> {
        for piece in data {
            self.written.entry(id).or_default().extend_from_slice(piece);
            *piece = Bytes::new();
        }
        Ok(())
    }
    fn finish(&mut self, id: u64) {
        self.finished.push(id);
    }
    fn reset(&mut self, id: u64, code: u64) {
        self.resets.push((id, code));
    }
    fn stop(&mut self, id: u64, code: u64) {
        self.stops.push((id, code));
    }
    fn close(&mut self, code: u64, _: &'static str) {
        self.closed.get_or_insert(code);
    }
}

/// The same field section through wtransport-proto's decoder: where both
/// can say, they agree. It keeps fields in a map (the last of a name
/// wins), wants UTF-8, reads the prefix without checking it, and overflows
/// on an integer of ten bytes or more: so the sections compared start
/// with a zero prefix (no dynamic table, as here) and have no run of eight
/// bytes with the top bit set. Where it decodes, this decoder must too,
/// unless it refuses an empty name (as ls-qpack does); where this one
/// decodes to UTF-8, it must too, to the same fields. (A section of no
/// field line is refused here, as ls-qpack refuses it; and its Huffman
/// decoder takes padding that is not the start of EOS's code, which RFC
/// 7541 §5.2 makes an error: the Huffman code, shared with HPACK, is held
/// to loona-hpack's by the hpack target. And an integer of more than four
/// continuation bytes is refused here whatever its value, an octet-length
/// limit RFC 7541 §5.1 allows, where it reads on.)
fn held_to_reference(
    input: &[u8],
    ours: Result<(), qpack::QpackError>,
    fields: &[(Vec<u8>, Vec<u8>)],
) {
    if !input.starts_with(&[0, 0]) || input.windows(8).any(|w| w.iter().all(|b| b & 0x80 != 0)) {
        return;
    }
    let theirs = wtransport_proto::qpack::Decoder::decode(input);
    let ours_as_map = || -> HashMap<String, String> {
        fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    };
    match (&theirs, ours) {
        (Ok(map), Ok(())) => {
            if fields
                .iter()
                .all(|(n, v)| std::str::from_utf8(n).is_ok() && std::str::from_utf8(v).is_ok())
            {
                assert_eq!(map, &ours_as_map(), "the same section, other fields");
            }
        }
        (Ok(map), Err(e)) => assert!(
            (e == qpack::QpackError::EmptyName && map.contains_key(""))
                || (e == qpack::QpackError::NoFields && map.is_empty())
                || e == qpack::QpackError::IntegerOverflow
                || matches!(e, qpack::QpackError::Huffman(_)),
            "wtransport-proto decodes {map:?}, this decoder says {e:?}"
        ),
        (Err(e), Ok(())) => assert!(
            fields
                .iter()
                .any(|(n, v)| std::str::from_utf8(n).is_err() || std::str::from_utf8(v).is_err()),
            "this decoder decodes {fields:?}, wtransport-proto says {e:?}"
        ),
        (Err(_), Err(_)) => {}
    }
}

/// A session given `input` on stream `id`, whole (`cut` is `None`) or in
/// two pieces cut at `cut`, the end of the stream with the last.
fn session(id: u64, input: &[u8], cut: Option<usize>) -> Record {
    let mut date = DateLine::default();
    date.update(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
    let files = Files::new(None, 1 << 20, 1 << 20).expect("embedded site");
    let mut site = Site::new(files, date, Limits::default());
    let mut ops = Ops::default();
    let mut streams = Record::default();
    let mut s = H3Session::new(16_384);
    s.start(3, &mut streams);
    let mut loan = SessionLoan {
        site: &mut site,
        ops: &mut ops,
        client: 0,
        secure: true,
    };
    s.on_open(id, &mut streams);
    match cut {
        None => s.on_data(id, input, true, &mut loan, &mut streams),
        Some(cut) => {
            s.on_data(id, &input[..cut], false, &mut loan, &mut streams);
            s.on_data(id, &input[cut..], true, &mut loan, &mut streams);
        }
    }
    streams
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    // The input as a field section: if it decodes, what the encoder makes
    // of its fields decodes to the same fields.
    let mut fields = Vec::new();
    let mut scratch = Vec::new();
    let decoded = qpack::decode(input, 1 << 16, &mut scratch, |n, v| {
        fields.push((n.to_vec(), v.to_vec()))
    });
    held_to_reference(input, decoded.clone(), &fields);
    if decoded.is_ok() {
        let mut again = Vec::new();
        qpack::begin(&mut again);
        for (n, v) in &fields {
            qpack::field(&mut again, n, v);
        }
        let mut back = Vec::new();
        qpack::decode(&again, 1 << 17, &mut scratch, |n, v| {
            back.push((n.to_vec(), v.to_vec()))
        })
        .expect("our own section decodes");
        assert_eq!(fields, back);
        let mut head = Head::default();
        fields.iter().for_each(|(n, v)| head.field(n, v));
        let _ = head.finish();
    }
    // Frame heads one after another.
    let mut at = 0;
    while let Some(h) = frame::read_head(&input[at..]) {
        at += h.size + (h.len.min((input.len() - at - h.size) as u64)) as usize;
    }
    let _ = frame::read_settings(input);
    // A request stream and the control stream, whole and cut (the end
    // of the stream comes with the last bytes, as QUIC delivers it when
    // the FIN rides on the last frame).
    if input.is_empty() {
        return;
    }
    let cut = usize::from(first) % input.len();
    for id in [0, 2] {
        assert_eq!(
            session(id, input, None),
            session(id, input, Some(cut)),
            "stream {id}, cut at {cut}"
        );
    }
});
