//! The Bao tutorial app: a home page, a guestbook with a form, and two small
//! endpoints used by the benchmarks.

pub mod controllers;

bao::app! {
    name: "Bao Example",
    controllers: [
        controllers::home::Home,
        controllers::guestbook::Guestbook,
        controllers::status::Status,
    ],
    setup: setup,
}

/// Shares the guestbook's entries with its handlers.
fn setup(app: bao::App) -> bao::App {
    app.state(controllers::guestbook::Entries::default())
}
