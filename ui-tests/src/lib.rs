//! Compile-pass and compile-fail cases for Bao's macros: `tests/ui.rs` runs
//! `pass/*.rs` (must build) and `fail/**/*.rs` (must fail with the message in
//! the `.stderr` beside each).
