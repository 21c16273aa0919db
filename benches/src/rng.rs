//! A cheap per-thread pseudo-random number (xorshift), shared by the
//! benchmark servers so both pick rows the same way.

use std::cell::Cell;

thread_local!(static STATE: Cell<u64> = const { Cell::new(0x2545_F491_4F6C_DD1D) });

/// The next number of this thread's sequence.
pub fn next() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}
