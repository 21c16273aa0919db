//! A durable workflow: `tally` makes one mark per step in `tally_marks`,
//! each in the transaction that records the step, so however often the
//! process dies, every step's mark is written exactly once.

use bao::prelude::*;
use diesel::connection::SimpleConnection;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a `tally` run counts to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tally {
    /// How many steps.
    pub steps: u32,
    /// How long each step holds its transaction, in milliseconds.
    pub pause_ms: u64,
}

/// Marks `steps` steps, one at a time.
#[bao::workflow(name = "tally", retries = 2)]
pub async fn tally(ctx: WorkflowCtx, input: Tally) -> bao::Result<u32> {
    for step in 0..input.steps {
        let run = ctx.run_id().to_string();
        let pause = Duration::from_millis(input.pause_ms);
        ctx.step_tx(&format!("mark {step}"), move |conn| {
            // The run id is a UUID and the step a number: nothing to quote.
            conn.batch_execute(&format!(
                "INSERT INTO tally_marks (run_id, step, worker) VALUES ('{run}', {step}, {})",
                std::process::id()
            ))?;
            std::thread::sleep(pause);
            Ok(step)
        })
        .await?;
    }
    Ok(input.steps)
}

/// A background task: marks `tally_marks` once per attempt (under the run id
/// `task-N`), then works for `pause_ms` on the blocking pool.
#[bao::task(kind = "cpu", max_concurrency = 1, retries = 2)]
pub async fn slow_mark(n: u32, pause_ms: u64) -> bao::Result<()> {
    let db = bao::task::db()?;
    let mut conn = db.get()?;
    conn.batch_execute(&format!(
        "INSERT INTO tally_marks (run_id, step, worker) VALUES ('task-{n}', 0, {})",
        std::process::id()
    ))
    .map_err(bao::db::DbError::from)?;
    std::thread::sleep(Duration::from_millis(pause_ms));
    Ok(())
}

/// A schedule: every second, marks `tally_marks` under the run id `beat`
/// with the slot's second (a scheduler runs it only with
/// `BAO_ENABLE_SCHEDULER=1` or `bao scheduler:run`).
#[bao::every("1s")]
pub async fn beat(ctx: TaskCtx) -> bao::Result<()> {
    let slot = ctx.slot().timestamp() % 1_000_000;
    let mut conn = ctx.db().get()?;
    conn.batch_execute(&format!(
        "INSERT INTO tally_marks (run_id, step, worker) VALUES ('beat', {slot}, {})",
        std::process::id()
    ))
    .map_err(bao::db::DbError::from)?;
    Ok(())
}
