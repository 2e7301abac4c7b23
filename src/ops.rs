//! The counters and the access log, owned by the loop and lent to every connection.
//!
//! What the server keeps about its own traffic: the counters and the
//! access log, owned by the loop and lent to every connection.
//!
//! HTTP reports each response here as plain facts (a status code, byte
//! counts, the request head's bytes), so neither [`Metrics`] nor
//! [`AccessLog`] knows any HTTP type.

use std::net::IpAddr;

use crate::access_log::{AccessLog, Line};
use crate::metrics::Metrics;

/// The counters and the access log.
#[derive(Debug, Default)]
pub struct Ops {
    /// Everything counted; also served as the metrics page.
    pub metrics: Metrics,
    /// The access log, if one is kept.
    pub access_log: Option<AccessLog>,
}

impl Ops {
    /// Counts a response on connection `client` and logs it, stamped with
    /// Unix second `now`.
    pub fn response(&mut self, client: usize, now: u64, line: &Line<'_>) {
        self.metrics.response(line.status);
        if let Some(log) = self.access_log.as_mut() {
            log.record(client, now, line);
        }
    }

    /// Notes that connection `client` came from `peer` (for the log).
    pub fn connected(&mut self, client: usize, peer: IpAddr) {
        if let Some(log) = self.access_log.as_mut() {
            log.connected(client, peer);
        }
    }
}
