//! (tests) HPACK against RFC 7541 Appendix C and against what a client may get wrong.
//!
//! HPACK against RFC 7541's Appendix C, and against what a client may get
//! wrong.

use super::*;
use crate::http2::hex;

fn decode(d: &mut Decoder, block: &str) -> Result<Vec<(String, String)>, HpackError> {
    let mut fields = Vec::new();
    d.decode(&hex(block), 1 << 20, |n, v| {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        fields.push((s(n), s(v)));
    })?;
    Ok(fields)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn table(d: &Decoder) -> Vec<(String, String)> {
    (0..d.table().len())
        .map(|i| {
            let (n, v) = d.table().get(i).unwrap();
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn c1_integers() {
    // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337; C.1.3: 42 at a byte boundary.
    for (value, n, bytes) in [
        (10, 5, vec![0x0a]),
        (1337, 5, vec![0x1f, 0x9a, 0x0a]),
        (42, 8, vec![0x2a]),
    ] {
        let mut out = Vec::new();
        write_int(&mut out, 0, n, value);
        assert_eq!(out, bytes);
        let mut pos = 0;
        assert_eq!(read_int(&bytes, &mut pos, n), Ok(value));
        assert_eq!(pos, bytes.len());
    }
    // Truncated, and absurdly long.
    assert_eq!(
        read_int(&[0x1f, 0x9a], &mut 0, 5),
        Err(HpackError::Truncated)
    );
    let long = [0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(read_int(&long, &mut 0, 5), Err(HpackError::IntegerOverflow));
}

#[test]
fn c2_single_fields() {
    let mut d = Decoder::new(4096);
    // C.2.1: literal with indexing.
    let got = decode(
        &mut d,
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    );
    assert_eq!(got, Ok(pairs(&[("custom-key", "custom-header")])));
    assert_eq!(d.table().size(), 55);
    // C.2.2: literal without indexing.
    let mut d = Decoder::new(4096);
    let got = decode(&mut d, "040c 2f73 616d 706c 652f 7061 7468");
    assert_eq!(got, Ok(pairs(&[(":path", "/sample/path")])));
    assert!(d.table().is_empty());
    // C.2.3: never indexed.
    let got = decode(&mut d, "1008 7061 7373 776f 7264 0673 6563 7265 74");
    assert_eq!(got, Ok(pairs(&[("password", "secret")])));
    assert!(d.table().is_empty());
    // C.2.4: indexed.
    assert_eq!(decode(&mut d, "82"), Ok(pairs(&[(":method", "GET")])));
}

/// C.3 and C.4: the same three requests, without and with Huffman.
fn requests(blocks: [&str; 3]) {
    let mut d = Decoder::new(4096);
    let first = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    assert_eq!(decode(&mut d, blocks[0]), Ok(pairs(&first)));
    assert_eq!(table(&d), pairs(&[(":authority", "www.example.com")]));
    assert_eq!(d.table().size(), 57);
    let mut second = first.to_vec();
    second.push(("cache-control", "no-cache"));
    assert_eq!(decode(&mut d, blocks[1]), Ok(pairs(&second)));
    assert_eq!(d.table().size(), 110);
    let third = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    assert_eq!(decode(&mut d, blocks[2]), Ok(pairs(&third)));
    assert_eq!(
        table(&d),
        pairs(&[
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ])
    );
    assert_eq!(d.table().size(), 164);
}

#[test]
fn c3_requests_without_huffman() {
    requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
}

#[test]
fn c4_requests_with_huffman() {
    requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
}

#[test]
fn c5_responses_evict_the_oldest() {
    // C.5: a 256-byte table; the third response evicts.
    let mut d = Decoder::new(256);
    let first = [
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    let block = "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d";
    assert_eq!(decode(&mut d, block), Ok(pairs(&first)));
    assert_eq!(d.table().size(), 222);
    let mut second = first.to_vec();
    second[0] = (":status", "307");
    assert_eq!(decode(&mut d, "4803 3330 37c1 c0bf"), Ok(pairs(&second)));
    assert_eq!(d.table().size(), 222);
    let third = [
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    let block = "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31";
    assert_eq!(decode(&mut d, block), Ok(pairs(&third)));
    assert_eq!(d.table().size(), 215);
    assert_eq!(d.table().len(), 3);
}

#[test]
fn the_encoder_is_read_back_by_the_decoder() {
    // Twice through the same pair: the second block is mostly indexes.
    let fields: &[(&str, &str, Indexing)] = &[
        (":status", "200", Indexing::Without),
        ("server", "oneloop/0.1.0", Indexing::Incremental),
        (
            "content-type",
            "text/html; charset=utf-8",
            Indexing::Incremental,
        ),
        ("content-length", "1234", Indexing::Without),
        ("etag", "\"5f3e-1a2b\"", Indexing::Without),
        ("x-secret", "hunter2", Indexing::Never),
    ];
    let mut e = Encoder::new(4096);
    let mut d = Decoder::new(4096);
    let mut sizes = Vec::new();
    for _ in 0..2 {
        let mut block = Vec::new();
        e.begin(&mut block);
        for &(n, v, how) in fields {
            e.field(&mut block, n.as_bytes(), v.as_bytes(), how);
        }
        let mut got = Vec::new();
        d.decode(&block, 1 << 20, |n, v| got.push((n.to_vec(), v.to_vec())))
            .unwrap();
        let want: Vec<_> = fields
            .iter()
            .map(|&(n, v, _)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
        sizes.push(block.len());
    }
    // `server` and `content-type` went into the table: one byte each now.
    assert!(sizes[1] + 25 < sizes[0], "the table pays: {sizes:?}");
    // :status 200 is static index 8: one byte.
    let mut one = Vec::new();
    e.field(&mut one, b":status", b"200", Indexing::Without);
    assert_eq!(one, [0x88]);
    // A smaller table is announced at the start of the next block.
    e.set_max(0);
    let mut block = Vec::new();
    e.begin(&mut block);
    assert_eq!(block, [0x20]);
    e.field(&mut block, b":status", b"200", Indexing::Without);
    d.decode(&block, 1 << 20, |_, _| {}).unwrap();
    assert!(d.table().is_empty());
}

#[test]
fn what_a_client_gets_wrong_is_refused() {
    let cases: &[(&str, HpackError)] = &[
        ("80", HpackError::BadIndex),              // index 0
        ("be", HpackError::BadIndex),              // 62: empty dynamic table
        ("ff80 01", HpackError::BadIndex),         // far past both tables
        ("3fe2 1f", HpackError::BadSizeUpdate),    // 4097 > 4096
        ("8220", HpackError::BadSizeUpdate),       // size update after a field
        ("20", HpackError::BadSizeUpdate),         // a size update and no field
        ("400a 6375 7374", HpackError::Truncated), // name cut short
        (
            "4082 ffff 00",
            HpackError::Huffman(HuffmanError::BadPadding),
        ),
        ("0f", HpackError::Truncated), // prefix needs more bytes
    ];
    for &(block, want) in cases {
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, block), Err(want), "{block}");
    }
    // A size update to zero and back is fine at the start of a block.
    let mut d = Decoder::new(4096);
    assert_eq!(
        decode(&mut d, "203f e11f 82"),
        Ok(pairs(&[(":method", "GET")]))
    );
}

#[test]
fn a_bomb_of_indexes_is_bounded() {
    // One 4,000-byte entry, then a block that names it a thousand times:
    // four megabytes from two kilobytes, refused at the list limit.
    let mut e = Encoder::new(4096);
    let mut d = Decoder::new(4096);
    let big = vec![b'a'; 4000];
    let mut block = Vec::new();
    e.field(&mut block, b"x", &big, Indexing::Incremental);
    d.decode(&block, 1 << 20, |_, _| {}).unwrap();
    let bomb = vec![0xbe; 1000];
    let mut seen = 0;
    assert_eq!(
        d.decode(&bomb, 16 << 10, |_, _| seen += 1),
        Err(HpackError::TooLarge)
    );
    assert!(seen <= 4, "{seen} fields before the limit");
}

#[test]
fn arbitrary_blocks_never_panic() {
    let mut rng = crate::fixture::Rng::new(9113);
    for _ in 0..50_000 {
        let len = rng.below(24) as usize;
        let block: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        let mut d = Decoder::new(256);
        let _ = d.decode(&block, 4096, |_, _| {});
        assert!(d.table().size() <= 256);
    }
}

#[test]
fn static_names_are_the_tables() {
    for (i, &(name, _)) in STATIC.iter().enumerate() {
        if let Some(at) = static_name(name.as_bytes()) {
            assert_eq!(STATIC[at - 1].0, name);
            // The first entry with that name.
            assert_eq!(
                STATIC.iter().position(|&(n, _)| n == name),
                Some(at - 1),
                "{name} at {i}"
            );
        }
    }
    assert_eq!(static_name(b"x-unknown"), None);
}
