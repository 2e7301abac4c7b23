//! How the loop sleeps: the poll timeout from what is due, and the wait itself as the coalescing policy plans it.

use std::io;
use std::time::{Duration, Instant};

use mio::Events;

use super::{LOG_FLUSH, Server, ServerState};
use crate::access_log::AccessLog;
use crate::coalesce::{Coalesce, LOOK_GAP, Plan, Polled};
use crate::sys::interrupted;

/// What the loop may have to wake up for, besides events.
#[derive(Debug, Clone, Copy, Default)]
struct Due {
    /// Connections or listeners wait for another turn.
    turns_due: bool,
    /// Until the wheel's next slot holding a deadline.
    deadline: Option<Duration>,
    /// Access log lines wait to be written.
    log_pending: bool,
    /// A paused accept's retry time.
    accept_retry: Option<Instant>,
    /// Fewer connections are open than the cap.
    below_cap: bool,
    /// A drain ends then.
    drain_until: Option<Instant>,
}

/// The poll timeout: zero while turns wait; otherwise the soonest of the
/// next deadline's tick, a second while access log lines wait, a paused
/// accept's retry, and the end of a drain; `None` (block until an event)
/// when none of them is due.
fn poll_timeout(due: Due, now: Instant) -> Option<Duration> {
    if due.turns_due {
        return Some(Duration::ZERO);
    }
    let soonest = |t: Option<Duration>, d: Duration| Some(t.map_or(d, |t| t.min(d)));
    let mut timer = due.deadline;
    if due.log_pending {
        timer = soonest(timer, LOG_FLUSH);
    }
    // A paused accept retries at its time. If that time passed while
    // this wakeup's events were handled (after `resume_accepting` last
    // looked), the retry is due now: without this the loop could sleep
    // until some other deadline, leaving clients in the backlog.
    // (At the connection cap the pause ends with a close, an event of
    // its own: no timer then, or the loop would spin.)
    if let Some(until) = due.accept_retry
        && (until > now || due.below_cap)
    {
        timer = soonest(timer, until.saturating_duration_since(now));
    }
    if let Some(until) = due.drain_until {
        timer = soonest(timer, until.saturating_duration_since(now));
    }
    timer
}

impl Server {
    /// Waits for events as the policy says (see [`crate::coalesce`]):
    /// blocks, looks without blocking for a while first, or pauses and then
    /// looks. Returns what the poll did, or `None` if a signal interrupted
    /// it (poll again).
    pub(super) fn wait_for_events(
        &mut self,
        events: &mut Events,
        policy: &mut Coalesce,
    ) -> io::Result<Option<Polled>> {
        let before = Instant::now();
        let plan = policy.plan(self.next_timeout(before));
        // A plain block starts now; after a spin or a probe, the timeout
        // is what is left of it.
        let stayed_awake = !matches!(plan, Plan::Block(_));
        let (timeout, spin) = match plan {
            Plan::Block(timeout) => (timeout, None),
            Plan::LookThenBlock {
                spin,
                first,
                timeout,
            } => {
                // The next event is not expected before `first`: no look
                // until then (each look is a syscall), the core awake.
                awake_until(before + first);
                (timeout, Some(spin))
            }
            Plan::WaitThenLook { wait, timeout } => {
                // A probe that stays awake: the events gather meanwhile,
                // and one look shows whether they queue.
                awake_until(before + wait);
                if let Some(looked) = self.look(events, before) {
                    return looked;
                }
                (timeout, None)
            }
            Plan::PauseThenLook(pause) => {
                std::thread::sleep(pause);
                self.metrics().io.coalesced += 1;
                return match self.poll.poll(events, Some(Duration::ZERO)) {
                    Ok(()) => Ok(Some(Polled::Looked)),
                    Err(e) if interrupted(&e) => Ok(None),
                    Err(e) => Err(e),
                };
            }
        };
        let mut spun = false;
        if let Some(spin) = spin {
            // Look until something comes or the spin is over; each empty
            // look is one epoll_wait that returns at once.
            loop {
                if let Some(looked) = self.look(events, before) {
                    return looked;
                }
                self.metrics().io.spins += 1;
                // The next look after a short gap spent in user space: the
                // core stays awake either way, and each look is a syscall.
                let now = Instant::now();
                let end = before + spin;
                if now >= end {
                    break;
                }
                awake_until((now + LOOK_GAP).min(end));
            }
            spun = true;
        }
        let (asleep, timeout) = match stayed_awake {
            true => {
                let asleep = Instant::now();
                (asleep, timeout.map(|t| t.saturating_sub(asleep - before)))
            }
            false => (before, timeout),
        };
        match self.poll.poll(events, timeout) {
            Ok(()) => Ok(Some(Polled::Blocked {
                slept: asleep.elapsed(),
                spun,
            })),
            Err(e) if interrupted(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One look without blocking, in a wait that began `before`: what the
    /// wait returns when it found events (or failed), `None` when it found
    /// nothing.
    fn look(&mut self, events: &mut Events, before: Instant) -> Option<io::Result<Option<Polled>>> {
        match self.poll.poll(events, Some(Duration::ZERO)) {
            Ok(()) if !events.is_empty() => Some(Ok(Some(Polled::Caught(before.elapsed())))),
            Ok(()) => None,
            Err(e) if interrupted(&e) => Some(Ok(None)),
            Err(e) => Some(Err(e)),
        }
    }

    /// The poll timeout, from what is due (see [`poll_timeout`]).
    fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        let deadline = self.conns.next_timeout(now);
        // QUIC's deadlines are exact: quinn's timers (loss detection, ACK
        // delay, pacing) are a few milliseconds apart, finer than the
        // wheel's ticks.
        #[cfg(feature = "http3")]
        let deadline = match self.http3_deadline() {
            Some(at) => {
                let quic = at.saturating_duration_since(now);
                Some(deadline.map_or(quic, |d| d.min(quic)))
            }
            None => deadline,
        };
        poll_timeout(
            Due {
                turns_due: !self.again.is_empty()
                    || !self.listeners_again.is_empty()
                    || self.http3_again,
                deadline,
                log_pending: (self.shared.ops.access_log.as_ref()).is_some_and(AccessLog::pending),
                accept_retry: self.accept.retry_at(),
                below_cap: self.conns.len() < self.max_conns,
                drain_until: match self.state {
                    ServerState::Serving => None,
                    ServerState::Draining { until } => Some(until),
                },
            },
            now,
        )
    }
}

/// Stays awake until `until`, without a syscall: the core is not given
/// up, so an event that comes meanwhile is not a wake-up.
fn awake_until(until: Instant) {
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_sleeps_until_the_soonest_thing_due_and_no_longer() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let due = Due::default();
        assert_eq!(poll_timeout(due, now), None, "nothing due: block");
        // Turns waiting: poll without blocking, whatever else is due.
        let turns = Due {
            turns_due: true,
            deadline: Some(ms(500)),
            ..due
        };
        assert_eq!(poll_timeout(turns, now), Some(Duration::ZERO));
        let deadline = Due {
            deadline: Some(ms(2500)),
            ..due
        };
        assert_eq!(poll_timeout(deadline, now), Some(ms(2500)));
        // Log lines wait at most a second.
        let log = Due {
            log_pending: true,
            ..deadline
        };
        assert_eq!(poll_timeout(log, now), Some(LOG_FLUSH));
        assert_eq!(
            poll_timeout(
                Due {
                    log_pending: true,
                    ..due
                },
                now
            ),
            Some(LOG_FLUSH)
        );
        // A paused accept: its retry time, or now if that passed, unless
        // the pause is the cap's (a close ends it, with an event).
        let retry = Due {
            accept_retry: Some(now + ms(100)),
            ..deadline
        };
        assert_eq!(poll_timeout(retry, now), Some(ms(100)));
        let passed = Due {
            accept_retry: Some(now),
            below_cap: true,
            ..deadline
        };
        assert_eq!(poll_timeout(passed, now + ms(5)), Some(Duration::ZERO));
        let at_cap = Due {
            accept_retry: Some(now),
            below_cap: false,
            ..due
        };
        assert_eq!(poll_timeout(at_cap, now + ms(5)), None);
        // A drain ends on time, even with nothing else due.
        let drain = Due {
            drain_until: Some(now + ms(300)),
            ..due
        };
        assert_eq!(poll_timeout(drain, now), Some(ms(300)));
        assert_eq!(
            poll_timeout(drain, now + ms(400)),
            Some(Duration::ZERO),
            "a drain past its end wakes at once"
        );
        let both = Due {
            drain_until: Some(now + ms(300)),
            ..deadline
        };
        assert_eq!(poll_timeout(both, now), Some(ms(300)));
    }
}
