//! The memory tables: `bao_memory_notes`, `bao_vector_collections` and
//! `bao_vector_items` (vectors as little-endian f32 blobs).

use crate::db::{on_dialect, DbConnection, DbError};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Binary, Text};
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
    scope: &str,
    text: &str,
    keep: i64,
) -> Result<i64, DbError> {
    let row: Id = on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "INSERT INTO bao_memory_notes (scope, text, created_at) VALUES (?, ?, ?) RETURNING id"
    ))
    .bind::<Text, _>(scope)
    .bind::<Text, _>(text)
    .bind::<BigInt, _>(now_ms())
    .get_result(c))?;
    on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "DELETE FROM bao_memory_notes WHERE scope = ? AND id NOT IN \
         (SELECT id FROM bao_memory_notes WHERE scope = ? ORDER BY id DESC LIMIT ?)"
    ))
    .bind::<Text, _>(scope)
    .bind::<Text, _>(scope)
    .bind::<BigInt, _>(keep)
    .execute(c))?;
    Ok(row.id)
}

pub(super) fn notes(
    conn: &mut DbConnection,
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
        diesel::sql_query(sql(
        "SELECT id, text, created_at FROM bao_memory_notes WHERE scope = ? ORDER BY id DESC LIMIT ?"
    ))
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

pub(super) fn forget_notes(conn: &mut DbConnection, scope: &str) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "DELETE FROM bao_memory_notes WHERE scope = ?"
    ))
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
    use diesel::Connection;
    // Multi-row inserts of up to 200 rows (6 parameters each), in one
    // transaction; RETURNING gives the ids in the order of the rows.
    const ROWS_PER_INSERT: usize = 200;
    conn.transaction(|conn| {
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
    use diesel::Connection;
    conn.transaction(|conn| {
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

pub(super) fn delete_where(
    conn: &mut DbConnection,
    collection: &str,
    tenant: i64,
    key: &str,
    value: &Value,
) -> Result<usize, DbError> {
    conn.write_transaction(|conn| {
        // Matched in Rust: metadata is JSON text on both databases.
        let doomed: Vec<i64> = items(conn, collection)?
            .into_iter()
            .filter(|row| {
                row.tenant_id == tenant
                    && serde_json::from_str::<Value>(&row.metadata)
                        .ok()
                        .is_some_and(|m| m.get(key) == Some(value))
            })
            .map(|row| row.id)
            .collect();
        for id in &doomed {
            on_dialect!(conn, |c, sql| diesel::sql_query(sql(
                "DELETE FROM bao_vector_items WHERE id = ?"
            ))
            .bind::<BigInt, _>(*id)
            .execute(c))?;
        }
        if !doomed.is_empty() {
            bump_version(conn, collection)?;
        }
        Ok(doomed.len())
    })
}
