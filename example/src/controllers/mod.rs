//! The example's controllers.

pub mod entries_api;
pub mod guestbook;
pub mod home;
pub mod status;
