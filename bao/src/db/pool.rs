//! The connection pool and the `Db` extractor: blocking diesel work runs on
//! actix-web's blocking pool, never on the async executor.

use super::connection::{DatabaseUrl, DbConnection, Dialect};
use super::error::DbError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use futures_util::future::{ready, Ready};
use std::time::Duration;

/// Opens connections for the pool.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        DbConnection::open(&self.url).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _: &mut DbConnection) -> bool {
        false
    }
}

/// A pool of connections to the app's database. Cheap to clone.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<ConnectionManager>,
    dialect: Dialect,
    url: DatabaseUrl,
    /// Bao's own tables are known to exist (checked once per pool).
    system_ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

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
        let pool = r2d2::Pool::builder()
            .max_size(max)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            .test_on_check_out(false)
            .build_unchecked(ConnectionManager { url: url.clone() });
        Ok(DbPool {
            pool,
            dialect,
            url,
            system_ready: std::sync::Arc::default(),
        })
    }

    /// Applies Bao's system migrations once per pool (callers that write
    /// Bao's tables use it, so an app need not run `bao migrate` first).
    pub(crate) fn ensure_system_tables(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        use std::sync::atomic::Ordering;
        if !self.system_ready.load(Ordering::Acquire) {
            super::system::migrate(conn)?;
            self.system_ready.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// A connection of its own, outside the pool (a LISTEN connection).
    pub(crate) fn open_dedicated(&self) -> Result<DbConnection, DbError> {
        DbConnection::open(&self.url).map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A connection for blocking code (CLI commands, migrations, tests).
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
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
