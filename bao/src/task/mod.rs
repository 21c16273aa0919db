//! Durable background tasks and the dead-letter queue.
//!
//! `#[bao::task]` functions are enqueued as rows of `bao_tasks` (arguments as
//! JSON, a priority, an optional start time and deduplication key) and run by
//! workers that claim them with a lease, like workflow runs: a task whose
//! worker died runs again once the lease expires; a finished task never
//! does. A task that fails is retried with backoff; one that exhausts its
//! attempts lands in `bao_dead_letters` with its payload, error and
//! attempts, where `bao dlq:replay` enqueues it again.

pub use crate::fault::dlq;
pub mod schedule;
pub mod store;
mod subsystem;
pub use subsystem::Tasks;

pub use schedule::{run_scheduler, Missed, ScheduleDef, ScheduleSpec, Scheduler, TaskCtx};

use crate::db::{DbError, DbPool};
use futures_util::future::BoxFuture;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// On the async executor (I/O-bound work).
    Io,
    /// On the bounded blocking pool (CPU-bound work).
    Cpu,
}

/// Whether `names[i]` is an earlier task's name too. `bao::app!` calls it
/// in a `const` spanned at the `i`-th item of `tasks:`.
pub const fn task_name_clash_at(
    names: &[&str],
    i: usize,
) -> Option<crate::support::konst::Message> {
    use crate::support::konst::{push, repeats_earlier, Message, MESSAGE_LEN};
    if !repeats_earlier(names, i) {
        return None;
    }
    let mut buf = [0u8; MESSAGE_LEN];
    let n = push(&mut buf, 0, "two tasks are named `");
    let n = push(&mut buf, n, names[i]);
    let n = push(
        &mut buf,
        n,
        "`: a task is enqueued and run by its name, so enqueueing one would run the other; give one `#[bao::task(name = \"...\")]` (or list it once)",
    );
    Some(Message::new(buf, n))
}

/// A registered task: what `#[bao::task]` generates.
#[derive(Clone, Copy)]
pub struct TaskDef {
    /// Its name (the queue).
    pub name: &'static str,
    /// Where it runs.
    pub kind: TaskKind,
    /// Attempts before it is dead-lettered.
    pub max_attempts: u32,
    /// How many run at once in one process.
    pub max_concurrency: usize,
    /// Runs the function on its JSON arguments.
    pub run: fn(serde_json::Value) -> BoxFuture<'static, Result<(), crate::Error>>,
}

impl std::fmt::Debug for TaskDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Options of one enqueue.
#[derive(Debug, Clone, Default)]
pub struct Enqueue {
    /// Higher runs first (default 0).
    pub priority: i32,
    /// Start no sooner than this from now.
    pub delay: Option<Duration>,
    /// While a task with this key is queued or running, enqueueing another
    /// returns the existing one.
    pub dedup_key: Option<String>,
}

/// A task just enqueued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskHandle {
    /// Its id.
    pub id: i64,
    /// False when a task with the same dedup key was already waiting.
    pub created: bool,
}

/// Why a task could not be enqueued.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    /// `BAO_MAX_INFLIGHT_TASKS` tasks are already queued or running.
    #[error("the task queue is full ({0} tasks queued or running): try again later, or raise BAO_MAX_INFLIGHT_TASKS")]
    QueueFull(i64),
    /// The arguments cannot be stored.
    #[error("the task's arguments cannot be stored: {0}")]
    Encode(String),
    /// The app does not run this task: no worker would ever take it.
    #[error("task `{0}` is not one of this app's: list it in `bao::app! {{ tasks: [..] }}`, or no worker will ever run it")]
    NotListed(&'static str),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

tokio::task_local! {
    static POOL: DbPool;
}

/// The app's database, inside a running task: `let db = bao::task::db()?;`.
pub fn db() -> crate::Result<DbPool> {
    POOL.try_with(DbPool::clone).map_err(|_| {
        crate::Error::Internal("bao::task::db() is available inside a running task only".into())
    })
}

/// What a task or a scheduled function may return: `()` or a `Result<(), E>`
/// whose error is shown.
pub trait TaskOutcome {
    /// The outcome as Bao records it.
    fn into_task_result(self) -> Result<(), crate::Error>;
}

impl TaskOutcome for () {
    fn into_task_result(self) -> Result<(), crate::Error> {
        Ok(())
    }
}

impl<E: std::fmt::Display> TaskOutcome for Result<(), E> {
    fn into_task_result(self) -> Result<(), crate::Error> {
        self.map_err(|e| crate::Error::Internal(e.to_string()))
    }
}

static BACKGROUND_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `work` in the background, fire-and-forget: not stored, so not
/// retried and lost if the process stops (use a `#[bao::task]` for work
/// that must happen). At most `BAO_MAX_INFLIGHT_TASKS` run at once: over the
/// bound the work is dropped, logged and counted
/// (`bao_background_total{outcome="dropped"}`); an error it returns, or a
/// panic, is logged and counted, never raised. It runs on Bao's own
/// background threads (callable from any thread, async or not); `serve` and
/// `bao worker` give it the drain timeout at shutdown. Returns whether it was
/// accepted.
///
/// ```
/// # fn main() {
/// let accepted = bao::background(async move {
///     // warm a cache, ping a webhook..
///     Ok::<(), std::io::Error>(())
/// });
/// assert!(accepted);
/// # }
/// ```
pub fn background<F>(work: F) -> bool
where
    F: std::future::Future + Send + 'static,
    F::Output: TaskOutcome + Send,
{
    use crate::fault::metrics::{BACKGROUND_ACCEPTED, BACKGROUND_DROPPED, BACKGROUND_FAILED};
    let bound = usize::try_from(max_inflight()).unwrap_or(usize::MAX);
    let Some(runtime) = background_runtime() else {
        BACKGROUND_DROPPED.fetch_add(1, Ordering::Relaxed);
        tracing::error!("the background runtime could not start: the work was dropped");
        return false;
    };
    if BACKGROUND_RUNNING
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < bound).then_some(n + 1)
        })
        .is_err()
    {
        BACKGROUND_DROPPED.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            bound,
            "background work dropped: BAO_MAX_INFLIGHT_TASKS pieces are running"
        );
        return false;
    }
    BACKGROUND_ACCEPTED.fetch_add(1, Ordering::Relaxed);
    /// Counts the work as ended however it ends (done, failed, dropped).
    struct Running;
    impl Drop for Running {
        fn drop(&mut self) {
            BACKGROUND_RUNNING.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let running = Running;
    let handle = runtime.spawn(work);
    runtime.spawn(async move {
        let _running = running;
        let outcome = match handle.await {
            Ok(output) => output.into_task_result().map_err(|e| e.to_string()),
            Err(e) => Err(format!("it panicked: {e}")),
        };
        if let Err(error) = outcome {
            BACKGROUND_FAILED.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "background work failed");
        }
    });
    true
}

/// The runtime background work runs on: its own two threads, so the work
/// does not depend on the request's worker (which stops at shutdown).
fn background_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("bao-background")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// Waits up to `timeout` for running background work to end; whether it
/// all did.
pub async fn wait_background(timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while background_running() > 0 {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                running = background_running(),
                "background work was still running at the drain timeout"
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// Background work running now.
pub fn background_running() -> usize {
    BACKGROUND_RUNNING.load(Ordering::Acquire)
}

static MAX_INFLIGHT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The bound of `BAO_MAX_INFLIGHT_TASKS` (default 500): from the app's
/// configuration once `serve` or a worker loaded it, else from the
/// environment.
pub fn max_inflight() -> i64 {
    let set = MAX_INFLIGHT.load(Ordering::Relaxed);
    if set > 0 {
        return set;
    }
    let from_env = std::env::var("BAO_MAX_INFLIGHT_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &i64| *n > 0)
        .unwrap_or(500);
    MAX_INFLIGHT.store(from_env, Ordering::Relaxed);
    from_env
}

static RETENTION_MS: std::sync::atomic::AtomicI64 =
    std::sync::atomic::AtomicI64::new(7 * 86_400_000);

/// Applies the app's configuration (`BAO_MAX_INFLIGHT_TASKS`,
/// `BAO_TASK_RETENTION`).
pub(crate) fn configure(config: &crate::config::Config) {
    MAX_INFLIGHT.store(config.max_inflight_tasks, Ordering::Relaxed);
    RETENTION_MS.store(
        i64::try_from(config.task_retention.as_millis()).unwrap_or(i64::MAX),
        Ordering::Relaxed,
    );
}

/// Deletes finished and dead tasks last changed more than `retention` ago
/// (what workers do every hour with `BAO_TASK_RETENTION`); how many.
pub async fn prune(pool: &DbPool, retention: Duration) -> Result<usize, DbError> {
    let before =
        crate::support::clock::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    pool.run(move |c| store::prune(c, before)).await
}

/// Releases the leases of tasks this process still holds (at shutdown,
/// after the drain timeout), so another process takes them at once; the
/// attempt is not counted. Returns how many.
pub async fn release_unfinished(pool: &DbPool) -> Result<usize, DbError> {
    let prefix = format!("tasks:{}:", std::process::id());
    pool.run(move |c| store::release_owned(c, &prefix)).await
}

/// Waits up to `drain` for the task workers (already told to stop) to
/// finish what they hold, then releases what is left.
pub async fn drain_then_release<T>(
    pool: &DbPool,
    workers: tokio::task::JoinHandle<T>,
    drain: Duration,
) {
    if tokio::time::timeout(drain, workers).await.is_err() {
        match release_unfinished(pool).await {
            Ok(n) => tracing::warn!(
                released = n,
                "tasks still running at the drain timeout were released for another process"
            ),
            Err(error) => tracing::error!(%error, "releasing unfinished tasks"),
        }
    }
}

/// Enqueues task `name` with `args` (what `my_task::enqueue` calls).
/// The `N` stored arguments of a task (what generated code decodes one by
/// one): a JSON array of `N` values (no arguments: also `null`).
#[doc(hidden)]
pub fn arguments<const N: usize>(
    args: serde_json::Value,
) -> Result<[serde_json::Value; N], crate::Error> {
    let values = match args {
        serde_json::Value::Array(values) => values,
        serde_json::Value::Null => Vec::new(),
        other => vec![other],
    };
    let found = values.len();
    <[serde_json::Value; N]>::try_from(values).map_err(|_| {
        crate::Error::BadRequest(format!(
            "the task's arguments do not decode: {N} expected, {found} stored"
        ))
    })
}

pub async fn enqueue<A: Serialize>(
    db: &DbPool,
    name: &'static str,
    max_attempts: u32,
    args: &A,
    options: Enqueue,
) -> Result<TaskHandle, TaskError> {
    if !db.runs_task(name) {
        return Err(TaskError::NotListed(name));
    }
    let args = serde_json::to_string(args).map_err(|e| TaskError::Encode(e.to_string()))?;
    let bound = max_inflight();
    let pool = db.clone();
    let result = db
        .run(move |c| {
            pool.ensure_system_tables(c)?;
            let delay_ms = options
                .delay
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            store::insert(
                c,
                name,
                &args,
                options.priority,
                i32::try_from(max_attempts).unwrap_or(i32::MAX),
                delay_ms,
                options.dedup_key.as_deref(),
                bound,
            )
        })
        .await?;
    match result {
        Some((id, created)) => Ok(TaskHandle { id, created }),
        None => Err(TaskError::QueueFull(bound)),
    }
}

/// How workers run.
#[derive(Debug, Clone, Copy)]
pub struct TaskSettings {
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for tasks.
    pub poll: Duration,
}

/// Tasks of each name running in this process.
#[derive(Default)]
struct Running(Mutex<HashMap<&'static str, usize>>);

impl Running {
    /// Each task with a free slot, and how many it has.
    fn free(&self, defs: &[TaskDef]) -> Vec<(&'static str, usize)> {
        let running = self.0.lock().expect("the running map is not poisoned");
        defs.iter()
            .map(|d| {
                let busy = running.get(d.name).copied().unwrap_or(0);
                (d.name, d.max_concurrency.saturating_sub(busy))
            })
            .filter(|(_, free)| *free > 0)
            .collect()
    }

    fn change(&self, name: &'static str, delta: isize) {
        let mut running = self.0.lock().expect("the running map is not poisoned");
        let n = running.entry(name).or_insert(0);
        *n = n.saturating_add_signed(delta);
    }
}

/// Most tasks one worker loop holds at once.
const BATCH: usize = 16;

/// The leases a worker loop holds, renewed together by its heartbeat.
type Held = Arc<Mutex<Vec<(i64, i64)>>>;

/// Claims up to `room` due tasks (highest priority first) within each
/// task's free slots in this process, counting them as running.
async fn claim_some(
    pool: &DbPool,
    defs: &[TaskDef],
    owner: &str,
    lease_ms: i64,
    running: &Running,
    room: usize,
) -> Result<Vec<(TaskDef, store::TaskRow)>, DbError> {
    let free = running.free(defs);
    let names: Vec<&'static str> = free.iter().map(|(n, _)| *n).collect();
    // One statement may return any mix of names: claim no more than the
    // tightest of their free slots.
    let limit = free.iter().map(|(_, f)| *f).min().unwrap_or(0).min(room);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let owner = owner.to_string();
    let tasks = pool
        .run(move |c| store::claim(c, &names, &owner, lease_ms, limit))
        .await?;
    Ok(tasks
        .into_iter()
        .filter_map(|task| {
            let def = defs.iter().find(|d| d.name == task.name).copied()?;
            running.change(def.name, 1);
            Some((def, task))
        })
        .collect())
}

/// Runs one claimed task and settles it as soon as it ends: done (fenced by
/// its lease), retried later, or dead-lettered.
async fn run_claimed(
    pool: &DbPool,
    def: TaskDef,
    task: store::TaskRow,
    running: &Running,
    held: &Held,
) {
    let outcome = execute(pool, def, &task.args).await;
    running.change(def.name, -1);
    let settled = match outcome {
        Ok(()) => {
            let lease = [(task.id, task.lease_token)];
            pool.run(move |c| store::finish(c, &lease)).await
        }
        Err(error) => settle_failure(pool, def, &task, error.to_string()).await,
    };
    held.lock()
        .expect("the held leases are not poisoned")
        .retain(|l| *l != (task.id, task.lease_token));
    if let Err(error) = settled {
        tracing::error!(task = def.name, id = task.id, %error, "settling a task");
    }
}

/// One worker loop: keeps up to [`BATCH`] tasks running, claiming more as
/// soon as some end (not when all have), until `stop`; then lets those in
/// hand finish.
async fn worker_loop(
    pool: DbPool,
    defs: Vec<TaskDef>,
    owner: String,
    settings: TaskSettings,
    running: Arc<Running>,
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
) {
    use futures_util::StreamExt;
    let lease_ms = i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX);
    let held: Held = Arc::default();
    let beat = {
        let (pool, held) = (pool.clone(), held.clone());
        let every = settings.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let leases = held
                    .lock()
                    .expect("the held leases are not poisoned")
                    .clone();
                if !leases.is_empty() {
                    let p = pool.clone();
                    if let Err(error) = p.run(move |c| store::heartbeat(c, &leases, lease_ms)).await
                    {
                        tracing::warn!(%error, "task heartbeat");
                    }
                }
            }
        })
    };
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && inflight.is_empty() {
            break;
        }
        // Claim when half the loop's room is free (or more): claims come in
        // batches instead of one statement per finished task.
        let mut claimed = 0;
        if !stopping && inflight.len() <= BATCH / 2 {
            match claim_some(
                &pool,
                &defs,
                &owner,
                lease_ms,
                &running,
                BATCH - inflight.len(),
            )
            .await
            {
                Ok(tasks) => {
                    claimed = tasks.len();
                    for (def, task) in tasks {
                        held.lock()
                            .expect("the held leases are not poisoned")
                            .push((task.id, task.lease_token));
                        let (pool, running, held) = (&pool, &running, &held);
                        inflight
                            .push(async move { run_claimed(pool, def, task, running, held).await });
                    }
                }
                Err(error) => tracing::error!(%error, "task worker"),
            }
        }
        if claimed > 0 && inflight.len() <= BATCH / 2 {
            // There may be more due: claim again at once.
            continue;
        }
        if inflight.is_empty() {
            // A NOTIFY (PostgreSQL) or the poll interval, whichever first.
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(settings.poll) => {}
            }
            continue;
        }
        if stopping || inflight.len() > BATCH / 2 || claimed > 0 {
            // Busy: wait for a task to end.
            inflight.next().await;
        } else {
            // Room, but nothing was due: wait for a task to end or for the
            // next look at the queue.
            tokio::select! {
                _ = inflight.next() => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(settings.poll) => {}
            }
        }
    }
    beat.abort();
}

/// The process-wide bound on CPU tasks running at once: one per core.
fn cpu_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Runs one task's function where its kind says.
async fn execute(pool: &DbPool, def: TaskDef, args: &str) -> Result<(), crate::Error> {
    let args: serde_json::Value = serde_json::from_str(args).unwrap_or(serde_json::Value::Null);
    match def.kind {
        TaskKind::Io => POOL.scope(pool.clone(), (def.run)(args)).await,
        TaskKind::Cpu => {
            // At most one CPU task per core runs at once in a process,
            // whatever the tasks' own `max_concurrency`.
            let _slot = cpu_slots()
                .acquire()
                .await
                .map_err(|_| crate::Error::Internal("the CPU task pool is closed".into()))?;
            let handle = tokio::runtime::Handle::current();
            let (run, scoped) = (def.run, pool.clone());
            tokio::task::spawn_blocking(move || handle.block_on(POOL.scope(scoped, run(args))))
                .await
                .unwrap_or_else(|e| Err(crate::Error::Internal(format!("the task panicked: {e}"))))
        }
    }
}

/// A failed attempt: retried later with backoff, or dead-lettered when it
/// was the last.
async fn settle_failure(
    pool: &DbPool,
    def: TaskDef,
    task: &store::TaskRow,
    message: String,
) -> Result<(), DbError> {
    let (id, token, attempts) = (task.id, task.lease_token, task.attempts);
    if attempts < task.max_attempts {
        let wait = backoff_ms(attempts);
        tracing::warn!(task = def.name, id, attempts, error = %message, "task failed; retrying");
        pool.run(move |c| store::retry(c, id, token, &message, wait))
            .await
    } else {
        tracing::error!(task = def.name, id, attempts, error = %message, "task failed for good: dead-lettered");
        let (name, payload) = (def.name.to_string(), task.args.clone());
        pool.run(move |c| {
            store::bury(c, id, token, &message)?;
            dlq::insert(
                c,
                &name,
                &payload,
                &message,
                attempts,
                Some(&format!("task:{id}")),
            )
            .map(drop)
        })
        .await
    }
}

/// 0.5 s, 1 s, 2 s, .. up to a minute, with up to 25% jitter.
fn backoff_ms(attempt: i32) -> i64 {
    let base = 250i64
        .saturating_mul(1i64 << attempt.clamp(1, 16))
        .min(60_000);
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    base + base * i64::from(jitter[0]) / 1024
}

/// Runs task workers until `stop`: `concurrency` loops, each claiming and
/// running tasks, within each task's `max_concurrency` in this process.
pub async fn work(
    pool: DbPool,
    defs: Vec<TaskDef>,
    settings: TaskSettings,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) {
    if defs.is_empty() {
        return;
    }
    let ready = pool.clone();
    if let Err(error) = pool.run(move |c| ready.ensure_system_tables(c)).await {
        tracing::error!(%error, "the task workers cannot prepare their tables");
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    if pool.dialect() == crate::db::Dialect::Postgres {
        crate::db::listen(&pool, store::CHANNEL, wake.clone(), stop.clone());
    }
    let running = Arc::new(Running::default());
    let pruner = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::SeqCst) {
                if tokio::time::Instant::now() >= next {
                    next += Duration::from_secs(3600);
                    let retention = Duration::from_millis(
                        u64::try_from(RETENTION_MS.load(Ordering::Relaxed)).unwrap_or(0),
                    );
                    match prune(&pool, retention).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "old finished tasks pruned"),
                        Err(error) => tracing::warn!(%error, "pruning finished tasks"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let loops: Vec<_> = (0..concurrency.max(1))
        .map(|i| {
            tokio::spawn(worker_loop(
                pool.clone(),
                defs.clone(),
                format!("tasks:{}:{i}", std::process::id()),
                settings,
                running.clone(),
                stop.clone(),
                wake.clone(),
            ))
        })
        .collect();
    for l in loops {
        let _ = l.await;
    }
    pruner.abort();
}

/// Runs queued task `id` (of `def`) now, in this process, however far its
/// start is (`bao tasks:run`); its row afterwards, or `None` when it was not
/// queued.
pub async fn run_now(
    pool: &DbPool,
    def: TaskDef,
    id: i64,
) -> Result<Option<store::TaskRow>, DbError> {
    let owner = format!("tasks:{}:now", std::process::id());
    let Some(task) = pool
        .run(move |c| store::claim_id(c, id, &owner, 60_000))
        .await?
    else {
        return Ok(None);
    };
    let running = Running::default();
    running.change(def.name, 1);
    run_claimed(pool, def, task, &running, &Held::default()).await;
    pool.run(move |c| store::find(c, id)).await
}

/// Runs every due task until none is left (tests, `tasks:run`).
pub async fn drain(pool: &DbPool, defs: &[TaskDef]) -> Result<usize, DbError> {
    let running = Running::default();
    let held: Held = Arc::default();
    let mut n = 0;
    loop {
        let tasks = claim_some(pool, defs, "drain", 30_000, &running, BATCH).await?;
        if tasks.is_empty() {
            return Ok(n);
        }
        n += tasks.len();
        futures_util::future::join_all(
            tasks
                .into_iter()
                .map(|(def, task)| run_claimed(pool, def, task, &running, &held)),
        )
        .await;
    }
}

/// Replays dead letter `id`: a task's is enqueued again with its original
/// arguments (`task_attempts`: the attempts of the app's task of that name,
/// `None` when the app has none), a workflow run is started again (its
/// completed steps kept), any other letter (from [`crate::fault::dead_letter`])
/// is marked replayed. The outcome is recorded on the letter and returned.
pub fn replay_dead_letter(
    conn: &mut crate::db::DbConnection,
    id: i64,
    task_attempts: Option<i32>,
) -> Result<String, DbError> {
    // One transaction whose first statement claims the letter: of two
    // concurrent replays one wins, the other sees it replayed; a replay
    // that fails rolls its claim back.
    conn.write_transaction(|conn| replay_claimed(conn, id, task_attempts))
}

fn replay_claimed(
    conn: &mut crate::db::DbConnection,
    id: i64,
    task_attempts: Option<i32>,
) -> Result<String, DbError> {
    if !crate::fault::dlq::claim_replay(conn, id)? {
        let letter = crate::fault::dlq::find(conn, id)?.ok_or(DbError::NotFound)?;
        return Err(DbError::Conflict(format!(
            "dead letter {id} was replayed already ({})",
            letter.replay_outcome.unwrap_or_default()
        )));
    }
    let letter = crate::fault::dlq::find(conn, id)?.ok_or(DbError::NotFound)?;
    let outcome = match letter
        .source_id
        .as_deref()
        .and_then(|s| s.strip_prefix("workflow:"))
    {
        Some(run_id) => {
            crate::workflow::store::drop_failed_steps(conn, run_id)?;
            if crate::workflow::store::set_status(
                conn,
                run_id,
                &["failed", "cancelled"],
                "pending",
            )? {
                format!("workflow run {run_id} started again")
            } else {
                return Err(DbError::Conflict(format!(
                    "workflow run {run_id} is not failed"
                )));
            }
        }
        None => {
            let Some(max_attempts) = task_attempts else {
                let outcome = format!(
                    "marked replayed (no task `{}` in this app to run it); payload: {}",
                    letter.queue, letter.payload
                );
                crate::fault::dlq::mark_replayed(conn, id, &outcome)?;
                return Ok(outcome);
            };
            let Some((task, _)) = store::insert(
                conn,
                &letter.queue,
                &letter.payload,
                0,
                max_attempts,
                0,
                None,
                max_inflight(),
            )?
            else {
                return Err(DbError::Conflict(
                    "the task queue is full (BAO_MAX_INFLIGHT_TASKS); replay again later".into(),
                ));
            };
            format!("re-enqueued as task {task}")
        }
    };
    crate::fault::dlq::mark_replayed(conn, id, &outcome)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::arguments;
    use serde_json::json;

    #[test]
    fn stored_arguments_are_checked_for_their_count() {
        assert_eq!(
            arguments::<2>(json!([1, "a"])).unwrap(),
            [json!(1), json!("a")]
        );
        // A task without arguments stored `null` before it stored `[]`.
        assert!(arguments::<0>(json!(null)).is_ok());
        assert!(arguments::<0>(json!([])).is_ok());
        let error = arguments::<2>(json!([1])).unwrap_err().to_string();
        assert!(error.contains("2 expected, 1 stored"), "{error}");
    }
}
