//! How the loop waits: block, look a little first, or pause then look (pure).
//!
//! How the loop waits once a wakeup's events are handled: block in
//! `epoll_wait`, look a little first (light load), or pause and then look
//! (heavy load, when asked for).
//!
//! **Looking before blocking.** A loop that blocks whenever it runs out of
//! work has to be woken for the next event: the kernel takes its thread
//! off the core, the core goes idle, and whoever makes the socket ready
//! (on one host, the client's core) runs the scheduler's try-to-wake-up
//! and interrupts it. On a virtual machine an idle core halts, and waking
//! a halted virtual CPU is an exit to the hypervisor and back: on the
//! machines this was measured on, a round trip over loopback to a server
//! that slept between requests took 95 to 100 µs, and 30 µs to one that
//! was still awake. With a handful of busy clients, each waiting for its
//! answer before it asks again, that wake-up is most of the time between
//! requests. So after a wakeup with a few events (fewer than [`BUSY`]),
//! the loop polls without blocking for a short while first (the spin, 50
//! µs at most, `--spin-us`) and blocks only if nothing came. Keep-alive at
//! 4 clients went from 44,000 to 149,000 requests a second, median latency
//! from 71 to 23 µs (docs/bench/2026-11-30-waiting.md). A spin looks
//! every [`LOOK_GAP`] (2 µs), not back to back: each look is a syscall,
//! and the gap cut the empty ones by half to five sixths at no cost a run
//! could tell from noise. With one client (counted between probes) the
//! first look waits for the median of when its requests came lately: a
//! lone client asks again a round trip after its answer, and the looks
//! before then were half of its syscalls (10 a request at one keep-alive
//! client, 3.7 now; nginx makes 4).
//!
//! The spin costs CPU, so it is kept only while it pays, the way Linux's
//! haltpoll governor sizes its own: a spin that found nothing, followed by
//! a sleep no longer than the longest spin, would have caught the event
//! had it been longer, so the spin doubles; one followed by a longer sleep
//! was time thrown away, so it halves, down to nothing. An idle server
//! never spins (a wakeup with no events is not followed by one), and
//! traffic that comes in ones and twos with gaps longer than the spin
//! shrinks it to nothing within a few requests. A busy wakeup (eight
//! events or more) is not followed by a spin either: the next events are
//! already queued, and a spin would only burn the core's idle time. But a
//! spin catches events one at a time as they arrive, so under a heavy load
//! it hides the queue it would otherwise see; every 64 spins the loop
//! waits a spin's length once without looking (a probe), then looks, and
//! if eight events or more were waiting, it rests from spinning for 64
//! waits, twice as long after each such probe (4,096 at most). The probe
//! stays awake: one that blocked instead was a wake-up in every 65 waits,
//! and at four keep-alive clients that was the 99th percentile (0.4 to
//! 0.7 ms, against 0.1 with the probe awake). At 100 keep-alive clients that halved the empty
//! polls; requests a second and median latency stayed where the spin had
//! put them.
//!
//! **Pausing under heavy load** (off unless `--coalesce-us` is given). As
//! network cards moderate their interrupts, the loop can instead sleep a
//! short pause on its own timer after a busy wakeup (nobody has to wake
//! it, and events arriving meanwhile only join the ready list), then poll
//! without blocking and take all that arrived in one batch. The look after
//! a pause never counts as busy, since what it brings is what the pause let
//! pile up, so the loop alternates and decides again after every blocking
//! poll. It is off by default because a pause is latency added to every
//! request that arrives during it: measured side by side, it bought 3 to
//! 10% more requests a second at 100 HTTPS keep-alive clients (whose own
//! core was full), for a median latency up to half again as long and a
//! 99th percentile of 2 to 10 ms in some runs, and at 16 clients every
//! variant tried (pauses of 10 to 40 µs, after 2, 8 or 16 events) lost 5
//! to 40% of the throughput.

use std::time::Duration;

/// Events in one wakeup that mean the loop is busy.
pub const BUSY: usize = 8;

/// How long a spin waits, awake, between two looks that found nothing:
/// each look is an `epoll_wait`, and looking back to back cost five or six
/// syscalls a request at four keep-alive clients and 45 per RFC 868
/// connection at fifty; with a gap they are three and eight, the requests
/// caught as soon within the noise (docs/bench/2026-12-07-waiting.md).
pub const LOOK_GAP: Duration = Duration::from_micros(2);

/// How far one wait moves a lone client's first look (see
/// [`Coalesce::woke`]).
const DUE_STEP: Duration = Duration::from_nanos(250);

/// The spin a shrunk-to-nothing budget starts again from.
const SPIN_START: Duration = Duration::from_micros(10);

/// After this many waits that spun, one blocks instead, to see whether
/// requests queue (see [`Coalesce::woke`]).
const PROBE_EVERY: u32 = 64;

/// The most waits a queueing load is left without spins, between probes.
const REST_MAX: u32 = 4096;

/// More clients than this, active between two probes, and the spin rests
/// (see [`Coalesce::saw`]).
pub const MANY: u32 = 32;

/// The loop's waiting policy: the pause and the spin it may use, and what
/// the last poll said.
#[derive(Debug, Clone, Copy)]
pub struct Coalesce {
    /// The pause after a busy wakeup; zero: never pause.
    pause: Duration,
    /// The longest spin; zero: never spin.
    spin_max: Duration,
    /// The spin now, between zero and `spin_max`.
    spin: Duration,
    /// Events the last poll brought.
    events: usize,
    /// The last poll was the look after a pause.
    looked: bool,
    /// Waits that spun since the last probe.
    spun: u32,
    /// Waits left without spins, because the last probe found requests
    /// queueing; and how long the next rest is.
    rest: (u32, u32),
    /// The wait now is a probe.
    probing: bool,
    /// Which connections had events since the last probe, one bit per
    /// slab key modulo 256 (collisions only undercount).
    active: [u64; 4],
    /// With one client, when its first look comes in a wait: the median
    /// of when its requests came lately (see [`Coalesce::woke`]).
    due: Duration,
    /// The first look of the wait now, if it is one client's.
    looking_at: Option<Duration>,
    /// Connections active between the last two probes.
    clients: u32,
}

/// How the next poll waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Block until an event, or for the timeout (`None`: no deadline).
    Block(Option<Duration>),
    /// Poll without blocking for up to `spin`, first after `first` and
    /// then every [`LOOK_GAP`]; if nothing came, block for what is left of
    /// `timeout`.
    LookThenBlock {
        spin: Duration,
        first: Duration,
        timeout: Option<Duration>,
    },
    /// Sleep this long first, then poll without blocking.
    PauseThenLook(Duration),
    /// Stay awake this long without polling, then look once; if nothing
    /// came, block for the timeout (a probe: see [`Coalesce::woke`]).
    WaitThenLook {
        wait: Duration,
        timeout: Option<Duration>,
    },
}

/// What the last poll did, for the policy to learn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// It blocked (after a spin that found nothing, if `spun`) and
    /// returned after `slept`.
    Blocked { slept: Duration, spun: bool },
    /// A look during a spin found events, this long after the wait began.
    Caught(Duration),
    /// The look after a pause.
    Looked,
}

impl Coalesce {
    /// A policy with this pause and this longest spin; zero turns either
    /// off.
    pub fn new(pause: Duration, spin_max: Duration) -> Coalesce {
        Coalesce {
            pause,
            spin_max,
            spin: spin_max,
            events: 0,
            looked: false,
            spun: 0,
            rest: (0, PROBE_EVERY),
            probing: false,
            active: [0; 4],
            due: Duration::ZERO,
            looking_at: None,
            clients: u32::MAX,
        }
    }

    /// The spin now (it adapts).
    pub fn spin(&self) -> Duration {
        self.spin
    }

    /// How the next poll waits, given the loop's own timeout (its next
    /// deadline; zero when connections wait for another turn). Neither a
    /// pause nor a spin runs past the timeout.
    pub fn plan(&mut self, timeout: Option<Duration>) -> Plan {
        let cap = |d: Duration| timeout.map_or(d, |t| t.min(d));
        if timeout == Some(Duration::ZERO) || self.events == 0 {
            return Plan::Block(timeout);
        }
        if self.events >= BUSY && !self.looked {
            return match self.pause.is_zero() {
                true => Plan::Block(timeout),
                false => Plan::PauseThenLook(cap(self.pause)),
            };
        }
        if self.events < BUSY && !self.spin.is_zero() {
            if self.rest.0 > 0 {
                self.rest.0 -= 1;
                return Plan::Block(timeout);
            }
            self.spun += 1;
            if self.spun > PROBE_EVERY {
                self.spun = 0;
                self.probing = true;
                return Plan::WaitThenLook {
                    wait: cap(self.spin),
                    timeout,
                };
            }
            let spin = cap(self.spin);
            // One client asks again a round trip after each answer, and
            // looking before then is a syscall for nothing; with more, the
            // next may come at any moment.
            let first = match self.clients {
                0 | 1 => self.due.min(spin),
                _ => Duration::ZERO,
            };
            self.looking_at = (self.clients <= 1).then_some(first);
            return Plan::LookThenBlock {
                spin,
                first,
                timeout,
            };
        }
        Plan::Block(timeout)
    }

    /// Connection `key` had an event. A spin pays when the loop's wake-up
    /// is a large part of what each client waits: a handful of clients,
    /// each asking again as soon as it is answered. With many clients at
    /// once every request already waits behind the others' (at 100
    /// keep-alive clients the median was 300 to 500 µs, against a wake-up
    /// of 30 to 60), and the spin bought a few percent of latency there for
    /// 5 to 15% more CPU per request. So a probe that finds more than
    /// [`MANY`] connections active since the last one rests the spin as a
    /// queue does.
    #[inline]
    pub fn saw(&mut self, key: usize) {
        let bit = key % 256;
        self.active[bit / 64] |= 1 << (bit % 64);
    }

    /// A poll brought `events`, as `polled` says.
    pub fn woke(&mut self, events: usize, polled: Polled) {
        self.events = events;
        self.looked = polled == Polled::Looked;
        if let Some(first) = self.looking_at.take() {
            // A lone client's request arrives a round trip after its
            // answer, give or take a few microseconds. The first look
            // tracks the median of that time: a look that finds the
            // request moves a step sooner, one that does not a step later.
            // Sooner is more empty looks (a syscall each), later is
            // latency added to the requests that came early: looking when
            // three in four had come took a third off the requests a
            // second, for 0.3 fewer syscalls a request.
            self.due = match polled {
                Polled::Caught(after) if after < first + LOOK_GAP => {
                    self.due.saturating_sub(DUE_STEP)
                }
                _ => (self.due + DUE_STEP).min(self.spin_max),
            };
        }
        if std::mem::take(&mut self.probing) {
            // A spin catches events one by one as they arrive; a blocking
            // poll shows whether they queue. If they do, requests do not
            // wait on the loop's wake-up, and spinning would only trade the
            // batching for empty polls: rest from it, longer each time.
            let active: u32 = self.active.iter().map(|w| w.count_ones()).sum();
            self.active = [0; 4];
            self.clients = active;
            if events >= BUSY || active > MANY {
                self.rest = (self.rest.1, (self.rest.1 * 2).min(REST_MAX));
            } else {
                self.rest = (0, PROBE_EVERY);
            }
        }
        let Polled::Blocked { slept, spun } = polled else {
            return;
        };
        if self.spin_max.is_zero() {
            return;
        }
        if slept <= self.spin_max && events > 0 {
            // A spin this long would have caught it.
            if spun {
                self.spin = (self.spin * 2).min(self.spin_max);
            } else if self.spin.is_zero() {
                self.spin = SPIN_START.min(self.spin_max);
            }
        } else if spun {
            // Nothing came for longer than any spin: it was time thrown
            // away.
            self.spin /= 2;
            if self.spin < Duration::from_micros(1) {
                self.spin = Duration::ZERO;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_micros(40);
    const SPIN: Duration = Duration::from_micros(50);
    const OFF: Duration = Duration::ZERO;

    /// The probe: a spin's length awake, then one look.
    fn probe() -> Plan {
        Plan::WaitThenLook {
            wait: SPIN,
            timeout: None,
        }
    }

    fn blocked(us: u64, spun: bool) -> Polled {
        Polled::Blocked {
            slept: Duration::from_micros(us),
            spun,
        }
    }

    #[test]
    fn an_idle_loop_blocks() {
        let mut c = Coalesce::new(PAUSE, SPIN);
        assert_eq!(c.plan(None), Plan::Block(None));
        // A wakeup with nothing (a deadline) is not followed by a spin.
        c.woke(0, blocked(1_000_000, false));
        let second = Some(Duration::from_secs(1));
        assert_eq!(c.plan(second), Plan::Block(second));
    }

    #[test]
    fn a_few_events_are_followed_by_a_look_before_blocking() {
        let mut c = Coalesce::new(OFF, SPIN);
        for events in 1..BUSY {
            c.woke(events, Polled::Caught(Duration::ZERO));
            assert_eq!(
                c.plan(None),
                Plan::LookThenBlock {
                    spin: SPIN,
                    first: Duration::ZERO,
                    timeout: None
                },
                "{events} events"
            );
        }
        // Never past the loop's own deadline.
        let soon = Some(Duration::from_micros(20));
        assert_eq!(
            c.plan(soon),
            Plan::LookThenBlock {
                spin: Duration::from_micros(20),
                first: Duration::ZERO,
                timeout: soon
            }
        );
    }

    #[test]
    fn the_spin_halves_while_it_finds_nothing_and_grows_back_when_it_would_have() {
        let mut c = Coalesce::new(OFF, SPIN);
        // Requests 10 ms apart: each spin is wasted.
        for want in [25, 12, 6, 3, 1, 0] {
            c.woke(1, blocked(10_000, true));
            assert_eq!(c.spin().as_micros(), want);
        }
        assert_eq!(c.plan(None), Plan::Block(None), "no spin left");
        // Then a client that asks again 30 µs after each answer: the sleep
        // was short, a spin would have caught it; it grows back to the most.
        c.woke(1, blocked(30, false));
        assert_eq!(c.spin(), SPIN_START);
        for want in [20, 40, 50, 50] {
            c.woke(1, blocked(30, true));
            assert_eq!(c.spin(), Duration::from_micros(want));
        }
        // Caught events leave it as it is.
        c.woke(2, Polled::Caught(Duration::ZERO));
        assert_eq!(c.spin(), SPIN);
    }

    #[test]
    fn a_busy_wakeup_blocks_or_pauses_once_then_decides_again() {
        let mut c = Coalesce::new(OFF, SPIN);
        c.woke(BUSY, blocked(5, false));
        assert_eq!(c.plan(None), Plan::Block(None), "busy: no spin");
        assert_eq!(c.spin(), SPIN, "a busy loop's short sleeps leave it");
        let mut c = Coalesce::new(PAUSE, SPIN);
        c.woke(BUSY, blocked(5, false));
        assert_eq!(c.plan(None), Plan::PauseThenLook(PAUSE));
        // The look brings many: that was the pause's doing, not the load's.
        c.woke(40, Polled::Looked);
        assert_eq!(c.plan(None), Plan::Block(None));
        c.woke(BUSY + 3, blocked(2, false));
        assert_eq!(c.plan(None), Plan::PauseThenLook(PAUSE));
        let soon = Duration::from_micros(10);
        assert_eq!(c.plan(Some(soon)), Plan::PauseThenLook(soon));
    }

    #[test]
    fn a_probe_that_finds_requests_queueing_rests_the_spin() {
        let mut c = Coalesce::new(OFF, SPIN);
        let spins = |c: &mut Coalesce, n: u32| {
            for _ in 0..n {
                c.woke(1, Polled::Caught(Duration::ZERO));
                assert!(matches!(c.plan(None), Plan::LookThenBlock { .. }));
            }
        };
        spins(&mut c, PROBE_EVERY);
        // The next wait is a probe: it waits awake, looks, and finds a
        // queue.
        c.woke(1, Polled::Caught(Duration::ZERO));
        assert_eq!(c.plan(None), probe());
        c.woke(BUSY, Polled::Caught(Duration::ZERO));
        // Busy wakeups never spin; light ones rest for PROBE_EVERY waits.
        for _ in 0..PROBE_EVERY {
            c.woke(2, blocked(3, false));
            assert_eq!(c.plan(None), Plan::Block(None));
        }
        spins(&mut c, PROBE_EVERY);
        // A probe that finds few events: spinning goes on, and the next
        // rest is the shortest again.
        c.woke(1, Polled::Caught(Duration::ZERO));
        assert_eq!(c.plan(None), probe());
        c.woke(1, blocked(40, false));
        spins(&mut c, 3);
        assert_eq!(c.rest, (0, PROBE_EVERY));
    }

    #[test]
    fn many_clients_rest_the_spin_and_a_few_keep_it() {
        for (clients, rests) in [(4, false), (16, false), (MANY as usize, false), (100, true)] {
            let mut c = Coalesce::new(OFF, SPIN);
            // Between probes, each wakeup brings one event from the next
            // client in turn: light wakeups, so the loop spins.
            for i in 0..PROBE_EVERY as usize {
                c.saw(i % clients);
                c.woke(1, Polled::Caught(Duration::ZERO));
                assert!(matches!(c.plan(None), Plan::LookThenBlock { .. }));
            }
            c.woke(1, Polled::Caught(Duration::ZERO));
            assert_eq!(c.plan(None), probe(), "the probe");
            c.saw(0);
            c.woke(1, blocked(5, false));
            let next = c.plan(None);
            match rests {
                true => assert_eq!(next, Plan::Block(None), "{clients} clients"),
                false => assert!(matches!(next, Plan::LookThenBlock { .. }), "{clients}"),
            }
        }
    }

    #[test]
    fn turns_waiting_for_another_go_never_pause_or_spin() {
        let mut c = Coalesce::new(PAUSE, SPIN);
        let now = Some(Duration::ZERO);
        c.woke(BUSY, blocked(1, false));
        assert_eq!(c.plan(now), Plan::Block(now));
        c.woke(1, Polled::Caught(Duration::ZERO));
        assert_eq!(c.plan(now), Plan::Block(now));
    }

    #[test]
    fn zero_turns_either_off() {
        let mut c = Coalesce::new(OFF, OFF);
        c.woke(100, blocked(1, false));
        assert_eq!(c.plan(None), Plan::Block(None));
        c.woke(1, blocked(1, false));
        assert_eq!(c.plan(None), Plan::Block(None));
        assert_eq!(c.spin(), OFF, "nothing grows from off");
    }

    /// With one client, the first look comes at the median of when its
    /// requests came lately; with more, it looks at once.
    #[test]
    fn one_client_is_looked_for_when_it_is_due_and_many_at_once() {
        let us = Duration::from_micros;
        let mut c = Coalesce::new(OFF, SPIN);
        // One wait: its plan, then the look that finds a request arriving
        // `arrives` into it (looks at `first`, then every LOOK_GAP).
        let wait = |c: &mut Coalesce, key: usize, arrives: Duration| {
            c.saw(key);
            let plan = c.plan(None);
            let first = match plan {
                Plan::LookThenBlock { first, .. } => first,
                Plan::WaitThenLook { wait, .. } => wait,
                other => panic!("{other:?}"),
            };
            let mut at = first;
            while at < arrives {
                at += LOOK_GAP;
            }
            c.woke(1, Polled::Caught(at));
            first
        };
        // Before any probe has counted the clients: at once.
        c.woke(1, Polled::Caught(us(40)));
        assert_eq!(wait(&mut c, 0, us(20)), Duration::ZERO);
        // One client whose requests come 16 to 24 µs into each wait, all
        // as often: the first look settles at their median, 20.
        for i in 0..2_000u64 {
            wait(&mut c, 0, us(16 + i % 9));
        }
        let mut firsts: Vec<_> = (0..90u64)
            .map(|i| wait(&mut c, 0, us(16 + i % 9)))
            .collect();
        firsts.sort();
        let median = firsts[firsts.len() / 2];
        assert!((us(19)..=us(21)).contains(&median), "{median:?}");
        // Requests that come later each time move it later, a step a wait.
        let before = wait(&mut c, 0, us(40));
        for _ in 0..40 {
            wait(&mut c, 0, us(40));
        }
        let after = wait(&mut c, 0, us(40));
        assert_eq!(after, before + DUE_STEP * 41);
        // Never later than the spin itself.
        for _ in 0..1_000 {
            wait(&mut c, 0, us(500));
        }
        assert_eq!(wait(&mut c, 0, us(500)), SPIN);
        // Four clients between two probes: at once again.
        for i in 0..2 * PROBE_EVERY as usize {
            wait(&mut c, i % 4, us(20));
        }
        assert_eq!(wait(&mut c, 0, us(20)), Duration::ZERO);
    }
}
