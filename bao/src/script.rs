//! One-off scripts against an app's models and database: a backfill, a
//! report, a data fix. A script is a file in the app's `examples/` folder
//! (so cargo builds it against the app's own crate) whose `main` hands a
//! closure to [`run`]:
//!
//! ```text
//! // examples/count_posts.rs       (bao make:script count_posts)
//! use my_app::models::post::Post;
//!
//! fn main() -> std::process::ExitCode {
//!     bao::script::run(my_app::app(), |ctx| async move {
//!         println!("{} posts", Post::count(&ctx.db).await?);
//!         Ok(())
//!     })
//! }
//! ```
//!
//! `bao run-script count_posts [ARGS..]` builds and runs it from the app's
//! root, with the app's configuration (`.env`, `BAO_*`), as `bao serve`
//! would see it. Bao has no Rust REPL: a script is how to poke at the data
//! with the app's own types, and it can be kept, reviewed and run again.

use crate::App;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

/// What a script gets.
pub struct ScriptCtx {
    /// The app's database (system tables created, migrations not applied).
    pub db: crate::db::DbPool,
    /// The app's resolved configuration.
    pub config: Arc<crate::Config>,
    /// The arguments after the script's name (`bao run-script fix -- 42`).
    pub args: Vec<String>,
}

/// Runs `body` with the app's database and configuration; an error is
/// printed and the exit status is 1. The AI router is the app's, so
/// `bao::ai::ask` works in scripts too.
pub fn run<F, Fut>(app: App, body: F) -> ExitCode
where
    F: FnOnce(ScriptCtx) -> Fut,
    Fut: Future<Output = crate::Result<()>>,
{
    let ready = match crate::cli::app_runtime(&app) {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let ctx = ScriptCtx {
        db: ready.pool.clone(),
        config: Arc::new(ready.config.clone()),
        args: std::env::args().skip(1).collect(),
    };
    match ready.runtime.block_on(body(ctx)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::cli::fail(format!("the script failed: {e}")),
    }
}
