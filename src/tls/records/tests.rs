//! (tests) The record layer on RFC 8448's traces and on crafted records, with a key schedule of known secrets.
//!
//! RFC 8448 §3 gives the application traffic secrets, keys and records
//! of one TLS 1.3 connection, so a record sealed here can be compared
//! byte for byte and one of the client's opened. The rest of the tests
//! put a second record layer in the client's place (its keys are the
//! server's, crossed), whose records are crafted as an attacker would:
//! empty, padded past the limit, of no version, alerts of every kind,
//! KeyUpdates split across records, and many of each.

use super::*;
use crate::tls::hook::{self, KnownSecrets as Secrets, expand_label};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// RFC 8448 §3: the application traffic secrets.
const CLIENT_SECRET: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
const SERVER_SECRET: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
/// ... the keys and IVs derived from them ...
const CLIENT_KEY: &str = "17422dda596ed5d9acd890e3c63f5051";
const CLIENT_IV: &str = "5b78923dee08579033e523d9";
/// ... the client's first application record (50 bytes, 00 to 31), its
/// close_notify after it, and the server's answer (its second record:
/// the first was a NewSessionTicket).
const CLIENT_DATA: &str = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
const CLIENT_CLOSE: &str = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";
const SERVER_DATA: &str = "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";

fn keys(secret: &[u8], seq: u64) -> Keys {
    hook::keys(secret, seq).expect("keys")
}

/// The server's record layer and the client's, on RFC 8448's secrets
/// (the server at its second record, as in the trace).
fn pair(limit: u64) -> (Records<Secrets>, Records<Secrets>) {
    let (c, s) = (hex(CLIENT_SECRET), hex(SERVER_SECRET));
    let server = Records::with(
        keys(&s, 1),
        keys(&c, 0),
        Secrets {
            write: s.clone(),
            read: c.clone(),
        },
        limit,
    );
    let client = Records::with(
        keys(&c, 0),
        keys(&s, 1),
        Secrets { write: c, read: s },
        limit,
    );
    (server, client)
}

/// A record of `content` sealed by `from` as an attacker may shape it:
/// `pad` zero bytes after the type.
fn craft(from: &mut Records<Secrets>, content: u8, plain: &[u8], pad: usize) -> Vec<u8> {
    let mut inner = plain.to_vec();
    inner.push(content);
    inner.resize(inner.len() + pad, 0);
    // The inner plaintext is sealed as one "application data" record of
    // that many bytes whose last is already the type: seal_record adds a
    // type of its own, so seal all but the last byte and let it add that.
    let last = inner.pop().expect("a type");
    let mut out = vec![0; inner.len() + OVERHEAD];
    let n = from
        .seal_record(last, inner.len(), &mut out, |m| m.copy_from_slice(&inner))
        .expect("seal");
    out.truncate(n);
    out
}

/// Opens every record of `bytes` at `to`; what each held, or the end.
fn open_all(to: &mut Records<Secrets>, bytes: &[u8]) -> Result<Vec<Vec<u8>>, Fatal> {
    let mut bytes = bytes.to_vec();
    let mut at = 0;
    let mut got = Vec::new();
    while at < bytes.len() {
        let (n, opened) = to.open(&mut bytes[at..])?.expect("a whole record");
        match opened {
            Opened::Data(r) => got.push(bytes[at + r.start..at + r.end].to_vec()),
            Opened::Nothing => {}
            Opened::Closed => got.push(b"<close_notify>".to_vec()),
        }
        at += n;
    }
    Ok(got)
}

fn alert_of(result: Result<Vec<Vec<u8>>, Fatal>) -> Option<u8> {
    result.expect_err("the connection ends").alert
}

#[test]
fn rfc8448_the_clients_records_open_and_ours_seal_as_traced() {
    assert_eq!(
        expand_label(&hex(CLIENT_SECRET), "key", 16),
        hex(CLIENT_KEY)
    );
    assert_eq!(expand_label(&hex(CLIENT_SECRET), "iv", 12), hex(CLIENT_IV));
    let (mut server, _) = pair(u64::MAX);
    let fifty: Vec<u8> = (0..50).collect();
    let mut input = hex(CLIENT_DATA);
    input.extend(hex(CLIENT_CLOSE));
    assert_eq!(
        open_all(&mut server, &input),
        Ok(vec![fifty.clone(), b"<close_notify>".to_vec()])
    );
    let mut out = vec![0; server.room(50)];
    let n = server
        .seal(50, &mut out, |m| m.copy_from_slice(&fifty))
        .expect("seal");
    assert_eq!(out[..n], hex(SERVER_DATA));
}

#[test]
fn a_record_whose_header_or_inner_plaintext_is_out_of_bounds_is_refused() {
    // The inner plaintext may be 2^14 bytes and its type, no padding more.
    let (mut server, mut client) = pair(u64::MAX);
    let full = vec![7u8; MAX_PLAIN];
    let record = craft(&mut client, APPLICATION_DATA, &full, 0);
    assert_eq!(open_all(&mut server, &record), Ok(vec![full.clone()]));
    let record = craft(&mut client, APPLICATION_DATA, &full, 1);
    assert_eq!(
        alert_of(open_all(&mut server, &record)),
        Some(alert::RECORD_OVERFLOW)
    );
    // Padding alone may take a record to its limit only below 2^14 + 1.
    let (mut server, mut client) = pair(u64::MAX);
    let record = craft(&mut client, APPLICATION_DATA, b"x", MAX_PLAIN - 1);
    assert_eq!(open_all(&mut server, &record), Ok(vec![b"x".to_vec()]));
    let record = craft(&mut client, APPLICATION_DATA, b"x", MAX_PLAIN);
    assert_eq!(
        alert_of(open_all(&mut server, &record)),
        Some(alert::RECORD_OVERFLOW)
    );
    // A legacy version that is no TLS version, before opening; one that
    // is (TLS 1.0's) is ignored, as §5.1 says.
    for (version, alert) in [
        ([0, 0], Some(alert::DECODE_ERROR)),
        ([0x12, 0x34], Some(alert::DECODE_ERROR)),
        ([3, 1], None),
        // Versions rustls knows by name, SSL 2's and DTLS 1.2's.
        ([0, 2], None),
        ([0xfe, 0xfd], None),
    ] {
        let (mut server, mut client) = pair(u64::MAX);
        let mut record = craft(&mut client, APPLICATION_DATA, b"hi", 0);
        record[1..3].copy_from_slice(&version);
        match alert {
            Some(a) => assert_eq!(alert_of(open_all(&mut server, &record)), Some(a)),
            None => assert_eq!(open_all(&mut server, &record), Ok(vec![b"hi".to_vec()])),
        }
    }
    // No type at all (zeros only), a protected change_cipher_spec, a
    // type unknown, a record too long, an outer type unknown.
    for (content, plain, alert) in [
        (0, &b""[..], alert::UNEXPECTED_MESSAGE),
        (CHANGE_CIPHER_SPEC, &[1][..], alert::UNEXPECTED_MESSAGE),
        (99, &b"x"[..], alert::DECODE_ERROR),
    ] {
        let (mut server, mut client) = pair(u64::MAX);
        let record = craft(&mut client, content, plain, 0);
        assert_eq!(alert_of(open_all(&mut server, &record)), Some(alert));
    }
    let (mut server, _) = pair(u64::MAX);
    let mut long = vec![23, 3, 3, 0x41, 1];
    long.resize(5 + 0x4101, 0);
    assert_eq!(
        alert_of(open_all(&mut server, &long)),
        Some(alert::RECORD_OVERFLOW)
    );
    let mut unknown = long.clone();
    unknown[0] = 19;
    assert_eq!(
        alert_of(open_all(&mut server, &unknown)),
        Some(alert::DECODE_ERROR)
    );
}

#[test]
fn records_that_carry_nothing_are_counted_as_rustls_counts_them() {
    // 32 empty records in a row, then data, then 32 more: all fine.
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = Vec::new();
    for i in 0..65 {
        let plain: &[u8] = if i == 32 { b"d" } else { b"" };
        input.extend(craft(&mut client, APPLICATION_DATA, plain, 0));
    }
    assert_eq!(open_all(&mut server, &input), Ok(vec![b"d".to_vec()]));
    // The 33rd in a row ends the connection (without an alert, as rustls).
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = Vec::new();
    for _ in 0..33 {
        input.extend(craft(&mut client, APPLICATION_DATA, b"", 0));
    }
    assert_eq!(alert_of(open_all(&mut server, &input)), None);

    // Four warnings (user_canceled), and the fifth ends it.
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = Vec::new();
    for _ in 0..4 {
        input.extend(craft(
            &mut client,
            ALERT,
            &[WARNING, alert::USER_CANCELED],
            0,
        ));
        input.extend(craft(&mut client, APPLICATION_DATA, b"d", 0));
    }
    assert_eq!(open_all(&mut server, &input).map(|v| v.len()), Ok(4));
    let fifth = craft(&mut client, ALERT, &[WARNING, alert::USER_CANCELED], 0);
    assert_eq!(alert_of(open_all(&mut server, &fifth)), None);

    // 32 KeyUpdates without data between are fine; data resets the count;
    // the 33rd in a row ends the connection.
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = Vec::new();
    for round in 0..2 {
        for _ in 0..32 {
            input.extend(craft(&mut client, HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0], 0));
            client.tx = client.schedule.next_write().expect("key");
        }
        input.extend(craft(&mut client, APPLICATION_DATA, &[round], 0));
    }
    assert_eq!(open_all(&mut server, &input), Ok(vec![vec![0], vec![1]]));
    let mut input = Vec::new();
    for _ in 0..33 {
        input.extend(craft(&mut client, HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0], 0));
        client.tx = client.schedule.next_write().expect("key");
    }
    assert_eq!(alert_of(open_all(&mut server, &input)), None);
}

#[test]
fn alerts_end_the_input_or_the_connection_with_rustlss_answers() {
    for (plain, want) in [
        // close_notify at either level ends the input.
        (
            &[WARNING, alert::CLOSE_NOTIFY][..],
            Ok(vec![b"<close_notify>".to_vec()]),
        ),
        (
            &[FATAL, alert::CLOSE_NOTIFY][..],
            Ok(vec![b"<close_notify>".to_vec()]),
        ),
        (&[WARNING, alert::USER_CANCELED][..], Ok(vec![])),
        // TLS 1.3 has no other warnings.
        (
            &[WARNING, alert::BAD_RECORD_MAC][..],
            Err(Some(alert::DECODE_ERROR)),
        ),
        (
            &[3, alert::USER_CANCELED][..],
            Err(Some(alert::ILLEGAL_PARAMETER)),
        ),
        (&[FATAL, alert::INTERNAL_ERROR][..], Err(None)),
        (&[FATAL, alert::USER_CANCELED][..], Err(None)),
        (&[WARNING][..], Err(Some(alert::DECODE_ERROR))),
        (&[WARNING, 0, 0][..], Err(Some(alert::DECODE_ERROR))),
    ] {
        let (mut server, mut client) = pair(u64::MAX);
        let record = craft(&mut client, ALERT, plain, 0);
        let got = open_all(&mut server, &record).map_err(|f| f.alert);
        assert_eq!(got, want, "alert {plain:?}");
    }
}

#[test]
fn a_key_update_may_span_records_and_a_wrong_one_is_refused() {
    // Split after every byte: the read key changes once it is whole.
    for cut in 1..5 {
        let (mut server, mut client) = pair(u64::MAX);
        let message = [KEY_UPDATE, 0, 0, 1, 0];
        let mut input = craft(&mut client, HANDSHAKE, &message[..cut], 0);
        input.extend(craft(&mut client, HANDSHAKE, &message[cut..], 0));
        client.tx = client.schedule.next_write().expect("key");
        input.extend(craft(&mut client, APPLICATION_DATA, b"after", 0));
        assert_eq!(
            open_all(&mut server, &input),
            Ok(vec![b"after".to_vec()]),
            "cut {cut}"
        );
    }
    for (records, want) in [
        // Wrong length, asking neither, another message, two in a record.
        (vec![vec![KEY_UPDATE, 0, 0, 2, 0, 0]], alert::DECODE_ERROR),
        (vec![vec![KEY_UPDATE, 0, 0, 0]], alert::DECODE_ERROR),
        (vec![vec![KEY_UPDATE, 0, 0, 1, 2]], alert::ILLEGAL_PARAMETER),
        (vec![vec![4, 0, 0, 1, 0]], alert::UNEXPECTED_MESSAGE),
        (
            vec![vec![KEY_UPDATE, 0, 0, 1, 0, KEY_UPDATE]],
            alert::UNEXPECTED_MESSAGE,
        ),
        (vec![vec![KEY_UPDATE, 1, 0, 0]], alert::DECODE_ERROR),
    ] {
        let (mut server, mut client) = pair(u64::MAX);
        let mut input = Vec::new();
        for r in &records {
            input.extend(craft(&mut client, HANDSHAKE, r, 0));
        }
        assert_eq!(
            alert_of(open_all(&mut server, &input)),
            Some(want),
            "{records:?}"
        );
    }
    // Anything between the parts of a message ends the connection.
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = craft(&mut client, HANDSHAKE, &[KEY_UPDATE, 0], 0);
    input.extend(craft(&mut client, APPLICATION_DATA, b"x", 0));
    assert_eq!(alert_of(open_all(&mut server, &input)), None);
}

#[test]
fn a_key_update_asked_for_comes_before_our_next_record_under_the_new_key() {
    let (mut server, mut client) = pair(u64::MAX);
    let mut input = craft(&mut client, HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 1], 0);
    client.tx = client.schedule.next_write().expect("key");
    input.extend(craft(&mut client, APPLICATION_DATA, b"asked", 0));
    assert_eq!(open_all(&mut server, &input), Ok(vec![b"asked".to_vec()]));
    let mut out = vec![0; server.room(6)];
    let n = server
        .seal(6, &mut out, |m| m.copy_from_slice(b"answer"))
        .expect("seal");
    assert_eq!(server.write_seq(), 1, "the answer is the new key's first");
    assert_eq!(n, KEY_UPDATE_RECORD + 6 + OVERHEAD);
    // The client opens our KeyUpdate (under the old key), moves its read
    // key on, and opens the answer.
    assert_eq!(
        open_all(&mut client, &out[..n]),
        Ok(vec![b"answer".to_vec()])
    );
}

#[test]
fn the_write_key_changes_before_its_confidentiality_limit() {
    // A limit of 4 records: the key changes before the 4th, and again
    // three records later; the client follows every change.
    let (mut server, mut client) = pair(4);
    server.tx.seq = 0;
    client.rx.seq = 0;
    let mut sealed = Vec::new();
    let mut seqs = Vec::new();
    for i in 0..10u8 {
        let mut out = vec![0; server.room(1)];
        let n = server.seal(1, &mut out, |m| m[0] = i).expect("seal");
        seqs.push(server.write_seq());
        sealed.extend_from_slice(&out[..n]);
    }
    assert_eq!(seqs, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
    let got = open_all(&mut client, &sealed).expect("the client opens them all");
    assert_eq!(got, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
}
