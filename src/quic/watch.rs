//! What QUIC shows of itself: quinn's per-connection counts folded into the metrics' totals, and the round trip sampled.
//!
//! quinn counts, for each connection, the packets it sent and those it
//! declared lost, and keeps the smoothed round-trip estimate (RFC 9002
//! §5.3). The metrics want totals over every connection, past and
//! present, without asking quinn on every packet: so each connection
//! remembers how much of its counts is already in the totals and adds the
//! rest once a second and when it ends. The round trip is a gauge: the
//! mean over the connections open at that second.

use std::time::Duration;

use crate::metrics::H3Counts;

/// How much of one connection's counts the totals hold already.
#[derive(Debug, Default)]
pub(super) struct Folded {
    sent: u64,
    lost: u64,
}

impl Folded {
    /// Adds what `conn` counted since the last fold to `h3`; returns its
    /// smoothed round trip.
    pub(super) fn fold(&mut self, conn: &quinn_proto::Connection, h3: &mut H3Counts) -> Duration {
        let path = conn.stats().path;
        h3.packets_sent += path.sent_packets.saturating_sub(self.sent);
        h3.packets_lost += path.lost_packets.saturating_sub(self.lost);
        self.sent = path.sent_packets;
        self.lost = path.lost_packets;
        path.rtt
    }

    /// Packets sent and lost, as far as folded.
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.sent, self.lost)
    }
}

/// The mean of round trips, for the gauge.
#[derive(Debug, Default)]
pub(super) struct RoundTrips {
    sum: Duration,
    count: u32,
}

impl RoundTrips {
    /// One connection's.
    pub(super) fn add(&mut self, rtt: Duration) {
        self.sum += rtt;
        self.count += 1;
    }

    /// Their mean, in microseconds (0 with none).
    pub(super) fn mean_micros(&self) -> u64 {
        match self.count {
            0 => 0,
            n => (self.sum / n).as_micros() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_no_round_trip_is_zero_and_of_some_their_mean() {
        let mut rtts = RoundTrips::default();
        assert_eq!(rtts.mean_micros(), 0);
        rtts.add(Duration::from_micros(100));
        rtts.add(Duration::from_micros(300));
        assert_eq!(rtts.mean_micros(), 200);
    }
}
