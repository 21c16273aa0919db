//! The app's models, one module each.

pub mod organisation;
pub mod ticket;
pub mod user;
