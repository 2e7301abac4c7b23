//! (tests) QPACK with the static table: RFC 9204's example, every representation, and what a client may get wrong.

use super::*;

fn decoded(block: &[u8]) -> Result<Vec<(String, String)>, QpackError> {
    let mut fields = Vec::new();
    let mut scratch = Vec::new();
    decode(block, 16_384, &mut scratch, |n, v| {
        fields.push((
            String::from_utf8_lossy(n).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ))
    })?;
    Ok(fields)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// RFC 9204 B.1: a literal with a static name reference, no dynamic table.
#[test]
fn b1_a_literal_with_a_static_name_reference() {
    let block = [
        0x00, 0x00, 0x51, 0x0b, 0x2f, 0x69, 0x6e, 0x64, 0x65, 0x78, 0x2e, 0x68, 0x74, 0x6d, 0x6c,
    ];
    assert_eq!(decoded(&block), Ok(pairs(&[(":path", "/index.html")])));
}

#[test]
fn the_static_table_is_appendix_a() {
    // Spot checks at the seams of Appendix A, and its size.
    assert_eq!(STATIC.len(), 99);
    assert_eq!(STATIC[0], (":authority", ""));
    assert_eq!(STATIC[17], (":method", "GET"));
    assert_eq!(STATIC[25], (":status", "200"));
    assert_eq!(STATIC[52], ("content-type", "text/html; charset=utf-8"));
    assert_eq!(STATIC[63], (":status", "100"));
    assert_eq!(STATIC[92], ("server", ""));
    assert_eq!(STATIC[98], ("x-frame-options", "sameorigin"));
}

/// A request as browsers send it: indexed fields, name references,
/// literal names, Huffman-coded strings.
#[test]
fn every_representation_a_request_uses_decodes() {
    let mut block = Vec::new();
    begin(&mut block);
    // :method GET, :scheme https (indexed).
    write_int(&mut block, 0xc0, 6, 17);
    write_int(&mut block, 0xc0, 6, 23);
    // :authority by name, Huffman-coded value.
    write_int(&mut block, 0x50, 4, 0);
    let host = b"example.org";
    write_int(&mut block, 0x80, 7, field_coding::encoded_len(host));
    field_coding::encode(host, &mut block);
    // :path by name, raw value; the N bit (never index) set.
    write_int(&mut block, 0x70, 4, 1);
    write_int(&mut block, 0x00, 7, 6);
    block.extend_from_slice(b"/a.txt");
    // A literal name, Huffman-coded, and a raw value.
    let name = b"x-custom";
    write_int(&mut block, 0x28, 3, field_coding::encoded_len(name));
    field_coding::encode(name, &mut block);
    write_int(&mut block, 0x00, 7, 2);
    block.extend_from_slice(b"ok");
    assert_eq!(
        decoded(&block),
        Ok(pairs(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "example.org"),
            (":path", "/a.txt"),
            ("x-custom", "ok"),
        ]))
    );
}

#[test]
fn what_the_encoder_writes_decodes_to_what_it_was_given() {
    let list = [
        ("content-type", "text/plain"),
        ("content-length", "12"),
        ("server", "oneloop"),
        ("allow", "GET, HEAD, OPTIONS"),
        ("accept-ranges", "bytes"),
        ("etag", "\"5f-12\""),
    ];
    for code in [200, 206, 304, 404, 416, 431, 503, 505] {
        let mut block = Vec::new();
        begin(&mut block);
        status(&mut block, code);
        for &(n, v) in &list {
            field(&mut block, n.as_bytes(), v.as_bytes());
        }
        let mut want = pairs(&[(":status", &code.to_string())]);
        want.extend(pairs(&list));
        assert_eq!(decoded(&block), Ok(want), "{code}");
    }
    // Whole fields the table has are one byte each.
    let mut block = Vec::new();
    field(&mut block, b"accept-ranges", b"bytes");
    status(&mut block, 200);
    assert_eq!(block, [0xc0 | 32, 0xc0 | 25]);
}

#[test]
fn the_dynamic_table_is_refused_wherever_it_is_named() {
    let cases: [&[u8]; 6] = [
        // Required Insert Count 1.
        &[0x02, 0x00, 0xd1],
        // Indexed, dynamic (T = 0).
        &[0x00, 0x00, 0x80],
        // Name reference, dynamic (T = 0).
        &[0x00, 0x00, 0x40, 0x01, b'x'],
        // Indexed post-base.
        &[0x00, 0x00, 0x10],
        // Literal with post-base name reference.
        &[0x00, 0x00, 0x00, 0x01, b'x'],
        // Delta Base with its sign: fine alone, then a post-base index.
        &[0x00, 0x81, 0x10],
    ];
    for block in cases {
        assert_eq!(
            decoded(block),
            Err(QpackError::DynamicReference),
            "{block:02x?}"
        );
    }
}

#[test]
fn what_is_cut_short_or_out_of_range_is_an_error_never_a_panic() {
    let mut block = Vec::new();
    begin(&mut block);
    status(&mut block, 200);
    field(&mut block, b"x-long-name", b"a value of some length");
    field(&mut block, b"content-type", b"text/x-something");
    assert!(decoded(&block).is_ok());
    // Every cut inside a representation says so; a cut between
    // representations is a shorter, valid section (or, right after the
    // prefix, one without a field line, which ls-qpack refuses too).
    assert_eq!(decoded(&block[..2]), Err(QpackError::NoFields));
    for cut in 0..block.len() {
        match decoded(&block[..cut]) {
            Ok(_) | Err(QpackError::Truncated | QpackError::NoFields) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert_eq!(decoded(&[0x00]), Err(QpackError::Truncated));
    assert_eq!(
        decoded(&[0x00, 0x00, 0xc0 | 0x3f, 0x24]),
        Err(QpackError::BadIndex)
    );
    assert_eq!(
        decoded(&[0x00, 0x00, 0x5f, 0x54, 0x00]),
        Err(QpackError::BadIndex)
    );
    let overflow = [0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(decoded(&overflow), Err(QpackError::IntegerOverflow));
    // A Huffman string padded with zeros.
    assert_eq!(
        decoded(&[0x00, 0x00, 0x51, 0x81, 0x00]),
        Err(QpackError::Huffman(HuffmanError::BadPadding))
    );
}

#[test]
fn the_decoded_size_is_bounded_by_names_values_and_32_each() {
    let mut block = Vec::new();
    begin(&mut block);
    // One byte on the wire, 42 decoded (":status" "200" + 32): a bomb of
    // indexes is stopped by what they decode to, not by what they cost.
    for _ in 0..100 {
        status(&mut block, 200);
    }
    let mut scratch = Vec::new();
    let mut n = 0;
    assert_eq!(
        decode(&block, 42 * 10, &mut scratch, |_, _| n += 1),
        Err(QpackError::TooLarge)
    );
    assert_eq!(n, 10, "the fields within the bound, and no more");
    assert_eq!(decode(&block, 42 * 100, &mut scratch, |_, _| {}), Ok(()));
}

/// The shortcut from a response's field names into the table finds what a
/// scan of the whole table finds.
#[test]
fn the_named_ranges_hold_every_entry_of_their_name() {
    for (i, (name, _)) in STATIC.iter().enumerate() {
        let range = named(name.as_bytes());
        let whole = range == (0..STATIC.len());
        assert!(
            whole || range.contains(&i),
            "{name} at {i} outside {range:?}"
        );
    }
    for name in ["content-range", "allow"] {
        assert!(
            STATIC.iter().all(|(n, _)| *n != name),
            "{name} is in the table"
        );
    }
}
