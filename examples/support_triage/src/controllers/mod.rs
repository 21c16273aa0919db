//! The app's controllers, one module each.

pub mod api;
pub mod auth;
pub mod home;
pub mod queue;
pub mod support;
