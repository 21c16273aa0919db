//! `bao::memory`: short-term notes per scope, and vector memories searched
//! by meaning, by keywords, or both, in the app's own database.
//!
//! ```
//! # bao::testing::block_on(async {
//! use bao::memory::{self, VectorMemory};
//! let db = bao::db::DbPool::new("sqlite::memory:").unwrap();
//! memory::remember(&db, "session:42", "the user asked about retries").await?;
//! assert_eq!(memory::recall(&db, "session:42", 10).await?.len(), 1);
//!
//! let kb = VectorMemory::open(&db, "kb", 384).await?;
//! kb.add("Bao bounds every background task.", bao::json!({"source": "docs"})).await?;
//! kb.add("Bread needs flour and water.", bao::json!({"source": "recipes"})).await?;
//! let hits = kb.search("how are background tasks bounded?", 1).filter("source", "docs").await?;
//! assert_eq!(hits[0].text, "Bao bounds every background task.");
//! # Ok::<(), bao::Error>(()) }).unwrap();
//! ```
//!
//! Vector search runs in process over vectors cached from the table
//! (reloaded when another process changed it), with the tenant and
//! metadata filters applied inside the scan, so a filtered top-k returns k
//! rows when k exist. Small memories are scanned exactly; from
//! [`QUANTIZED_FROM`] items on, a scan over 8-bit copies of the vectors
//! picks candidates that are then ranked by their exact cosine. Keyword
//! search runs in the database's full-text index (FTS5 with BM25 on
//! SQLite, an English `tsvector` with `ts_rank` on PostgreSQL), with the
//! same tenant and filters in its `WHERE`; hybrid fuses both rankings with
//! reciprocal rank fusion.

mod index;
mod store;

pub use index::{Mode, QUANTIZED_FROM};

use crate::db::DbPool;
use crate::Error;
use serde::Serialize;
use serde_json::Value;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

/// How many notes a scope keeps (the oldest go first).
pub const NOTES_PER_SCOPE: i64 = 200;

/// A short-term note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// Its id.
    pub id: i64,
    /// Its text.
    pub text: String,
    /// When it was written (ms since the epoch).
    pub created_at: i64,
}

/// The short-term notes of the app ([`notes`]) or of one tenant
/// ([`Notes::for_tenant`]): the same scope name in two tenants is two
/// scopes. The free functions [`remember`], [`recall`] and [`forget`] use
/// the app's own.
///
/// ```
/// # bao::testing::block_on(async {
/// use bao::{memory, Tenant};
/// let db = bao::db::DbPool::new("sqlite::memory:").unwrap();
/// let acme = memory::notes(&db).for_tenant(Tenant(1));
/// acme.remember("ticket:7", "the customer wants a refund").await?;
/// assert_eq!(acme.recall("ticket:7", 10).await?.len(), 1);
/// assert!(memory::notes(&db).for_tenant(Tenant(2)).recall("ticket:7", 10).await?.is_empty());
/// assert!(memory::recall(&db, "ticket:7", 10).await?.is_empty());
/// # Ok::<(), bao::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Notes {
    db: DbPool,
    /// The tenant whose notes these are (0: the app's own).
    tenant: i64,
}

/// The app's own short-term notes (no tenant).
pub fn notes(db: &DbPool) -> Notes {
    Notes {
        db: db.clone(),
        tenant: 0,
    }
}

impl Notes {
    /// The notes of `tenant`.
    pub fn for_tenant(&self, tenant: crate::Tenant) -> Notes {
        Notes {
            db: self.db.clone(),
            tenant: tenant.0,
        }
    }

    /// Adds `text` to the notes of `scope` (a session, a user, a ticket),
    /// keeping the newest [`NOTES_PER_SCOPE`].
    pub async fn remember(&self, scope: &str, text: &str) -> crate::Result<i64> {
        let (scope, text) = (scope.to_string(), text.to_string());
        self.run(move |c, tenant| store::add_note(c, tenant, &scope, &text, NOTES_PER_SCOPE))
            .await
    }

    /// The newest `limit` notes of `scope`, oldest first (the order to
    /// hand a model).
    pub async fn recall(&self, scope: &str, limit: usize) -> crate::Result<Vec<Note>> {
        let scope = scope.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c, tenant| store::notes(c, tenant, &scope, limit))
            .await
    }

    /// Forgets the notes of `scope`; how many.
    pub async fn forget(&self, scope: &str) -> crate::Result<usize> {
        let scope = scope.to_string();
        self.run(move |c, tenant| store::forget_notes(c, tenant, &scope))
            .await
    }

    /// Runs `work` with a connection whose system tables exist, for this
    /// handle's tenant.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut crate::db::DbConnection, i64) -> Result<T, crate::db::DbError>
            + Send
            + 'static,
    ) -> crate::Result<T> {
        let (pool, tenant) = (self.db.clone(), self.tenant);
        Ok(self
            .db
            .run(move |c| {
                pool.ensure_system_tables(c)?;
                work(c, tenant)
            })
            .await?)
    }
}

/// Adds `text` to the app's notes of `scope` (see [`Notes::remember`]).
pub async fn remember(db: &DbPool, scope: &str, text: &str) -> crate::Result<i64> {
    notes(db).remember(scope, text).await
}

/// The newest `limit` of the app's notes of `scope`, oldest first.
pub async fn recall(db: &DbPool, scope: &str, limit: usize) -> crate::Result<Vec<Note>> {
    notes(db).recall(scope, limit).await
}

/// Forgets the app's notes of `scope`; how many.
pub async fn forget(db: &DbPool, scope: &str) -> crate::Result<usize> {
    notes(db).forget(scope).await
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The item's id.
    pub id: i64,
    /// Its text.
    pub text: String,
    /// Its metadata.
    pub metadata: Value,
    /// Its score: cosine similarity (vector), the database's full-text
    /// rank (keyword: BM25 on SQLite, `ts_rank` on PostgreSQL) or the fused
    /// reciprocal-rank score (hybrid); higher is closer.
    pub score: f32,
}

/// A named collection of texts with embeddings of `dims` numbers.
///
/// A memory handle made with [`VectorMemory::for_tenant`] sees only that
/// tenant's items: it stamps the tenant on what it adds, and its searches,
/// counts, prunes and deletes touch nothing else. A handle without a
/// tenant sees only items added without one.
#[derive(Debug, Clone)]
pub struct VectorMemory {
    pool: DbPool,
    name: String,
    dims: usize,
    /// The tenant whose items this handle sees (0: items of no tenant).
    tenant: i64,
    /// Vector search by sqlite-vec inside SQLite instead of the cache.
    in_database: bool,
}

impl VectorMemory {
    /// Opens (creating it the first time) the memory `name` of `dims`
    /// dimensions; an existing memory of another dimension is an error.
    pub async fn open(db: &DbPool, name: &str, dims: usize) -> crate::Result<VectorMemory> {
        if dims == 0 || dims > 16_384 {
            return Err(Error::BadRequest(format!(
                "a vector memory has 1 to 16384 dimensions, not {dims}"
            )));
        }
        let (pool, n) = (db.clone(), name.to_string());
        let existing = db
            .run(move |c| {
                pool.ensure_system_tables(c)?;
                store::open_collection(c, &n, dims)
            })
            .await?;
        if existing != dims {
            return Err(Error::BadRequest(format!(
                "vector memory `{name}` has {existing} dimensions; it was opened with {dims}"
            )));
        }
        Ok(VectorMemory {
            pool: db.clone(),
            name: name.to_string(),
            dims,
            tenant: 0,
            in_database: false,
        })
    }

    /// This memory as `tenant` sees it: what it adds belongs to the tenant,
    /// and it finds, counts, prunes and deletes only the tenant's items.
    ///
    /// ```
    /// # bao::testing::block_on(async {
    /// use bao::{memory::VectorMemory, Tenant};
    /// let db = bao::db::DbPool::new("sqlite::memory:").unwrap();
    /// let kb = VectorMemory::open(&db, "kb", 3).await?;
    /// let (acme, globex) = (kb.for_tenant(Tenant(1)), kb.for_tenant(Tenant(2)));
    /// acme.add_vectors(vec![("Acme's price list".into(), bao::json!({}), vec![1.0, 0.0, 0.0])]).await?;
    /// assert_eq!(acme.search("", 5).vector(vec![1.0, 0.0, 0.0]).await?.len(), 1);
    /// assert!(globex.search("", 5).vector(vec![1.0, 0.0, 0.0]).await?.is_empty());
    /// assert!(kb.is_empty().await?);
    /// # Ok::<(), bao::Error>(()) }).unwrap();
    /// ```
    pub fn for_tenant(&self, tenant: crate::Tenant) -> VectorMemory {
        VectorMemory {
            tenant: tenant.0,
            ..self.clone()
        }
    }

    /// This memory searched by meaning inside SQLite, by sqlite-vec's
    /// exact cosine over the stored vectors, instead of by the in-process
    /// cache: nothing is loaded or kept in RAM, and a search reads the
    /// collection from the database each time (slower; for memories too
    /// large to cache). PostgreSQL has no such search: there, searching
    /// through this handle is an error.
    ///
    /// ```
    /// # bao::testing::block_on(async {
    /// use bao::memory::VectorMemory;
    /// let db = bao::db::DbPool::new("sqlite::memory:").unwrap();
    /// let kb = VectorMemory::open(&db, "kb", 3).await?.in_database();
    /// kb.add_vectors(vec![("north".into(), bao::json!({}), vec![0.0, 1.0, 0.0])]).await?;
    /// let hits = kb.search("", 1).vector(vec![0.1, 0.9, 0.0]).await?;
    /// assert_eq!(hits[0].text, "north");
    /// # Ok::<(), bao::Error>(()) }).unwrap();
    /// ```
    pub fn in_database(&self) -> VectorMemory {
        VectorMemory {
            in_database: true,
            ..self.clone()
        }
    }

    /// The tenant this handle sees, if any.
    pub fn tenant(&self) -> Option<crate::Tenant> {
        (self.tenant != 0).then_some(crate::Tenant(self.tenant))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Adds `text` with `metadata` (a JSON object); its id.
    pub async fn add(&self, text: &str, metadata: Value) -> crate::Result<i64> {
        let ids = self.add_batch(vec![(text.to_string(), metadata)]).await?;
        Ok(ids[0])
    }

    /// Adds many texts, embedded in batches of 64; their ids in order.
    /// Nothing is stored when an embedding has the wrong dimension.
    pub async fn add_batch(&self, items: Vec<(String, Value)>) -> crate::Result<Vec<i64>> {
        let rows = self.embed(items).await?;
        self.add_vectors(rows).await
    }

    /// Embeds texts for this memory, checking each vector's dimensions and
    /// each metadata's shape.
    async fn embed(
        &self,
        items: Vec<(String, Value)>,
    ) -> crate::Result<Vec<(String, Value, Vec<f32>)>> {
        let mut rows = Vec::with_capacity(items.len());
        for chunk in items.chunks(64) {
            let texts: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
            let vectors = crate::ai::embed(&texts).await?;
            for ((text, metadata), vector) in chunk.iter().zip(vectors) {
                if vector.len() != self.dims {
                    return Err(Error::BadRequest(format!(
                        "the embedder made {} dimensions and memory `{}` has {}: nothing was stored",
                        vector.len(),
                        self.name,
                        self.dims
                    )));
                }
                if !metadata.is_object() && !metadata.is_null() {
                    return Err(Error::BadRequest(format!(
                        "metadata is a JSON object, not {metadata}"
                    )));
                }
                rows.push((text.clone(), metadata.clone(), vector));
            }
        }
        Ok(rows)
    }

    /// Adds texts with vectors made elsewhere; their ids.
    pub async fn add_vectors(
        &self,
        rows: Vec<(String, Value, Vec<f32>)>,
    ) -> crate::Result<Vec<i64>> {
        if let Some((_, _, v)) = rows.iter().find(|(_, _, v)| v.len() != self.dims) {
            return Err(Error::BadRequest(format!(
                "a vector of {} dimensions for memory `{}` of {}: nothing was stored",
                v.len(),
                self.name,
                self.dims
            )));
        }
        let (name, tenant) = (self.name.clone(), self.tenant);
        let ids = self
            .pool
            .run(move |c| store::add_items(c, &name, tenant, &rows))
            .await?;
        Ok(ids)
    }

    /// The `k` items closest to `query`: `.filter(key, value)` to keep
    /// only items whose metadata has that value, `.mode(..)` for vector,
    /// keyword or hybrid (default vector), then `.await`.
    pub fn search(&self, query: &str, k: usize) -> Search<'_> {
        Search {
            memory: self,
            query: query.to_string(),
            vector: None,
            k,
            filters: Vec::new(),
            mode: Mode::Vector,
        }
    }

    /// Deletes items older than `max_age`, then the oldest beyond
    /// `max_items`; how many.
    pub async fn prune(
        &self,
        max_age: Option<Duration>,
        max_items: Option<usize>,
    ) -> crate::Result<usize> {
        let (name, tenant) = (self.name.clone(), self.tenant);
        let cutoff = max_age.map(|age| {
            crate::support::clock::now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
        });
        let keep = max_items.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        Ok(self
            .pool
            .run(move |c| store::prune(c, &name, tenant, cutoff, keep))
            .await?)
    }

    /// Deletes the items whose metadata `key` is `value`; how many.
    pub async fn delete_where(&self, key: &str, value: Value) -> crate::Result<usize> {
        check_key(key)?;
        let (name, key, tenant) = (self.name.clone(), key.to_string(), self.tenant);
        Ok(self
            .pool
            .run(move |c| store::delete_where(c, &name, tenant, &key, &value))
            .await?)
    }

    /// Replaces the items whose metadata `key` is `value` by `items`
    /// (embedded first), in one transaction run by `also`'s connection
    /// with `also`'s own writes: on any error nothing changes.
    pub(crate) async fn replace_where<T: Send + 'static>(
        &self,
        key: &str,
        value: Value,
        items: Vec<(String, Value)>,
        also: impl FnOnce(&mut crate::db::DbConnection) -> Result<T, crate::db::DbError>
            + Send
            + 'static,
    ) -> crate::Result<(T, Vec<i64>)> {
        check_key(key)?;
        let rows = self.embed(items).await?;
        let (name, key, tenant) = (self.name.clone(), key.to_string(), self.tenant);
        Ok(self
            .pool
            .run(move |c| {
                c.write_transaction(|c| {
                    let extra = also(c)?;
                    let ids = store::replace_where(c, &name, tenant, &key, &value, &rows)?;
                    Ok((extra, ids))
                })
            })
            .await?)
    }

    /// How many items it holds.
    pub async fn len(&self) -> crate::Result<i64> {
        let (name, tenant) = (self.name.clone(), self.tenant);
        Ok(self
            .pool
            .run(move |c| store::count(c, &name, tenant))
            .await?)
    }

    /// Whether it holds nothing.
    pub async fn is_empty(&self) -> crate::Result<bool> {
        Ok(self.len().await? == 0)
    }
}

/// A search being built; `.await` runs it.
#[derive(Debug)]
pub struct Search<'a> {
    memory: &'a VectorMemory,
    query: String,
    vector: Option<Vec<f32>>,
    k: usize,
    filters: Vec<(String, Value)>,
    mode: Mode,
}

impl Search<'_> {
    /// Keeps only items whose metadata `key` equals `value` (applied inside
    /// the search: k results when k such items exist).
    pub fn filter(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.filters.push((key.to_string(), value.into()));
        self
    }

    /// Vector, keyword or hybrid search.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Searches by this vector instead of embedding the query text (the
    /// text still drives keyword and hybrid search).
    pub fn vector(mut self, vector: Vec<f32>) -> Self {
        self.vector = Some(vector);
        self
    }

    async fn run(self) -> crate::Result<Vec<Hit>> {
        let memory = self.memory;
        for (key, _) in &self.filters {
            check_key(key)?;
        }
        let scope = index::Scope {
            tenant: memory.tenant,
            filters: self.filters,
        };
        let (query, k) = (self.query, self.k);
        if self.mode == Mode::Keyword {
            return memory.keyword(&query, k, &scope).await;
        }
        let vector = match self.vector {
            Some(v) => v,
            None => crate::ai::embed(&[query.as_str()])
                .await?
                .pop()
                .unwrap_or_default(),
        };
        if vector.len() != memory.dims {
            return Err(Error::BadRequest(format!(
                "the query's embedding has {} dimensions and memory `{}` has {}",
                vector.len(),
                memory.name,
                memory.dims
            )));
        }
        if self.mode == Mode::Vector {
            return memory.nearest(vector, k, scope).await;
        }
        // Hybrid: reciprocal rank fusion over a deeper list of each.
        let depth = (k * 4).max(20);
        let by_words = memory.keyword(&query, depth, &scope).await?;
        let mut by_meaning = memory.nearest(vector, depth, scope).await?;
        // Items with no similarity at all are no vector match.
        by_meaning.retain(|hit| hit.score > 0.0);
        Ok(index::fuse([by_meaning, by_words], k))
    }
}

impl VectorMemory {
    /// The `k` nearest items in `scope` by cosine, from the cached index
    /// (or by sqlite-vec in the database, see [`VectorMemory::in_database`]).
    async fn nearest(
        &self,
        vector: Vec<f32>,
        k: usize,
        scope: index::Scope,
    ) -> crate::Result<Vec<Hit>> {
        if self.in_database {
            if self.pool.dialect() != crate::db::Dialect::Sqlite {
                return Err(Error::BadRequest(format!(
                    "memory `{}` is searched in the database, which needs SQLite (sqlite-vec); \
                     on PostgreSQL search it without `in_database()` (the in-process index)",
                    self.name
                )));
            }
            let name = self.name.clone();
            let found = self
                .pool
                .run(move |c| store::nearest(c, &name, scope.tenant, &scope.filters, &vector, k))
                .await?;
            return Ok(found.into_iter().map(Hit::from).collect());
        }
        let index = index::load(&self.pool, &self.name).await?;
        // A scan over many rows is CPU work: off the async executor.
        tokio::task::spawn_blocking(move || index.nearest(&vector, k, &scope))
            .await
            .map_err(|e| Error::Internal(format!("the search failed: {e}")))
    }

    /// The `k` best items in `scope` by the database's full-text index.
    async fn keyword(
        &self,
        query: &str,
        k: usize,
        scope: &index::Scope,
    ) -> crate::Result<Vec<Hit>> {
        let (name, query, scope) = (self.name.clone(), query.to_string(), scope.clone());
        let found = self
            .pool
            .run(move |c| store::keyword(c, &name, scope.tenant, &scope.filters, &query, k))
            .await?;
        Ok(found.into_iter().map(Hit::from).collect())
    }
}

impl From<store::Found> for Hit {
    fn from(row: store::Found) -> Hit {
        Hit {
            id: row.id,
            text: row.text,
            metadata: serde_json::from_str(&row.metadata).unwrap_or(Value::Null),
            score: row.score as f32,
        }
    }
}

fn check_key(key: &str) -> crate::Result<()> {
    if store::filterable_key(key) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "`{key}` cannot name a metadata field: use a key without double quotes"
        )))
    }
}

impl<'a> IntoFuture for Search<'a> {
    type Output = crate::Result<Vec<Hit>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Opens the memory `name` with the dimensions it was made with, or, the
/// first time, with the embedder's (one probe embedding).
pub(crate) async fn open_with_embedder_dims(
    db: &DbPool,
    name: &str,
) -> crate::Result<VectorMemory> {
    let existing = collections(db)
        .await?
        .into_iter()
        .find(|(n, _, _)| n == name);
    let dims = match existing {
        Some((_, dims, _)) => dims,
        None => crate::ai::embed(&["dimension probe"])
            .await?
            .pop()
            .map_or(0, |v| v.len()),
    };
    VectorMemory::open(db, name, dims).await
}

/// The memories in the database, with their sizes (for the CLI).
pub async fn collections(db: &DbPool) -> crate::Result<Vec<(String, usize, i64)>> {
    let pool = db.clone();
    Ok(db
        .run(move |c| {
            pool.ensure_system_tables(c)?;
            store::collections(c)
        })
        .await?)
}
