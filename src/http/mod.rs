//! What a request means, whatever frames it (RFC 9110): the room for a change to what is answered.
//!
//! HTTP as a static file server means it (RFC 9110), whatever the
//! protocol frames it: the room a change to *what is answered* belongs in.
//!
//! A request's fields ([`fields`]) go to [`answer`], which decides with
//! [`path`], [`resolve`], [`files`], [`conditional`], [`range`],
//! [`negotiate`], [`mime`] and [`status`] what is sent: status, fields and
//! a body (canned bytes, a cached chunk or a file range). [`site`] is what
//! every session is lent to do so.
//!
//! How the answer is framed lives beside this room: HTTP/1.x in
//! [`crate::http1`], HTTP/2 in [`crate::http2`], each a [`session`] the
//! connection above (`crate::conn`) drives; it chooses the protocol by ALPN
//! or by the first bytes.

pub mod answer;
pub mod conditional;
pub mod entry;
pub mod fields;
pub mod files;
pub mod grammar;
pub mod head;
pub mod listing;
pub mod mime;
pub mod negotiate;
pub mod path;
pub mod range;
pub mod resolve;
pub mod session;
pub mod site;
pub mod status;
pub mod welcome;
