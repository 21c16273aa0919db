//! The memory tables: `bao_memory_notes`, `bao_vector_collections` and
//! `bao_vector_items` (vectors as little-endian f32 blobs; their texts in a
//! full-text index: FTS5 on SQLite, a `tsvector` column on PostgreSQL).

use crate::db::{on_dialect, DbConnection, DbError, Dialect};
use crate::support::clock::now_ms;
use diesel::backend::Backend;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, Double, HasSqlType, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::Value;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub(super) fn add_note(
    conn: &mut DbConnection,
    tenant: i64,
    scope: &str,
    text: &str,
    keep: i64,
) -> Result<i64, DbError> {
    conn.write_transaction(|conn| {
        let row: Id = on_dialect!(conn, |c, sql| diesel::sql_query(sql(
            "INSERT INTO bao_memory_notes (tenant_id, scope, text, created_at) \
             VALUES (?, ?, ?, ?) RETURNING id"
        ))
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(scope)
        .bind::<Text, _>(text)
        .bind::<BigInt, _>(now_ms())
        .get_result(c))?;
        on_dialect!(conn, |c, sql| diesel::sql_query(sql(
            "DELETE FROM bao_memory_notes WHERE tenant_id = ? AND scope = ? AND id NOT IN \
             (SELECT id FROM bao_memory_notes WHERE tenant_id = ? AND scope = ? \
             ORDER BY id DESC LIMIT ?)"
        ))
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(scope)
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(scope)
        .bind::<BigInt, _>(keep)
        .execute(c))?;
        Ok(row.id)
    })
}

pub(super) fn notes(
    conn: &mut DbConnection,
    tenant: i64,
    scope: &str,
    limit: i64,
) -> Result<Vec<super::Note>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        text: String,
        #[diesel(sql_type = BigInt)]
        created_at: i64,
    }
    let mut rows: Vec<Row> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("SELECT id, text, created_at FROM bao_memory_notes \
         WHERE tenant_id = ? AND scope = ? ORDER BY id DESC LIMIT ?"))
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(scope)
        .bind::<BigInt, _>(limit)
        .load(c)
    })?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|r| super::Note {
            id: r.id,
            text: r.text,
            created_at: r.created_at,
        })
        .collect())
}

pub(super) fn forget_notes(
    conn: &mut DbConnection,
    tenant: i64,
    scope: &str,
) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "DELETE FROM bao_memory_notes WHERE tenant_id = ? AND scope = ?"
    ))
    .bind::<BigInt, _>(tenant)
    .bind::<Text, _>(scope)
    .execute(c))?)
}

/// The collection's dimensions (creating it with `dims`).
pub(super) fn open_collection(
    conn: &mut DbConnection,
    name: &str,
    dims: usize,
) -> Result<usize, DbError> {
    let dims = i64::try_from(dims).unwrap_or(i64::MAX);
    let query =
        "INSERT INTO bao_vector_collections (name, dims, version, created_at) VALUES (?, ?, 0, ?) \
                 ON CONFLICT (name) DO NOTHING";
    on_dialect!(conn, |c, sql| diesel::sql_query(sql(query))
        .bind::<Text, _>(name)
        .bind::<BigInt, _>(dims)
        .bind::<BigInt, _>(now_ms())
        .execute(c))?;
    let row: Count = on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "SELECT dims AS n FROM bao_vector_collections WHERE name = ?"
    ))
    .bind::<Text, _>(name)
    .get_result(c))?;
    Ok(usize::try_from(row.n).unwrap_or(0))
}

pub(super) fn collections(conn: &mut DbConnection) -> Result<Vec<(String, usize, i64)>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        dims: i64,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "SELECT c.name, c.dims, (SELECT COUNT(*) FROM bao_vector_items i WHERE i.collection = c.name) AS n \
         FROM bao_vector_collections c ORDER BY c.name"
    ))
    .load(c)
    })?;
    Ok(rows
        .into_iter()
        .map(|r| (r.name, usize::try_from(r.dims).unwrap_or(0), r.n))
        .collect())
}

pub(crate) fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub(super) fn add_items(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    rows: &[(String, Value, Vec<f32>)],
) -> Result<Vec<i64>, DbError> {
    // Multi-row inserts of up to 200 rows (6 parameters each), in one
    // transaction; RETURNING gives the ids in the order of the rows.
    const ROWS_PER_INSERT: usize = 200;
    conn.write_transaction(|conn| {
        let mut ids = Vec::with_capacity(rows.len());
        let now = now_ms();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let query = format!(
                "INSERT INTO bao_vector_items \
                 (collection, tenant_id, text, metadata, embedding, created_at) \
                 VALUES {values} RETURNING id"
            );
            let inserted: Vec<Id> = on_dialect!(conn, |c, sql| {
                let mut q = diesel::sql_query(sql(&query)).into_boxed();
                for (text, metadata, vector) in chunk {
                    let metadata = if metadata.is_null() {
                        "{}".to_string()
                    } else {
                        metadata.to_string()
                    };
                    q = q
                        .bind::<Text, _>(collection.to_string())
                        .bind::<BigInt, _>(tenant)
                        .bind::<Text, _>(text.clone())
                        .bind::<Text, _>(metadata)
                        .bind::<Binary, _>(to_blob(vector))
                        .bind::<BigInt, _>(now);
                }
                q.load(c)
            })?;
            let mut chunk_ids: Vec<i64> = inserted.into_iter().map(|r| r.id).collect();
            // Ids grow with insertion order on both databases.
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        bump_version(conn, collection)?;
        Ok(ids)
    })
}

/// Every change to a collection bumps its version, so that caches in other
/// processes see they are stale.
fn bump_version(conn: &mut DbConnection, collection: &str) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "UPDATE bao_vector_collections SET version = version + 1 WHERE name = ?"
    ))
    .bind::<Text, _>(collection)
    .execute(c))?;
    Ok(())
}

pub(super) fn version(conn: &mut DbConnection, collection: &str) -> Result<i64, DbError> {
    let rows: Vec<Count> = on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "SELECT version AS n FROM bao_vector_collections WHERE name = ?"
    ))
    .bind::<Text, _>(collection)
    .load(c))?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// One stored item.
#[derive(QueryableByName)]
pub(super) struct ItemRow {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
    #[diesel(sql_type = BigInt)]
    pub(super) tenant_id: i64,
    #[diesel(sql_type = Text)]
    pub(super) text: String,
    #[diesel(sql_type = Text)]
    pub(super) metadata: String,
    #[diesel(sql_type = Binary)]
    pub(super) embedding: Vec<u8>,
}

pub(super) fn items(conn: &mut DbConnection, collection: &str) -> Result<Vec<ItemRow>, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT id, tenant_id, text, metadata, embedding FROM bao_vector_items \
         WHERE collection = ? ORDER BY id",
        ))
        .bind::<Text, _>(collection)
        .load(c)
    })?)
}

pub(super) fn count(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
) -> Result<i64, DbError> {
    let row: Count = on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "SELECT COUNT(*) AS n FROM bao_vector_items WHERE collection = ? AND tenant_id = ?"
    ))
    .bind::<Text, _>(collection)
    .bind::<BigInt, _>(tenant)
    .get_result(c))?;
    Ok(row.n)
}

pub(super) fn prune(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    older_than: Option<i64>,
    keep: Option<i64>,
) -> Result<usize, DbError> {
    conn.write_transaction(|conn| {
        let mut removed = 0;
        if let Some(cutoff) = older_than {
            removed += on_dialect!(conn, |c, sql| diesel::sql_query(sql(
                "DELETE FROM bao_vector_items \
                 WHERE collection = ? AND tenant_id = ? AND created_at < ?"
            ))
            .bind::<Text, _>(collection)
            .bind::<BigInt, _>(tenant)
            .bind::<BigInt, _>(cutoff)
            .execute(c))?;
        }
        if let Some(keep) = keep {
            removed += on_dialect!(conn, |c, sql| diesel::sql_query(sql(
                "DELETE FROM bao_vector_items WHERE collection = ? AND tenant_id = ? \
                 AND id NOT IN (SELECT id FROM bao_vector_items \
                 WHERE collection = ? AND tenant_id = ? ORDER BY id DESC LIMIT ?)"
            ))
            .bind::<Text, _>(collection)
            .bind::<BigInt, _>(tenant)
            .bind::<Text, _>(collection)
            .bind::<BigInt, _>(tenant)
            .bind::<BigInt, _>(keep)
            .execute(c))?;
        }
        if removed > 0 {
            bump_version(conn, collection)?;
        }
        Ok(removed)
    })
}

/// The items a search or a delete may touch: those of `collection` and
/// one tenant whose metadata has every `key = value` of `filters` (the
/// clauses [`bind_scope`] binds, in order).
fn scope_sql(dialect: Dialect, filters: &[(String, Value)]) -> String {
    let filter = match dialect {
        // `->` gives the JSON text of the value, compared with ours.
        Dialect::Sqlite => " AND (metadata -> ?) = ?",
        Dialect::Postgres => " AND (CAST(metadata AS jsonb) -> ?) = CAST(? AS jsonb)",
    };
    format!(
        "collection = ? AND tenant_id = ?{}",
        filter.repeat(filters.len())
    )
}

/// Binds what [`scope_sql`]'s clauses take: the collection, the tenant,
/// then per filter a JSON path to the key (SQLite) or the key itself
/// (PostgreSQL), and the value as JSON text.
fn bind_scope<'f, DB>(
    mut query: BoxedSqlQuery<'f, DB, SqlQuery>,
    dialect: Dialect,
    collection: &str,
    tenant: i64,
    filters: &[(String, Value)],
) -> BoxedSqlQuery<'f, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    query = query
        .bind::<Text, _>(collection.to_string())
        .bind::<BigInt, _>(tenant);
    for (key, value) in filters {
        let key = match dialect {
            Dialect::Sqlite => format!("$.\"{key}\""),
            Dialect::Postgres => key.clone(),
        };
        query = query
            .bind::<Text, _>(key)
            .bind::<Text, _>(value.to_string());
    }
    query
}

/// Whether `key` can name a metadata field in a filter (SQLite's JSON
/// paths cannot quote a double quote).
pub(super) fn filterable_key(key: &str) -> bool {
    !key.is_empty() && !key.contains('"')
}

/// A row found by full-text search.
#[derive(QueryableByName)]
pub(super) struct Found {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
    #[diesel(sql_type = Text)]
    pub(super) text: String,
    #[diesel(sql_type = Text)]
    pub(super) metadata: String,
    #[diesel(sql_type = Double)]
    pub(super) score: f64,
}

/// English words too common to help a keyword search find anything.
const STOP_WORDS: &[&str] = &[
    "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "if", "in", "into", "is", "it", "its", "not", "of", "on", "or", "so",
    "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
];

/// The words of a text that full-text search matches on.
fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// The `k` items of `collection` in scope whose texts best match any word
/// of `query`, best first, ranked by the database's full-text index:
/// BM25 over FTS5 with the Porter stemmer on SQLite, `ts_rank` over an
/// English `tsvector` on PostgreSQL.
pub(super) fn keyword(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    filters: &[(String, Value)],
    query: &str,
    k: usize,
) -> Result<Vec<Found>, DbError> {
    let dialect = conn.dialect();
    let mut words = words(query);
    // PostgreSQL's `english` configuration drops stop words; FTS5 does
    // not, and a word found in most texts makes the ranking visit them all.
    if dialect == Dialect::Sqlite && words.iter().any(|w| !STOP_WORDS.contains(&w.as_str())) {
        words.retain(|w| !STOP_WORDS.contains(&w.as_str()));
    }
    if words.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    // Words are letters and digits only: nothing to escape inside quotes.
    let scope = scope_sql(dialect, filters);
    let (matching, sql) = match dialect {
        Dialect::Sqlite => (
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" OR "),
            format!(
                "SELECT i.id, i.text, i.metadata, -bm25(bao_vector_items_fts) AS score \
                 FROM bao_vector_items_fts JOIN bao_vector_items i \
                 ON i.id = bao_vector_items_fts.rowid \
                 WHERE bao_vector_items_fts MATCH ? AND {scope} \
                 ORDER BY score DESC, i.id LIMIT ?"
            ),
        ),
        Dialect::Postgres => (
            words.join(" | "),
            format!(
                "SELECT i.id, i.text, i.metadata, \
                 CAST(ts_rank(i.search, q, 1) AS float8) AS score \
                 FROM bao_vector_items i, to_tsquery('english', ?) q \
                 WHERE i.search @@ q AND {scope} \
                 ORDER BY score DESC, i.id LIMIT ?"
            ),
        ),
    };
    let limit = i64::try_from(k).unwrap_or(i64::MAX);
    Ok(on_dialect!(conn, |c, sql_of| {
        let query = diesel::sql_query(sql_of(&sql))
            .into_boxed()
            .bind::<Text, _>(matching.clone());
        bind_scope(query, dialect, collection, tenant, filters)
            .bind::<BigInt, _>(limit)
            .load(c)
    })?)
}

/// The `k` items of `collection` in scope nearest to `vector` by cosine,
/// best first, computed inside SQLite by sqlite-vec over the stored blobs
/// (the same little-endian f32 layout). SQLite only.
pub(super) fn nearest(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    filters: &[(String, Value)],
    vector: &[f32],
    k: usize,
) -> Result<Vec<Found>, DbError> {
    let DbConnection::Sqlite(c) = conn else {
        return Err(DbError::Config(
            "sqlite-vec searches run on SQLite only".to_string(),
        ));
    };
    let sql = format!(
        // A zero vector has no direction: no similarity (NULL) scores 0.
        "SELECT id, text, metadata, \
         COALESCE(1.0 - vec_distance_cosine(embedding, ?), 0.0) AS score \
         FROM bao_vector_items WHERE {} ORDER BY score DESC, id LIMIT ?",
        scope_sql(Dialect::Sqlite, filters)
    );
    let query = diesel::sql_query(sql)
        .into_boxed()
        .bind::<Binary, _>(to_blob(vector));
    Ok(
        bind_scope(query, Dialect::Sqlite, collection, tenant, filters)
            .bind::<BigInt, _>(i64::try_from(k).unwrap_or(i64::MAX))
            .load(c)?,
    )
}

pub(super) fn delete_where(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    key: &str,
    value: &Value,
) -> Result<usize, DbError> {
    conn.write_transaction(|conn| {
        let filters = [(key.to_string(), value.clone())];
        let dialect = conn.dialect();
        let sql = format!(
            "DELETE FROM bao_vector_items WHERE {}",
            scope_sql(dialect, &filters)
        );
        let removed = on_dialect!(conn, |c, sql_of| {
            let query = diesel::sql_query(sql_of(&sql)).into_boxed();
            bind_scope(query, dialect, collection, tenant, &filters).execute(c)
        })?;
        if removed > 0 {
            bump_version(conn, collection)?;
        }
        Ok(removed)
    })
}

/// Deletes the items whose metadata `key` is `value` and adds `rows`, in
/// one transaction (re-ingesting a document loses nothing on failure).
pub(super) fn replace_where(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    key: &str,
    value: &Value,
    rows: &[(String, Value, Vec<f32>)],
) -> Result<Vec<i64>, DbError> {
    conn.write_transaction(|conn| {
        delete_where(conn, collection, tenant, key, value)?;
        add_items(conn, collection, tenant, rows)
    })
}
