//! Spare connection states: an idle connection holds no [`Work`], so the
//! states busy connections need are lent from here and given back.
//!
//! A state goes back with the capacity its queues grew to, so the next
//! busy connection allocates nothing. What one state may keep is capped
//! (see `Work::reset`), and so is the number kept, so a burst cannot leave
//! the pool holding much.

use std::time::Instant;

use crate::http::conn::Work;

/// Spare [`Work`] states, with the capacity their queues grew to.
#[derive(Debug, Default)]
pub struct WorkPool {
    // Boxed on purpose: a state moves between a connection and the pool as
    // one pointer, never copied.
    #[allow(clippy::vec_box)]
    pub(super) spare: Vec<Box<Work>>,
}

/// Most spare states kept; beyond this they are freed. With the caps on
/// what each keeps, the pool never holds more than about 3.5 MiB however
/// large a burst was.
const POOL_MAX: usize = 256;

impl WorkPool {
    /// A state for a connection that has work as of `now`.
    pub(super) fn take(&mut self, now: Instant) -> Box<Work> {
        match self.spare.pop() {
            Some(mut work) => {
                work.restart(now);
                work
            }
            None => Box::new(Work::new(now)),
        }
    }

    /// Takes back a state whose connection is idle or closed.
    pub(super) fn give(&mut self, mut work: Box<Work>) {
        if self.spare.len() < POOL_MAX {
            work.reset();
            self.spare.push(work);
        }
    }
}
