//! Durable workflows: `#[bao::workflow]` functions whose steps are recorded
//! in the app's database as they complete, so a run survives a crash and
//! resumes from its last completed step, on whichever worker takes it over.
//!
//! A run is a row of `bao_workflow_runs`; each step's result is a row of
//! `bao_workflow_steps`, written in the transaction that checks the worker
//! still holds the run's lease (fencing: a worker that lost its lease
//! commits nothing). Workers claim runnable runs with a lease they renew
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL); a run whose lease expired is
//! taken over. Sleeps and signal waits park the run in the table: no thread
//! or task waits.

pub(crate) mod page;
pub mod store;
mod subsystem;
pub use subsystem::Workflows;

use crate::db::{DbConnection, DbError, DbPool};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{now_ms, StepRow};

/// A registered workflow: what `#[bao::workflow]` generates.
#[derive(Clone, Copy)]
pub struct WorkflowDef {
    /// Its name (unique in the app).
    pub name: &'static str,
    /// Its version (recorded with each run).
    pub version: i32,
    /// How many times a failed run is started again (its completed steps
    /// are not re-run).
    pub retries: u32,
    /// Runs the function on a JSON input.
    pub run: fn(
        WorkflowCtx,
        serde_json::Value,
    ) -> BoxFuture<'static, Result<serde_json::Value, crate::Error>>,
}

impl std::fmt::Debug for WorkflowDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowDef")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A type that can be a workflow's input or output, or a step's result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored by a durable workflow or task",
    label = "not `Serialize + DeserializeOwned`",
    note = "workflow inputs, outputs, step results and task arguments are stored as JSON: add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`"
)]
pub trait Durable: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Durable for T {}

/// How generated code stores values of a durable type: the functions that
/// encode and decode them, made by [`codec`] where `T: Durable` is checked
/// once, so that the code using them asks nothing more of `T` (a type that
/// cannot be stored is one error at the user's type, not one per use).
#[doc(hidden)]
pub struct Codec<T> {
    /// `T` as JSON.
    pub encode: fn(&T) -> Result<serde_json::Value, serde_json::Error>,
    /// JSON as `T`.
    pub decode: fn(serde_json::Value) -> Result<T, serde_json::Error>,
}

impl<T> Clone for Codec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Codec<T> {}

/// The codec of a durable type (see [`Codec`]).
#[doc(hidden)]
pub fn codec<T: Durable>() -> Codec<T> {
    fn encode<T: Serialize>(value: &T) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(value)
    }
    Codec {
        encode: encode::<T>,
        decode: serde_json::from_value::<T>,
    }
}

/// What a step, a signal wait or a `step_tx` returns: a boxed future, so
/// that awaiting it asks nothing more of `T` than the call did.
pub type StepFuture<'a, T> = BoxFuture<'a, Result<T, WorkflowError>>;

pub use crate::fault::Retry;

/// Why a step's attempt failed: retryable unless made with
/// [`StepError::permanent`].
#[derive(Debug, Clone)]
pub struct StepError {
    message: String,
    permanent: bool,
}

impl StepError {
    /// A failure that retrying cannot fix: the step and the run fail now.
    pub fn permanent(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            permanent: true,
        }
    }

    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
            permanent: false,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

macro_rules! retryable_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StepError {
            fn from(e: $t) -> Self {
                StepError::retryable(e.to_string())
            }
        }
    )*};
}
retryable_from!(
    crate::Error,
    DbError,
    std::io::Error,
    serde_json::Error,
    String,
    &str
);

/// Why a workflow could not go on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkflowError {
    /// The run is parked (a sleep, a signal wait); the worker lets it go.
    #[error("the run is parked until it can continue")]
    Suspended,
    /// Another worker holds the run now; this one must stop.
    #[error("the run's lease was lost to another worker")]
    LeaseLost,
    /// A step failed after its retries (or permanently).
    #[error("step `{step}` failed: {message}")]
    StepFailed {
        /// The step.
        step: String,
        /// Its last error.
        message: String,
        /// Whether retrying the run cannot help.
        permanent: bool,
    },
    /// The code's steps no longer match the run's recorded steps.
    #[error("non-deterministic workflow: step {seq} was recorded as `{recorded}` but the code now runs `{found}` (the workflow changed under a running run; bump its `version`)")]
    NonDeterministic {
        /// The step's position.
        seq: i32,
        /// The recorded name.
        recorded: String,
        /// The name the code asked for.
        found: String,
    },
    /// `wait_signal` gave up.
    #[error("no `{signal}` signal arrived in time")]
    Timeout {
        /// The signal.
        signal: String,
    },
    /// A value could not be stored or read back.
    #[error("cannot store a step's value: {0}")]
    Encode(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl WorkflowError {
    fn from_db(e: DbError) -> WorkflowError {
        match e {
            DbError::Conflict(m) if m.contains("lease") => WorkflowError::LeaseLost,
            other => WorkflowError::Database(other),
        }
    }
}

/// Where a parked run waits, and until when.
#[derive(Debug, Clone)]
struct Park {
    status: &'static str,
    wake_at: i64,
    /// The signal a `waiting` run waits for.
    signal: Option<String>,
}

/// A run's handle on its own history, passed to the workflow function.
#[derive(Clone)]
pub struct WorkflowCtx {
    inner: Arc<CtxInner>,
}

struct CtxInner {
    run_id: String,
    token: i64,
    pool: DbPool,
    recorded: Vec<StepRow>,
    seq: AtomicI32,
    lost: AtomicBool,
    park: Mutex<Option<Park>>,
    /// Set when the run is re-executed to compare its steps with their
    /// records (`bao workflows:replay --deterministic-check`).
    checking: Option<Mutex<Vec<Divergence>>>,
    /// The worker's stop flag: once set, the run parks before its next
    /// step that is not recorded yet, released for any worker to resume.
    stopping: Option<Arc<AtomicBool>>,
}

/// A completed step whose re-execution gave another result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The step's position.
    pub seq: i32,
    /// Its name.
    pub step: String,
    /// The recorded result (JSON).
    pub recorded: String,
    /// What the code gives now (JSON, or the error).
    pub now: String,
}

impl WorkflowCtx {
    /// This run's id.
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// The database the run is stored in (for reads inside steps).
    pub fn db(&self) -> &DbPool {
        &self.inner.pool
    }

    /// True while the run is re-executed to check its determinism: by
    /// convention, step closures then skip their side effects (an e-mail
    /// is not sent again) and only compute their result.
    pub fn is_checking(&self) -> bool {
        self.inner.checking.is_some()
    }

    fn diverged(&self, seq: i32, step: &str, recorded: Option<&str>, now: String) {
        if let Some(list) = &self.inner.checking {
            list.lock()
                .expect("the divergence list is not poisoned")
                .push(Divergence {
                    seq,
                    step: step.to_string(),
                    recorded: recorded.unwrap_or("null").to_string(),
                    now,
                });
        }
    }

    /// A value recorded once (a sleep's or a wait's deadline): never
    /// compared when checking.
    async fn remember(&self, name: &str, value: i64) -> Result<i64, WorkflowError> {
        if self.is_checking() {
            let seq = self.next_seq();
            return match self.recorded(seq, name)? {
                Some(row) if row.status == "completed" => Self::decode(row.result.as_deref()),
                _ => Err(WorkflowError::Suspended),
            };
        }
        self.step_with(name, Retry::none(), || async move {
            Ok::<i64, StepError>(value)
        })
        .await
    }

    fn next_seq(&self) -> i32 {
        self.inner.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// The recorded step at `seq`, checked against the name the code uses.
    fn recorded(&self, seq: i32, name: &str) -> Result<Option<&StepRow>, WorkflowError> {
        match self.inner.recorded.iter().find(|s| s.seq == seq) {
            Some(row) if row.name != name => Err(WorkflowError::NonDeterministic {
                seq,
                recorded: row.name.clone(),
                found: name.to_string(),
            }),
            other => Ok(other),
        }
    }

    /// Before a step that has not run yet: when the worker is stopping,
    /// the run parks here (pending, due now) and is released, so it stops
    /// after its current step and another worker resumes it at once.
    fn stop_point(&self) -> Result<(), WorkflowError> {
        match &self.inner.stopping {
            Some(stop) if stop.load(Ordering::SeqCst) => Err(self.park("pending", now_ms(), None)),
            _ => Ok(()),
        }
    }

    fn check_lease(&self) -> Result<(), WorkflowError> {
        if self.inner.lost.load(Ordering::SeqCst) {
            Err(WorkflowError::LeaseLost)
        } else {
            Ok(())
        }
    }

    fn decode<T: DeserializeOwned>(text: Option<&str>) -> Result<T, WorkflowError> {
        serde_json::from_str(text.unwrap_or("null"))
            .map_err(|e| WorkflowError::Encode(e.to_string()))
    }

    /// Runs `f` once for this run: the first time, with the default retries
    /// (3 attempts), recording its result; on a resumed or replayed run, the
    /// recorded result comes back without running `f`. Side effects outside
    /// the database run at least once; use [`WorkflowCtx::step_tx`] for
    /// database writes that must happen exactly once.
    pub fn step<'a, T, F, Fut, E>(&'a self, name: &'a str, f: F) -> StepFuture<'a, T>
    where
        T: Durable,
        F: FnMut() -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T, E>> + Send + 'a,
        E: Into<StepError> + Send + 'a,
    {
        self.step_with(name, Retry::default(), f)
    }

    /// [`WorkflowCtx::step`] with its own retry policy.
    pub fn step_with<'a, T, F, Fut, E>(
        &'a self,
        name: &'a str,
        retry: Retry,
        f: F,
    ) -> StepFuture<'a, T>
    where
        T: Durable,
        F: FnMut() -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T, E>> + Send + 'a,
        E: Into<StepError> + Send + 'a,
    {
        Box::pin(self.run_step(name, retry, f))
    }

    async fn run_step<T, F, Fut, E>(
        &self,
        name: &str,
        retry: Retry,
        mut f: F,
    ) -> Result<T, WorkflowError>
    where
        T: Durable,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
        E: Into<StepError>,
    {
        let seq = self.next_seq();
        if let Some(row) = self.recorded(seq, name)? {
            if row.status == "completed" {
                if self.is_checking() {
                    let now = match f().await {
                        Ok(v) => serde_json::to_value(&v)
                            .map_or_else(|e| e.to_string(), |v| v.to_string()),
                        Err(e) => format!("error: {}", e.into()),
                    };
                    let recorded: Option<serde_json::Value> = row
                        .result
                        .as_deref()
                        .and_then(|r| serde_json::from_str(r).ok());
                    if recorded.map(|r| r.to_string()).as_deref() != Some(now.as_str()) {
                        self.diverged(seq, name, row.result.as_deref(), now);
                    }
                }
                return Self::decode(row.result.as_deref());
            }
        }
        if self.is_checking() {
            // The recorded history ends here: so does the check.
            return Err(WorkflowError::Suspended);
        }
        self.stop_point()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.check_lease()?;
            match f().await {
                Ok(value) => {
                    let (run_id, token, step) = (
                        self.inner.run_id.clone(),
                        self.inner.token,
                        name.to_string(),
                    );
                    let attempts = i32::try_from(attempt).unwrap_or(i32::MAX);
                    return self
                        .inner
                        .pool
                        .run(move |c| {
                            store::complete_step(c, &run_id, token, seq, &step, attempts, |_| {
                                Ok(value)
                            })
                        })
                        .await
                        .map_err(WorkflowError::from_db);
                }
                Err(error) => {
                    let error: StepError = error.into();
                    let (run_id, token, step, message) = (
                        self.inner.run_id.clone(),
                        self.inner.token,
                        name.to_string(),
                        error.message.clone(),
                    );
                    let attempts = i32::try_from(attempt).unwrap_or(i32::MAX);
                    self.inner
                        .pool
                        .run(move |c| {
                            store::fail_step(c, &run_id, token, seq, &step, attempts, &message)
                        })
                        .await
                        .map_err(WorkflowError::from_db)?;
                    if error.permanent || attempt >= retry.attempts() {
                        return Err(WorkflowError::StepFailed {
                            step: name.to_string(),
                            message: error.message,
                            permanent: error.permanent,
                        });
                    }
                    tokio::time::sleep(retry.delay(attempt)).await;
                }
            }
        }
    }

    /// A step whose database writes commit in the same transaction as its
    /// record: exactly once, however the process dies.
    pub fn step_tx<'a, T, F>(&'a self, name: &'a str, f: F) -> StepFuture<'a, T>
    where
        T: Durable,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        Box::pin(self.run_step_tx(name, f))
    }

    async fn run_step_tx<T, F>(&self, name: &str, f: F) -> Result<T, WorkflowError>
    where
        T: Durable,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let seq = self.next_seq();
        if let Some(row) = self.recorded(seq, name)? {
            if row.status == "completed" {
                return Self::decode(row.result.as_deref());
            }
        }
        self.stop_point()?;
        self.check_lease()?;
        let (run_id, token, step) = (
            self.inner.run_id.clone(),
            self.inner.token,
            name.to_string(),
        );
        self.inner
            .pool
            .run(move |c| store::complete_step(c, &run_id, token, seq, &step, 1, f))
            .await
            .map_err(|e| match e {
                DbError::Conflict(m) if m.contains("lease") => WorkflowError::LeaseLost,
                other => WorkflowError::StepFailed {
                    step: name.to_string(),
                    message: other.to_string(),
                    permanent: false,
                },
            })
    }

    fn park(&self, status: &'static str, wake_at: i64, signal: Option<&str>) -> WorkflowError {
        *self
            .inner
            .park
            .lock()
            .expect("the park slot is not poisoned") = Some(Park {
            status,
            wake_at,
            signal: signal.map(str::to_string),
        });
        WorkflowError::Suspended
    }

    /// A durable timer: the run parks until `duration` after the first time
    /// it reached this point, holding no thread or task meanwhile.
    pub async fn sleep(&self, name: &str, duration: Duration) -> Result<(), WorkflowError> {
        let step = format!("sleep:{name}");
        let wake_at = self
            .remember(
                &step,
                now_ms() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            )
            .await?;
        if self.is_checking() || now_ms() >= wake_at {
            Ok(())
        } else {
            Err(self.park("sleeping", wake_at, None))
        }
    }

    /// Waits for signal `name` (sent with `bao workflows:signal` or
    /// [`signal`]) up to `timeout` from the first time the run got here; a
    /// signal sent before the wait began is delivered too, once.
    pub fn wait_signal<'a, T: Durable>(
        &'a self,
        name: &'a str,
        timeout: Duration,
    ) -> StepFuture<'a, T> {
        Box::pin(self.run_wait_signal(name, timeout))
    }

    async fn run_wait_signal<T: Durable>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<T, WorkflowError> {
        let deadline_step = format!("wait:{name}");
        let deadline = self
            .remember(
                &deadline_step,
                now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
            )
            .await?;
        let seq = self.next_seq();
        let step = format!("signal:{name}");
        if let Some(row) = self.recorded(seq, &step)? {
            if row.status == "completed" {
                return Self::decode(row.result.as_deref());
            }
        }
        if self.is_checking() {
            return Err(WorkflowError::Suspended);
        }
        self.check_lease()?;
        let (run_id, token, signal, step_name) = (
            self.inner.run_id.clone(),
            self.inner.token,
            name.to_string(),
            step.clone(),
        );
        let taken = self
            .inner
            .pool
            .run(move |c| store::take_signal(c, &run_id, token, seq, &step_name, &signal))
            .await
            .map_err(WorkflowError::from_db)?;
        match taken {
            Some(payload) => Self::decode(Some(&payload)),
            None if now_ms() >= deadline => Err(WorkflowError::Timeout {
                signal: name.to_string(),
            }),
            None => Err(self.park("waiting", deadline, Some(name))),
        }
    }
}

/// A started run's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunHandle {
    /// The run's id.
    pub id: String,
    /// Whether this call created it (false: a run with this id existed).
    pub created: bool,
}

/// Starts a run of workflow `name` (what `my_workflow::start` calls): a new
/// id, or `id` when given, in which case starting twice returns the
/// existing run.
pub async fn start<I: Durable>(
    db: &DbPool,
    name: &'static str,
    version: i32,
    input: &I,
    id: Option<&str>,
) -> crate::Result<RunHandle> {
    if !db.runs_workflow(name) {
        return Err(crate::Error::Internal(format!(
            "workflow `{name}` is not one of this app's: list it in `bao::app! {{ workflows: [..] }}`, or no worker will ever run it"
        )));
    }
    let input =
        serde_json::to_string(input).map_err(|e| crate::Error::BadRequest(e.to_string()))?;
    let id = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    let pool = db.clone();
    let (run, created) = db
        .run(move |c| {
            pool.ensure_system_tables(c)?;
            store::insert_run(c, &id, name, version, &input)
        })
        .await?;
    Ok(RunHandle {
        id: run.id,
        created,
    })
}

/// Sends signal `name` with `payload` to run `run_id`.
pub async fn signal<P: Serialize>(
    db: &DbPool,
    run_id: &str,
    name: &str,
    payload: &P,
) -> crate::Result<()> {
    let payload =
        serde_json::to_string(payload).map_err(|e| crate::Error::BadRequest(e.to_string()))?;
    let (run_id, name) = (run_id.to_string(), name.to_string());
    db.run(move |c| {
        if store::find_run(c, &run_id)?.is_none() {
            return Err(DbError::NotFound);
        }
        store::send_signal(c, &run_id, &name, &payload)
    })
    .await?;
    Ok(())
}

/// Settings of the workers.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
}

/// Claims one runnable run and executes it until it completes, fails or
/// parks; false when there was nothing to do.
pub async fn run_one(
    pool: &DbPool,
    defs: &[WorkflowDef],
    owner: &str,
    settings: WorkerSettings,
) -> Result<bool, DbError> {
    execute(pool, defs, owner, settings, None, None).await
}

/// Executes run `run_id` here and now, if it is runnable (pending, due, or
/// its lease expired), until it completes, fails or parks; false when it
/// was not (finished, parked and not due, or running elsewhere).
pub async fn run_now(
    pool: &DbPool,
    defs: &[WorkflowDef],
    run_id: &str,
    settings: WorkerSettings,
) -> Result<bool, DbError> {
    let owner = format!("inline:{}", std::process::id());
    execute(pool, defs, &owner, settings, Some(run_id), None).await
}

async fn execute(
    pool: &DbPool,
    defs: &[WorkflowDef],
    owner: &str,
    settings: WorkerSettings,
    only: Option<&str>,
    stop: Option<Arc<AtomicBool>>,
) -> Result<bool, DbError> {
    let names: Vec<&'static str> = defs.iter().map(|d| d.name).collect();
    let lease_ms = i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX);
    let owner_name = owner.to_string();
    let only = only.map(str::to_string);
    let claimed = pool
        .run(move |c| store::claim(c, &names, &owner_name, lease_ms, only.as_deref()))
        .await?;
    let Some(run) = claimed else { return Ok(false) };
    let Some(def) = defs.iter().find(|d| d.name == run.workflow).copied() else {
        return Ok(true);
    };
    let (run_id, token) = (run.id.clone(), run.lease_token);
    if run.version != def.version {
        // Code of another version than the run started with: flag the run
        // rather than run steps the recorded history may not match.
        let error = format!(
            "the run started on version {} of `{}` and the code is version {}: replay it (`bao workflows:replay {}`) to continue on the new code, or finish it on a deployment of the old one",
            run.version, def.name, def.version, run_id
        );
        let id = run_id.clone();
        let (queue, input, attempts) = (
            format!("workflow:{}", def.name),
            run.input.clone(),
            run.attempts,
        );
        pool.run(move |c| {
            let released = store::release(
                c,
                &id,
                token,
                store::Release {
                    status: "failed",
                    output: None,
                    error: Some(&error),
                    wake_at: None,
                    waiting_for: None,
                },
            )?;
            if released {
                // Flagged runs are failures an operator must see.
                crate::fault::dlq::insert(
                    c,
                    &queue,
                    &input,
                    &error,
                    attempts,
                    Some(&format!("workflow:{id}")),
                )?;
            }
            Ok(released)
        })
        .await?;
        return Ok(true);
    }
    let id = run_id.clone();
    let Ok(recorded) = pool.run(move |c| store::steps(c, &id)).await else {
        return Ok(true);
    };
    // Only failures of the workflow body count against its retries: a
    // claim after a sleep, a signal wait or a crash takeover does not.
    let attempts = run.attempts + 1;
    let mut failed_body = false;
    let ctx = WorkflowCtx {
        inner: Arc::new(CtxInner {
            run_id: run_id.clone(),
            token,
            pool: pool.clone(),
            recorded,
            seq: AtomicI32::new(0),
            lost: AtomicBool::new(false),
            park: Mutex::new(None),
            checking: None,
            stopping: stop,
        }),
    };
    // Renew the lease while the function runs.
    let beat = {
        let (pool, ctx, run_id) = (pool.clone(), ctx.clone(), run_id.clone());
        let every = settings.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let (id, p) = (run_id.clone(), pool.clone());
                let alive = p
                    .run(move |c| store::heartbeat(c, &id, token, lease_ms))
                    .await
                    .unwrap_or(false);
                if !alive {
                    ctx.inner.lost.store(true, Ordering::SeqCst);
                    return;
                }
            }
        })
    };
    let input = serde_json::from_str(&run.input).unwrap_or(serde_json::Value::Null);
    let outcome = (def.run)(ctx.clone(), input).await;
    beat.abort();
    let mut waiting_for: Option<String> = None;
    let (status, output, error, wake_at): (&str, Option<String>, Option<String>, Option<i64>) =
        match outcome {
            Ok(value) => ("completed", Some(value.to_string()), None, None),
            Err(crate::Error::Workflow(WorkflowError::Suspended)) => {
                let park = ctx
                    .inner
                    .park
                    .lock()
                    .expect("the park slot is not poisoned")
                    .take();
                match park {
                    Some(p) => {
                        waiting_for = p.signal;
                        (p.status, None, None, Some(p.wake_at))
                    }
                    None => ("pending", None, None, Some(now_ms())),
                }
            }
            Err(crate::Error::Workflow(WorkflowError::LeaseLost)) => {
                tracing::warn!(run = %run_id, "the run's lease was lost; another worker has it");
                return Ok(true);
            }
            Err(error) => {
                let permanent = matches!(
                    error,
                    crate::Error::Workflow(
                        WorkflowError::StepFailed {
                            permanent: true,
                            ..
                        } | WorkflowError::NonDeterministic { .. }
                            | WorkflowError::Encode(_)
                    )
                );
                let message = error.to_string();
                failed_body = true;
                if !permanent && attempts <= i32::try_from(def.retries).unwrap_or(i32::MAX) {
                    // Start again later; completed steps are not re-run.
                    let backoff = Retry::exponential(def.retries + 1, Duration::from_millis(500))
                        .delay(u32::try_from(attempts).unwrap_or(1));
                    let wake = now_ms() + i64::try_from(backoff.as_millis()).unwrap_or(0);
                    tracing::warn!(run = %run_id, attempts, error = %message, "workflow run failed; retrying");
                    ("sleeping", None, Some(message), Some(wake))
                } else {
                    tracing::error!(run = %run_id, attempts, error = %message, "workflow run failed");
                    ("failed", None, Some(message), None)
                }
            }
        };
    let id = run_id.clone();
    let (queue, input) = (format!("workflow:{}", def.name), run.input.clone());
    let released = pool
        .run(move |c| {
            if failed_body {
                store::bump_attempts(c, &id, token)?;
            }
            let released = store::release(
                c,
                &id,
                token,
                store::Release {
                    status,
                    output: output.as_deref(),
                    error: error.as_deref(),
                    wake_at,
                    waiting_for: waiting_for.as_deref(),
                },
            )?;
            if released && status == "failed" {
                // Out of retries: the run joins the dead-letter queue.
                crate::fault::dlq::insert(
                    c,
                    &queue,
                    &input,
                    error.as_deref().unwrap_or("failed"),
                    attempts,
                    Some(&format!("workflow:{id}")),
                )?;
            }
            Ok(released)
        })
        .await?;
    if !released {
        tracing::warn!(run = %run_id, "the run changed hands before it could be released");
    }
    Ok(true)
}

/// What the lease owners of this process's workflow workers start with.
fn owner_prefix() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "bao".into());
    format!("{host}:{}:", std::process::id())
}

/// Releases the runs this process's workers still hold (at the drain
/// timeout), so another process resumes them at once instead of when their
/// leases expire; how many.
pub async fn release_held(pool: &DbPool) -> Result<usize, DbError> {
    let prefix = owner_prefix();
    pool.run(move |c| store::release_owned(c, &prefix)).await
}

/// Runs workers until `stop` turns true: `concurrency` loops each claiming
/// and executing runs, sleeping `poll` when idle.
pub async fn work(
    pool: DbPool,
    defs: Vec<WorkflowDef>,
    settings: WorkerSettings,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) {
    if defs.is_empty() {
        return;
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    if pool.dialect() == crate::db::Dialect::Postgres {
        crate::db::listen(&pool, store::CHANNEL, wake.clone(), stop.clone());
    }
    let mut loops = Vec::new();
    for i in 0..concurrency.max(1) {
        let (pool, defs, stop, wake) = (pool.clone(), defs.clone(), stop.clone(), wake.clone());
        let owner = format!("{}{i}", owner_prefix());
        loops.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let worked =
                    execute(&pool, &defs, &owner, settings, None, Some(stop.clone())).await;
                let idle = match worked {
                    Ok(worked) => !worked,
                    Err(error) => {
                        tracing::error!(%error, "workflow worker");
                        true
                    }
                };
                if idle {
                    // A NOTIFY (PostgreSQL) or the poll interval, whichever first.
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(settings.poll) => {}
                    }
                }
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
}

/// Re-executes run `run_id` without writing anything: each completed
/// step's closure runs again (`ctx.is_checking()` is true, so by convention
/// it skips side effects; `step_tx` writes are rolled back) and its result
/// is compared with the recorded one. Returns every divergence; a changed
/// step sequence is an error naming the first mismatch.
pub async fn check(
    db: &DbPool,
    defs: &[WorkflowDef],
    run_id: &str,
) -> crate::Result<Vec<Divergence>> {
    let id = run_id.to_string();
    let (run, recorded) = db
        .run(move |c| {
            let run = store::find_run(c, &id)?.ok_or(DbError::NotFound)?;
            Ok((run, store::steps(c, &id)?))
        })
        .await?;
    let def = defs
        .iter()
        .find(|d| d.name == run.workflow)
        .ok_or_else(|| {
            crate::Error::BadRequest(format!("this app has no workflow `{}`", run.workflow))
        })?;
    let ctx = WorkflowCtx {
        inner: Arc::new(CtxInner {
            run_id: run.id.clone(),
            token: run.lease_token,
            pool: db.clone(),
            recorded,
            seq: AtomicI32::new(0),
            lost: AtomicBool::new(false),
            park: Mutex::new(None),
            checking: Some(Mutex::new(Vec::new())),
            stopping: None,
        }),
    };
    let input = serde_json::from_str(&run.input).unwrap_or(serde_json::Value::Null);
    if let Err(crate::Error::Workflow(e @ WorkflowError::NonDeterministic { .. })) =
        (def.run)(ctx.clone(), input).await
    {
        return Err(crate::Error::Workflow(e));
    }
    let found = ctx
        .inner
        .checking
        .as_ref()
        .map(|l| {
            l.lock()
                .expect("the divergence list is not poisoned")
                .clone()
        })
        .unwrap_or_default();
    Ok(found)
}

/// Cancels a run that has not finished.
pub async fn cancel(db: &DbPool, run_id: &str) -> crate::Result<bool> {
    let id = run_id.to_string();
    Ok(db
        .run(move |c| {
            store::set_status(
                c,
                &id,
                &["pending", "running", "sleeping", "waiting"],
                "cancelled",
            )
        })
        .await?)
}

/// Starts a failed (or cancelled) run again: completed steps come back from
/// storage, failed and missing ones run.
pub async fn replay(db: &DbPool, run_id: &str) -> crate::Result<bool> {
    let id = run_id.to_string();
    Ok(db
        .run(move |c| {
            store::drop_failed_steps(c, &id)?;
            store::set_status(c, &id, &["failed", "cancelled"], "pending")
        })
        .await?)
}

/// Wakes a sleeping or waiting run now: a worker carries it on.
pub async fn resume(db: &DbPool, run_id: &str) -> crate::Result<bool> {
    let id = run_id.to_string();
    Ok(db
        .run(move |c| store::set_status(c, &id, &["sleeping", "waiting"], "pending"))
        .await?)
}

/// Whether `names[i]` (a workflow's name, or `agent:<name>` for an agent)
/// is an earlier one's too. `bao::app!` calls it in a `const` spanned at
/// the `i`-th item of `workflows:` / `agents:`.
pub const fn workflow_name_clash_at(
    names: &[&str],
    i: usize,
) -> Option<crate::support::konst::Message> {
    use crate::support::konst::{push, repeats_earlier, Message, MESSAGE_LEN};
    if !repeats_earlier(names, i) {
        return None;
    }
    let mut buf = [0u8; MESSAGE_LEN];
    let mut n = 0;
    let name = names[i].as_bytes();
    let agent = b"agent:";
    let mut is_agent = name.len() > agent.len();
    let mut k = 0;
    while is_agent && k < agent.len() {
        is_agent = name[k] == agent[k];
        k += 1;
    }
    if is_agent {
        // An agent's runs are the workflow runs `agent:<name>`.
        let (_, short) = names[i].split_at(agent.len());
        n = push(&mut buf, n, "two agents are named `");
        n = push(&mut buf, n, short);
        n = push(&mut buf, n, "`: their runs are found by name, so each agent needs its own; give one `#[bao::agent(name = \"...\")]` (or list it once)");
    } else {
        n = push(&mut buf, n, "two workflows are named `");
        n = push(&mut buf, n, names[i]);
        n = push(&mut buf, n, "`: runs are found by name, so each workflow needs its own; give one `#[bao::workflow(name = \"...\")]` (or list it once)");
    }
    Some(Message::new(buf, n))
}
