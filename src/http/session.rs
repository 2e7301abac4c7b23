//! What every protocol's session is to the connection above it: the Session trait and its SessionLoan.
//!
//! A connection (`crate::conn`) speaks one protocol at a time, and drives
//! it through the [`Session`] trait: bytes in, answers queued, and a few
//! questions (does it read on, does it owe output the peer's windows hold
//! back). HTTP/1.x's session (`crate::http1::session`) and HTTP/2's
//! (`crate::http2::session`) implement it; neither knows the socket, the
//! poller or the other. For each batch of input the connection lends the
//! session a [`SessionLoan`]: the site, the counters and the access log,
//! which connection it is, whether it is HTTPS. Every response either
//! protocol answers is counted and logged in one place,
//! `SessionLoan::record`.

use crate::access_log::Line;
use crate::http::fields::Fields;
use crate::http::site::Site;
use crate::http::status::Status;
use crate::ops::Ops;
use crate::out::OutQueue;

/// A protocol's exchange on one connection, without the socket: what the
/// connection above asks of HTTP/1.x and HTTP/2 alike.
pub trait Session {
    /// Consumes `input`, queuing what it calls for on `out`; returns how
    /// many bytes were used. The rest is an incomplete head or frame, to be
    /// presented again with more bytes appended.
    fn on_input(&mut self, input: &[u8], loan: &mut SessionLoan<'_>, out: &mut OutQueue) -> usize;

    /// The connection's queue has been sent: more may be queued now (HTTP/2
    /// cuts DATA as the windows allow).
    fn on_writable(&mut self, out: &mut OutQueue);

    /// Whether more input is wanted.
    fn reading(&self) -> bool;

    /// Whether output is owed that the peer holds back (HTTP/2: DATA its
    /// windows do not allow): the connection is then waiting to send.
    fn owes_data(&self) -> bool;

    /// Whether what was written since the queue last ran empty counts as
    /// the peer taking its answers (it moves the send deadline): while
    /// HTTP/2 owes DATA, only DATA counts, not PING ACKs to a peer that
    /// keeps its windows shut.
    fn data_moved(&self) -> bool;

    /// Shutdown: finish what was taken, take nothing new, and say so in
    /// the protocol's words (HTTP/1.x: `Connection: close` on the next
    /// answer; HTTP/2: GOAWAY).
    fn drain(&mut self, out: &mut OutQueue);

    /// Once a second, with nothing in flight: gives back per-request room
    /// and says whether it did.
    fn give_back(&mut self) -> bool;
}

/// What a connection lends its session for one batch of input (cut from
/// the loan the loop made it for the event): the site it serves, where it
/// reports each response, and which connection it is.
pub struct SessionLoan<'a> {
    /// The site.
    pub site: &'a mut Site,
    /// The counters and the access log.
    pub ops: &'a mut Ops,
    /// The connection's slab key (the access log keys peers by it).
    pub client: usize,
    /// Whether the connection is HTTPS.
    pub secure: bool,
}

impl SessionLoan<'_> {
    /// Counts a response and logs it. `head` is the request head (or what
    /// arrived of it, for a malformed one); `end`, where the response ends
    /// in the connection's output.
    pub(crate) fn record(
        &mut self,
        head: &[u8],
        (status, body_bytes): (Status, u64),
        end: u64,
        fields: &Fields<'_>,
    ) {
        let line = Line {
            head,
            status: status.code(),
            body_bytes,
            end,
            referer: fields.referer,
            user_agent: fields.user_agent,
        };
        self.ops.response(self.client, self.site.now(), &line);
    }
}
