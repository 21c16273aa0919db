//! The example's controllers.

pub mod guestbook;
pub mod home;
pub mod status;
