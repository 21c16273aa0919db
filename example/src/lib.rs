//! The Bao tutorial app: a home page, a guestbook (a form over a model), and
//! two small endpoints used by the benchmarks.

pub mod agents;
pub mod controllers;
pub mod plugins;
pub mod workflows;

bao::app! {
    name: "Bao Example",
    controllers: [
        controllers::home::Home,
        controllers::guestbook::Guestbook,
        controllers::status::Status,
    ],
    apis: [controllers::entries_api::EntriesApi],
    workflows: [workflows::tally],
    tasks: [workflows::slow_mark],
    schedules: [workflows::beat],
    agents: [agents::Librarian],
    channels: [
        controllers::guestbook::anyone_may_watch,
        controllers::guestbook::echo,
    ],
    models: [controllers::guestbook::Entry],
    plugins: [plugins::Uptime],
}
