//! Coalescing wakeups under load: the loop's own interrupt moderation.
//!
//! A loop that blocks in `epoll_wait` whenever it runs out of work has to
//! be woken for the next event, and the wake-up is paid by whoever made the
//! socket ready: the core that ran the sender's TCP stack (on one host, the
//! client's; on a network, the one taking the NIC's interrupt) runs the
//! scheduler's try-to-wake-up and interrupts the sleeping core. A server
//! fast enough to sleep between short bursts makes its clients pay that
//! every few requests. Under wrk over HTTPS, the load generator's core spent
//! 8.5% of its time in that wake-up path against oneloop and 2.4% against a
//! server slower per request, which is never asleep; that was the whole gap
//! in requests per second between them.
//!
//! So, as network cards moderate their interrupts: when a wakeup brings at
//! least [`BUSY`] events, the loop takes it as a sign that more are on the
//! way. Before its next poll it sleeps a short pause on its own timer
//! (nobody has to wake it, and events arriving meanwhile only join the
//! ready list), then polls without blocking and takes all that arrived in
//! one batch. A poll that brings fewer goes back to blocking, so an idle or
//! lightly loaded server still answers each request the moment it arrives.
//! The pause bounds the latency it adds (40 µs by default, `--coalesce-us`;
//! 0 turns it off).

use std::time::Duration;

/// Events in one wakeup that mean the loop is busy.
pub const BUSY: usize = 2;

/// Whether the next poll blocks, or pauses first and then only looks.
#[derive(Debug, Clone, Copy)]
pub struct Coalesce {
    pause: Duration,
    busy: bool,
}

/// How the next poll waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until an event, or for the timeout (`None`: no deadline).
    Block(Option<Duration>),
    /// Sleep this long first, then poll without blocking.
    PauseThenLook(Duration),
}

impl Coalesce {
    /// Coalescing with this pause; a zero pause turns it off.
    pub fn new(pause: Duration) -> Coalesce {
        Coalesce { pause, busy: false }
    }

    /// How the next poll waits, given the loop's own timeout (its next
    /// deadline; zero when connections wait for another turn). A pause
    /// never runs past the timeout.
    pub fn next_wait(&self, timeout: Option<Duration>) -> Wait {
        if !self.busy || self.pause.is_zero() || timeout == Some(Duration::ZERO) {
            return Wait::Block(timeout);
        }
        Wait::PauseThenLook(timeout.map_or(self.pause, |t| t.min(self.pause)))
    }

    /// A poll returned this many events.
    pub fn woke(&mut self, events: usize) {
        self.busy = events >= BUSY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_micros(40);

    #[test]
    fn an_idle_loop_blocks() {
        let c = Coalesce::new(PAUSE);
        assert_eq!(c.next_wait(None), Wait::Block(None));
        let second = Some(Duration::from_secs(1));
        assert_eq!(c.next_wait(second), Wait::Block(second));
    }

    #[test]
    fn one_event_at_a_time_keeps_blocking() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(1);
        assert_eq!(c.next_wait(None), Wait::Block(None));
    }

    #[test]
    fn a_busy_wakeup_pauses_then_looks_until_a_quiet_one() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(BUSY);
        assert_eq!(c.next_wait(None), Wait::PauseThenLook(PAUSE));
        c.woke(7);
        assert_eq!(c.next_wait(None), Wait::PauseThenLook(PAUSE));
        c.woke(0);
        assert_eq!(c.next_wait(None), Wait::Block(None));
    }

    #[test]
    fn a_pause_stops_at_the_deadline() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(5);
        let soon = Duration::from_micros(10);
        assert_eq!(c.next_wait(Some(soon)), Wait::PauseThenLook(soon));
        let later = Some(Duration::from_millis(3));
        assert_eq!(c.next_wait(later), Wait::PauseThenLook(PAUSE));
    }

    #[test]
    fn turns_waiting_for_another_go_never_pause() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(5);
        let now = Some(Duration::ZERO);
        assert_eq!(c.next_wait(now), Wait::Block(now));
    }

    #[test]
    fn a_zero_pause_turns_it_off() {
        let mut c = Coalesce::new(Duration::ZERO);
        c.woke(100);
        assert_eq!(c.next_wait(None), Wait::Block(None));
    }
}
