//! The leaf of Bao's module graph: helpers every layer may use and that use
//! no other part of Bao (the clock, units, signing, const-eval checks).

pub mod clock;
pub mod crypto;
pub(crate) mod konst;
pub mod units;
