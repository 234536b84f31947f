//! The database clock: microseconds since the epoch, strictly increasing per database.
//!
//! The host supplies wall-clock time (`std::time` natively, `Date.now()` in WebAssembly, where `std::time` panics);
//! the clock only guarantees order: a stalled or backwards wall clock still yields a later timestamp than the last.

/// Reads the host's wall clock in microseconds since the epoch.
pub type WallClock = fn() -> u64;

pub struct Clock {
    wall: WallClock,
    last: u64,
}

impl Clock {
    pub fn new(wall: WallClock) -> Self {
        Clock { wall, last: 0 }
    }

    /// The next timestamp: the wall clock, or one past the previous timestamp when the wall clock has not moved on.
    pub fn tick(&mut self) -> u64 {
        self.last = (self.wall)().max(self.last + 1);
        self.last
    }

    /// Never hands out a timestamp at or before `ts` (recovery replays timestamps it did not hand out).
    pub fn observe(&mut self, ts: u64) {
        self.last = self.last.max(ts);
    }

    /// Takes back the timestamps handed out since `last()` returned `to`, for a change that was refused.
    pub fn rewind(&mut self, to: u64) {
        self.last = to;
    }

    /// The current time, without handing out a timestamp.
    pub fn now(&self) -> u64 {
        (self.wall)().max(self.last)
    }

    /// The last timestamp handed out or observed.
    pub fn last(&self) -> u64 {
        self.last
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
        let mut c = Clock::new(stuck);
        let a = c.tick();
        let b = c.tick();
        assert!(b > a);
        assert_eq!(c.tick(), 1_002);
    }
}
