//! A pool of states lent to busy connections and given back when they go idle.
//!
//! Spare connection states: an idle connection holds no work state, so
//! the states busy connections need are lent from here and given back.
//!
//! A state goes back with the capacity its queues grew to, so the next
//! busy connection allocates nothing. What one state may keep is capped by
//! its own [`Pooled::reset`], and the number kept is capped here, so a
//! burst cannot leave the pool holding much. The pool knows nothing of
//! what it holds beyond [`Pooled`].

use std::time::Instant;

/// What a pooled state does when it is made, lent again, or given back.
pub trait Pooled {
    /// A fresh state, as of `now`.
    fn fresh(now: Instant) -> Self;
    /// Shared again at `now`: its clocks start over.
    fn restart(&mut self, now: Instant);
    /// Given back: emptied, keeping (bounded) capacity.
    fn reset(&mut self);
}

/// Spare states, with the capacity their queues grew to.
#[derive(Debug)]
pub struct Pool<T> {
    // Boxed on purpose: a state moves between a connection and the pool as
    // one pointer, never copied.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<T>>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool { spare: Vec::new() }
    }
}

/// Most spare states kept; beyond this they are freed. With the caps on
/// what each keeps, the pool of connection states never holds more than
/// about 3.5 MiB however large a burst was.
const POOL_MAX: usize = 256;

impl<T: Pooled> Pool<T> {
    /// A state for a connection that has work as of `now`.
    pub fn take(&mut self, now: Instant) -> Box<T> {
        match self.spare.pop() {
            Some(mut state) => {
                state.restart(now);
                state
            }
            None => Box::new(T::fresh(now)),
        }
    }

    /// Takes back a state whose connection is idle or closed.
    pub fn give(&mut self, mut state: Box<T>) {
        if self.spare.len() < POOL_MAX {
            state.reset();
            self.spare.push(state);
        }
    }

    /// How many states wait to be lent.
    pub fn spare(&self) -> usize {
        self.spare.len()
    }
}
