//! Coalescing wakeups: the loop's own interrupt moderation, off unless
//! asked for (`--coalesce-us`).
//!
//! A loop that blocks in `epoll_wait` whenever it runs out of work has to
//! be woken for the next event, and the wake-up is paid by whoever made the
//! socket ready: the core that ran the sender's TCP stack (on one host, the
//! client's; on a network, the one taking the NIC's interrupt) runs the
//! scheduler's try-to-wake-up and interrupts the sleeping core. Under wrk
//! over HTTPS at 100 connections, the load generator's core spent 8.5% of
//! its time in that wake-up path against oneloop.
//!
//! So, as network cards moderate their interrupts, the loop can sleep a
//! short pause on its own timer before it polls again (nobody has to wake
//! it, and events arriving meanwhile only join the ready list), then poll
//! without blocking and take all that arrived in one batch. It does so only
//! after a poll that would have slept brought at least [`BUSY`] events; the
//! look after a pause never counts, since what it brings is what the pause
//! let pile up, so the loop alternates, and decides again after every
//! blocking poll.
//!
//! Why it is off by default: a pause is latency added to every request that
//! arrives during it, and it pays only when the clients' side is saturated
//! and has requests to spare. Measured on one core each for server and wrk
//! (README, "Coalescing"), it bought 3 to 10% more requests a second at 100
//! HTTPS keep-alive clients, for a median latency up to half again as long
//! and a 99th percentile that went from 1 ms to between 2 and 10 ms in some
//! runs; at 16 clients, whose requests never queue, every variant tried
//! (pauses of 10 to 40 µs, after 2, 8 or 16 events) lost 5 to 40% of the
//! throughput. A server with many busy clients whose own core is not full
//! may still want it: `--coalesce-us 20`, say, and compare.

use std::time::Duration;

/// Events in one wakeup that mean the loop is busy.
pub const BUSY: usize = 8;

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

    /// A poll returned this many events; `looked`: it was the look after
    /// a pause.
    pub fn woke(&mut self, events: usize, looked: bool) {
        // What a look brings is what the pause let pile up: it says how
        // long the pause was, not how busy the clients are. Only a poll
        // that would have slept says that, so after a look the loop polls
        // that way once more and decides again.
        self.busy = !looked && events >= BUSY;
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
    fn a_few_events_at_a_time_keep_blocking() {
        let mut c = Coalesce::new(PAUSE);
        for events in 1..BUSY {
            c.woke(events, false);
            assert_eq!(c.next_wait(None), Wait::Block(None), "{events} events");
        }
    }

    #[test]
    fn a_busy_blocking_poll_pauses_once_then_blocks_to_decide_again() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(BUSY, false);
        assert_eq!(c.next_wait(None), Wait::PauseThenLook(PAUSE));
        // The look brings many: that was the pause's doing, not the load's.
        c.woke(40, true);
        assert_eq!(c.next_wait(None), Wait::Block(None));
        // Still busy without a pause: pause again.
        c.woke(BUSY + 3, false);
        assert_eq!(c.next_wait(None), Wait::PauseThenLook(PAUSE));
        c.woke(2, true);
        c.woke(3, false);
        assert_eq!(c.next_wait(None), Wait::Block(None));
    }

    #[test]
    fn a_pause_stops_at_the_deadline() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(BUSY, false);
        let soon = Duration::from_micros(10);
        assert_eq!(c.next_wait(Some(soon)), Wait::PauseThenLook(soon));
        let later = Some(Duration::from_millis(3));
        assert_eq!(c.next_wait(later), Wait::PauseThenLook(PAUSE));
    }

    #[test]
    fn turns_waiting_for_another_go_never_pause() {
        let mut c = Coalesce::new(PAUSE);
        c.woke(BUSY, false);
        let now = Some(Duration::ZERO);
        assert_eq!(c.next_wait(now), Wait::Block(now));
    }

    #[test]
    fn a_zero_pause_turns_it_off() {
        let mut c = Coalesce::new(Duration::ZERO);
        c.woke(100, false);
        assert_eq!(c.next_wait(None), Wait::Block(None));
    }
}
