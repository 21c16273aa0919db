//! The connection pool and the `Db` extractor: blocking diesel work runs on
//! actix-web's blocking pool, never on the async executor.

use super::connection::{DatabaseUrl, DbConnection, Dialect};
use super::error::DbError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use futures_util::future::{ready, Ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Opens connections for the pool, and remembers whether the last attempt
/// failed (the database is down) so that requests fail fast meanwhile.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    down: Arc<AtomicBool>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let result = DbConnection::open(&self.url);
        let was_down = self.down.swap(result.is_err(), Ordering::AcqRel);
        match &result {
            Err(error) if !was_down => {
                tracing::error!(error = %error, "the database cannot be reached");
            }
            Ok(_) if was_down => tracing::info!("the database is reachable again"),
            _ => {}
        }
        result.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// Called as a connection returns to the pool, on the thread that used
    /// it: a connection whose last error showed it is gone (the server
    /// restarted, the network dropped it, an administrator terminated it) or
    /// that was left inside a failed transaction is closed instead of being
    /// handed to the next request.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        let lost = super::error::take_connection_lost();
        lost || match conn {
            DbConnection::Postgres(c) => c.is_broken(),
            DbConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

/// How long a request waits for a connection while the database is known to
/// be down: long enough to notice it is back, short enough that the answer
/// (503 + Retry-After) comes at once.
const DOWN_WAIT: Duration = Duration::from_millis(250);

/// How long a request waits for a free connection when the database is up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to the app's database. Cheap to clone.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<ConnectionManager>,
    dialect: Dialect,
    url: DatabaseUrl,
    /// The last attempt to connect failed.
    down: Arc<AtomicBool>,
    /// Opens connections for the probes while `down`.
    manager: ConnectionManager,
    /// When a caller last tried to connect while `down` (ms since the epoch).
    last_probe: Arc<std::sync::atomic::AtomicI64>,
    /// Bao's own tables are known to exist (checked once per pool).
    system_ready: Arc<AtomicBool>,
    /// Held while Bao's system migrations are applied.
    migrating: Arc<std::sync::Mutex<()>>,
    /// State other parts of Bao keep per database (the channel hub), by type.
    extensions: Arc<std::sync::Mutex<Extensions>>,
}

type Extensions = std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>;

/// The task and workflow names an app runs, once recorded.
#[derive(Default)]
struct Runnable(std::sync::OnceLock<(Vec<&'static str>, Vec<&'static str>)>);

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbPool")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl DbPool {
    /// A pool for `url`. Connections open on first use, so an app that never
    /// touches its database never creates a file.
    pub fn new(url: &str) -> Result<DbPool, DbError> {
        let url = DatabaseUrl::parse(url).map_err(DbError::Config)?;
        let dialect = url.dialect();
        // SQLite allows one writer at a time: a small pool avoids lock
        // contention; PostgreSQL gets one connection per worker and a few more.
        let max = match &url {
            // Each connection to `:memory:` is a database of its own: share one.
            DatabaseUrl::Sqlite(path) if path == ":memory:" => 1,
            DatabaseUrl::Sqlite(_) => 4,
            DatabaseUrl::Postgres(_) => 16,
        };
        let down = Arc::new(AtomicBool::new(false));
        let manager = ConnectionManager {
            url: url.clone(),
            down: down.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(max)
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .test_on_check_out(false)
            .build_unchecked(manager.clone());
        Ok(DbPool {
            pool,
            dialect,
            url,
            down,
            manager,
            last_probe: Arc::default(),
            system_ready: Arc::default(),
            extensions: Arc::default(),
            migrating: Arc::default(),
        })
    }

    /// Applies Bao's system migrations once per pool (callers that write
    /// Bao's tables use it, so an app need not run `bao migrate` first).
    pub(crate) fn ensure_system_tables(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        if !self.system_ready.load(Ordering::Acquire) {
            // One caller at a time: two connections applying the same
            // migration at once would collide.
            let _one = self.migrating.lock().unwrap_or_else(|e| e.into_inner());
            if !self.system_ready.load(Ordering::Acquire) {
                super::system::migrate(conn)?;
                self.system_ready.store(true, Ordering::Release);
            }
        }
        Ok(())
    }

    /// A connection of its own, outside the pool (a LISTEN connection).
    pub(crate) fn open_dedicated(&self) -> Result<DbConnection, DbError> {
        DbConnection::open(&self.url).map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// The value of type `T` kept for this pool and its clones, made with
    /// `make` the first time it is asked for.
    pub(crate) fn extension<T: Send + Sync + 'static>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self.extensions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Arc::new(make()));
        entry
            .clone()
            .downcast::<T>()
            .expect("keyed by its own type")
    }

    /// Records the tasks and workflows of the app serving with this pool
    /// (its clones share them), so that starting one the app does not run
    /// is refused at once instead of waiting forever.
    pub(crate) fn record_runnable(&self, tasks: Vec<&'static str>, workflows: Vec<&'static str>) {
        let _ = self.extension(Runnable::default).0.set((tasks, workflows));
    }

    /// Whether task `name` can run here: it is one of the app's, or no app
    /// recorded its tasks on this pool (a pool of its own, as in scripts
    /// and tests).
    pub(crate) fn runs_task(&self, name: &str) -> bool {
        self.extension(Runnable::default)
            .0
            .get()
            .is_none_or(|(tasks, _)| tasks.contains(&name))
    }

    /// Whether workflow `name` can run here (as [`DbPool::runs_task`]).
    pub(crate) fn runs_workflow(&self, name: &str) -> bool {
        self.extension(Runnable::default)
            .0
            .get()
            .is_none_or(|(_, workflows)| workflows.contains(&name))
    }

    /// The same number for this pool and its clones: a key for caches kept
    /// per database.
    pub(crate) fn cache_key(&self) -> usize {
        Arc::as_ptr(&self.down) as usize
    }

    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the last attempt to connect failed: the database is down or
    /// unreachable, and requests fail fast until a connection succeeds.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// A connection for blocking code (CLI commands, migrations, tests).
    ///
    /// Waits up to 5 s for a free connection; while the database is down,
    /// only briefly, so callers answer 503 at once instead of piling up.
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        if self.is_down() {
            // One caller in each DOWN_WAIT tries to connect (refused at once
            // while the server is away); the others get an idle connection
            // if there is one, else an answer at once.
            let now = crate::support::clock::now_ms();
            let last = self.last_probe.load(Ordering::Acquire);
            let probe_due = now.saturating_sub(last) >= DOWN_WAIT.as_millis() as i64
                && self
                    .last_probe
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
            if !probe_due {
                return self
                    .pool
                    .try_get()
                    .ok_or_else(|| DbError::Unavailable("the database cannot be reached".into()));
            }
            // Back: the pool's own attempts succeed from here on.
            self.manager
                .connect()
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
        }
        // In slices, so that a wait which began before the outage was
        // noticed ends as soon as it is.
        let deadline = std::time::Instant::now() + CHECKOUT_TIMEOUT;
        loop {
            match self.pool.get_timeout(DOWN_WAIT) {
                Ok(conn) => return Ok(conn),
                Err(error) if self.is_down() || std::time::Instant::now() >= deadline => {
                    return Err(DbError::Unavailable(error.to_string()));
                }
                Err(_) => {}
            }
        }
    }

    /// Runs `work` with a connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Unavailable(format!("the blocking pool failed: {e}")))?
    }

    /// Checks the database answers (`SELECT 1`), for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(DbError::from))
            .await
    }
}

/// The app's database, as a handler argument: `async fn index(db: Db) -> ..`.
///
/// `db.run(|conn| ..)` runs diesel code off the async executor.
#[derive(Clone, Debug)]
pub struct Db(pub DbPool);

impl std::ops::Deref for Db {
    type Target = DbPool;

    fn deref(&self) -> &DbPool {
        &self.0
    }
}

impl FromRequest for Db {
    type Error = crate::Error;
    type Future = Ready<Result<Db, crate::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pool = req
            .app_data::<web::Data<DbPool>>()
            .map(|pool| pool.get_ref().clone());
        ready(match pool {
            Some(pool) => Ok(Db(pool)),
            None => Err(crate::Error::from(DbError::Config(
                "the database is not configured: set BAO_DATABASE_URL".into(),
            ))),
        })
    }
}
