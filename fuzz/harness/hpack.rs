//! The HPACK decoder beside loona-hpack's: the same blocks, one connection's in a row, compared.
//!
//! Blocks are cut from arbitrary bytes (a length byte, then that many
//! bytes) and decoded in order, so the dynamic table carries over, by the
//! server's decoder and by loona-hpack (the maintained fork of hpack-rs).
//! Whatever the server accepts, loona-hpack accepts too, with the same
//! fields in the same order; and the server's table stays within its
//! limit. The server is stricter where RFC 7541 lets it be and loona-hpack
//! is lenient (Huffman padding longer than 7 bits or not all ones, and
//! the EOS symbol, §5.2; a table size update after a field, §4.2), so a
//! block it refuses may be one loona-hpack takes: the connection would
//! end there, and the comparison with it.
//!
//! Used by the `hpack` fuzz target and by `tests/http2.rs`.

use oneloop::http2::hpack::Decoder;

pub fn compare(data: &[u8]) -> Result<(), String> {
    let mut ours = Decoder::new(4096);
    let mut theirs = loona_hpack::Decoder::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let mut fields = Vec::new();
        let decoded = ours.decode(block, 1 << 20, |n, v| fields.push((n.to_vec(), v.to_vec())));
        if ours.table().size() > 4096 {
            return Err(format!("the table grew to {}", ours.table().size()));
        }
        if decoded.is_err() {
            return Ok(());
        }
        let Ok(reference) = theirs.decode(block) else {
            return Err(format!(
                "the server accepts {block:?} (as {fields:?}); loona-hpack refuses it"
            ));
        };
        if fields != reference {
            return Err(format!(
                "{block:?}: the server reads {fields:?}, loona-hpack {reference:?}"
            ));
        }
    }
    Ok(())
}
