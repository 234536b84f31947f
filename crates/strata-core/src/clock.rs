//! The database clock: microseconds since the epoch, strictly increasing per database.
//!
//! The host supplies wall-clock time (`std::time` natively, `Date.now()` in WebAssembly, where `std::time` panics);
//! the clock only guarantees order: a stalled or backwards wall clock still yields a later timestamp than the last.
//! It is one atomic word, so commits on different threads take timestamps without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Reads the host's wall clock in microseconds since the epoch.
pub type WallClock = fn() -> u64;

pub struct Clock {
    wall: WallClock,
    /// On a cache line of its own: every commit writes it, and the fields beside it in the database (the branch
    /// table every call reads) would otherwise move between cores with it.
    last: CachePadded<AtomicU64>,
}

impl Clock {
    pub fn new(wall: WallClock) -> Self {
        Clock { wall, last: CachePadded::new(AtomicU64::new(0)) }
    }

    /// The next timestamp: the wall clock, or one past the previous timestamp when the wall clock has not moved on.
    pub fn tick(&self) -> u64 {
        let wall = (self.wall)();
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = wall.max(last + 1);
            match self.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next,
                Err(now) => last = now,
            }
        }
    }

    /// Never hands out a timestamp at or before `ts` (recovery replays timestamps it did not hand out).
    pub fn observe(&self, ts: u64) {
        self.last.fetch_max(ts, Ordering::AcqRel);
    }

    /// Takes back the timestamps handed out since `last()` returned `to`, for a change that was refused. Only
    /// sound while no other commit can tick: under the database's exclusive lock.
    pub fn rewind(&mut self, to: u64) {
        *self.last.get_mut() = to;
    }

    /// The current time, without handing out a timestamp.
    pub fn now(&self) -> u64 {
        (self.wall)().max(self.last())
    }

    /// The last timestamp handed out or observed.
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }
}

/// The wall clock of platforms with `std::time`.
#[cfg(not(target_family = "wasm"))]
pub fn system_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_when_the_wall_clock_stalls_or_steps_back() {
        fn stuck() -> u64 {
            1_000
        }
        let c = Clock::new(stuck);
        let a = c.tick();
        let b = c.tick();
        assert!(b > a);
        assert_eq!(c.tick(), 1_002);
    }
}
