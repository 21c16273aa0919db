//! Parsing, checks and expansion behind Bao's attribute macros, and the source
//! templates behind `bao init` and `bao make:*`.
//!
//! Everything here is plain Rust over `proc_macro2` tokens: no I/O and no
//! `proc_macro` types, so every expansion is unit- and snapshot-tested.

pub mod agent;
pub mod api;
pub mod app;
pub mod channel;
pub mod controller;
pub mod diag;
pub mod model;
pub mod retry;
pub mod route_path;
pub mod scaffold;
pub mod schedule;
pub mod task;
pub mod template_vars;
pub mod test_attr;
pub mod text_enum;
pub mod view;
pub mod workflow;
