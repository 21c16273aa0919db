//! Support Triage: Bao's end-to-end demo. Customers open tickets (a form,
//! or the JSON API with a token); an agent triages each one in a durable
//! run (knowledge-base search, the customer's history, a category, a
//! draft); an operator approves, edits or denies the reply it wants to
//! send; the customer's page shows the reply as it is sent. See README.md.

pub mod controllers;
pub mod jobs;
pub mod models;
pub mod seed;
pub mod triage;

bao::app! {
    name: "Support Triage",
    controllers: [
        controllers::home::Home,
        controllers::auth::Sessions,
        controllers::support::Support,
        controllers::queue::Queue,
    ],
    apis: [controllers::api::TicketsApi],
    models: [
        models::user::User,
        models::organisation::Organisation,
        models::ticket::Ticket,
        models::ticket::TicketNote,
        models::ticket::Reply,
    ],
    agents: [triage::Triage],
    tasks: [jobs::deliver_reply],
    schedules: [jobs::close_idle],
    channels: [
        controllers::support::may_watch_ticket,
        controllers::queue::operators_may_watch,
    ],
    auth: models::user::User,
    setup: configure,
}

/// The model (offline: the scripted `Desk`, with `Echo` embeddings; with
/// `BAO_AI_PROVIDERS` set, the providers it names), and the seed data,
/// which `bao db:seed` writes and a first start writes too.
fn configure(app: bao::App) -> bao::App {
    let app = if std::env::var_os("BAO_AI_PROVIDERS").is_some() {
        app
    } else {
        app.ai(bao::ai::Router::new()
            .provider(triage::model::Desk)
            .provider(bao::ai::Echo::new()))
    };
    app.seed(seed::seed).subsystem(SeedOnStart)
}

/// Seeds the database when the app starts (`serve`, `worker`, tests), after
/// its migrations: a first start of the demo has accounts, organisations
/// and a knowledge base. `SUPPORT_SEED=0` turns it off.
struct SeedOnStart;

impl bao::subsystem::Subsystem for SeedOnStart {
    fn name(&self) -> &'static str {
        "seed"
    }

    fn mount(&self, core: &bao::subsystem::Core) -> bao::subsystem::Mounted {
        let db = core.db.clone();
        let off = std::env::var("SUPPORT_SEED").is_ok_and(|v| v == "0");
        bao::subsystem::Mounted::new().on_startup("seed", move || {
            let db = db.clone();
            async move {
                if let (false, Some(db)) = (off, db) {
                    if let Err(error) = seed::seed(db).await {
                        bao::tracing::error!(%error, "seeding failed");
                    }
                }
            }
        })
    }
}
