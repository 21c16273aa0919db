//! Bao's own tables (sessions, API tokens, login throttling, the audit log,
//! workflows, tasks, dead letters, schedule slots),
//! created by migrations embedded in the framework and recorded in
//! `bao_system_migrations`, apart from the app's. `bao migrate` (and
//! `BAO_AUTO_MIGRATE`) applies them before the app's migrations.

use super::connection::{DbConnection, Dialect};
use super::error::DbError;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl};

/// One embedded migration: its version and its SQL for each dialect.
struct SystemMigration {
    version: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const AUTH_TABLES: &str = "
CREATE TABLE bao_sessions (
    id_hash VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX bao_sessions_user_id ON bao_sessions (user_id);
CREATE INDEX bao_sessions_expires_at ON bao_sessions (expires_at);
CREATE TABLE bao_api_tokens (
    id {ID},
    user_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    prefix VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX bao_api_tokens_user_id ON bao_api_tokens (user_id);
CREATE TABLE bao_login_failures (
    id {ID},
    throttle_key TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX bao_login_failures_key ON bao_login_failures (throttle_key, failed_at);
CREATE TABLE bao_audit_log (
    id {ID},
    at BIGINT NOT NULL,
    user_id BIGINT,
    action TEXT NOT NULL,
    subject TEXT,
    request_id TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX bao_audit_log_at ON bao_audit_log (at);
";

const WORKFLOW_TABLES: &str = "
CREATE TABLE bao_workflow_runs (
    id VARCHAR(200) PRIMARY KEY NOT NULL,
    workflow VARCHAR(200) NOT NULL,
    version INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    lease_owner TEXT,
    lease_token BIGINT NOT NULL,
    lease_expires_at BIGINT,
    wake_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bao_workflow_runs_runnable ON bao_workflow_runs (status, wake_at);
CREATE TABLE bao_workflow_steps (
    run_id VARCHAR(200) NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    status VARCHAR(20) NOT NULL,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE bao_workflow_signals (
    id {ID},
    run_id VARCHAR(200) NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    consumed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX bao_workflow_signals_run ON bao_workflow_signals (run_id, name);
";

const TASK_TABLES: &str = "
CREATE TABLE bao_tasks (
    id {ID},
    name VARCHAR(200) NOT NULL,
    args TEXT NOT NULL,
    status VARCHAR(20) NOT NULL,
    priority INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    dedup_key TEXT,
    lease_owner TEXT,
    lease_token BIGINT NOT NULL,
    lease_expires_at BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bao_tasks_ready ON bao_tasks (status, priority, run_at);
CREATE UNIQUE INDEX bao_tasks_dedup ON bao_tasks (name, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('queued', 'running');
CREATE TABLE bao_dead_letters (
    id {ID},
    queue VARCHAR(200) NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    source_id TEXT,
    first_failed_at BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL,
    replayed_at BIGINT,
    replay_outcome TEXT
);
CREATE INDEX bao_dead_letters_queue ON bao_dead_letters (queue, id);
";

const SCHEDULE_TABLES: &str = "
CREATE TABLE bao_schedule_slots (
    name VARCHAR(200) NOT NULL,
    slot BIGINT NOT NULL,
    claimed_by TEXT NOT NULL,
    catch_up INTEGER NOT NULL,
    task_id BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, slot)
);
";

const AGENT_TABLES: &str = "
CREATE TABLE bao_agent_approvals (
    id {ID},
    run_id VARCHAR(200) NOT NULL,
    agent VARCHAR(200) NOT NULL,
    call_id VARCHAR(200) NOT NULL,
    tool VARCHAR(200) NOT NULL,
    arguments TEXT NOT NULL,
    arguments_hash VARCHAR(64) NOT NULL,
    status VARCHAR(20) NOT NULL,
    requested_by TEXT,
    requested_at BIGINT NOT NULL,
    expires_at BIGINT,
    decided_by TEXT,
    decided_at BIGINT,
    reason TEXT
);
CREATE UNIQUE INDEX bao_agent_approvals_call ON bao_agent_approvals (run_id, call_id);
CREATE INDEX bao_agent_approvals_status ON bao_agent_approvals (status, id);
";

const MEMORY_TABLES: &str = "
CREATE TABLE bao_memory_notes (
    id {ID},
    scope VARCHAR(200) NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX bao_memory_notes_scope ON bao_memory_notes (scope, id);
CREATE TABLE bao_vector_collections (
    name VARCHAR(200) PRIMARY KEY NOT NULL,
    dims BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE bao_vector_items (
    id {ID},
    collection VARCHAR(200) NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    embedding {BLOB} NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX bao_vector_items_collection ON bao_vector_items (collection, id);
CREATE TABLE bao_rag_documents (
    id {ID},
    title TEXT NOT NULL,
    source VARCHAR(1000) NOT NULL UNIQUE,
    chunks BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
";

const CHANNEL_TABLES: &str = "
CREATE TABLE bao_channel_messages (
    id {ID},
    origin VARCHAR(64) NOT NULL,
    kind VARCHAR(200) NOT NULL,
    channel_key VARCHAR(500) NOT NULL,
    event VARCHAR(200) NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX bao_channel_messages_created ON bao_channel_messages (created_at);
";

const PLUGIN_TABLES: &str = "
CREATE TABLE bao_plugin_usage (
    plugin VARCHAR(200) NOT NULL,
    kind VARCHAR(40) NOT NULL,
    value VARCHAR(500) NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (plugin, kind, value)
);
";

const ADMIN_TABLES: &str = "
CREATE INDEX bao_workflow_runs_created ON bao_workflow_runs (created_at, id);
CREATE INDEX bao_workflow_runs_workflow ON bao_workflow_runs (workflow, created_at, id);
CREATE INDEX bao_workflow_runs_status_created ON bao_workflow_runs (status, created_at, id);
CREATE INDEX bao_workflow_runs_workflow_status ON bao_workflow_runs (workflow, status, created_at, id);
CREATE INDEX bao_audit_log_user ON bao_audit_log (user_id, id);
CREATE INDEX bao_audit_log_action ON bao_audit_log (action, id);
CREATE TABLE bao_admin_links (
    token_hash VARCHAR(64) PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
";

/// Approvals given for edited arguments keep what was approved.
const APPROVAL_EDITS: &str = "
ALTER TABLE bao_agent_approvals ADD COLUMN approved_arguments TEXT;
";

/// Vector memories and RAG documents can belong to a tenant (0: none). A
/// source is unique within its tenant, so SQLite rebuilds the documents
/// table to drop its column-level UNIQUE.
const MEMORY_TENANTS_SQLITE: &str = "
ALTER TABLE bao_vector_items ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bao_vector_items_tenant ON bao_vector_items (collection, tenant_id, id);
CREATE TABLE bao_rag_documents_new (
    id {ID},
    tenant_id BIGINT NOT NULL DEFAULT 0,
    title TEXT NOT NULL,
    source VARCHAR(1000) NOT NULL,
    chunks BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO bao_rag_documents_new (id, tenant_id, title, source, chunks, created_at)
    SELECT id, 0, title, source, chunks, created_at FROM bao_rag_documents;
DROP TABLE bao_rag_documents;
ALTER TABLE bao_rag_documents_new RENAME TO bao_rag_documents;
CREATE UNIQUE INDEX bao_rag_documents_source ON bao_rag_documents (tenant_id, source);
";
const MEMORY_TENANTS_POSTGRES: &str = "
ALTER TABLE bao_vector_items ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bao_vector_items_tenant ON bao_vector_items (collection, tenant_id, id);
ALTER TABLE bao_rag_documents ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bao_rag_documents DROP CONSTRAINT bao_rag_documents_source_key;
CREATE UNIQUE INDEX bao_rag_documents_source ON bao_rag_documents (tenant_id, source);
";

/// Keyword search in the database: an FTS5 index kept in step with the
/// items by triggers on SQLite, a generated `tsvector` column with a GIN
/// index on PostgreSQL (English stemming on both). Short-term notes can
/// belong to a tenant (0: none).
const MEMORY_SEARCH_SQLITE: &str = "
CREATE VIRTUAL TABLE bao_vector_items_fts USING fts5(
    text, content='bao_vector_items', content_rowid='id', tokenize='porter unicode61'
);
INSERT INTO bao_vector_items_fts (bao_vector_items_fts) VALUES ('rebuild');
CREATE TRIGGER bao_vector_items_fts_insert AFTER INSERT ON bao_vector_items BEGIN
    INSERT INTO bao_vector_items_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER bao_vector_items_fts_delete AFTER DELETE ON bao_vector_items BEGIN
    INSERT INTO bao_vector_items_fts (bao_vector_items_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER bao_vector_items_fts_update AFTER UPDATE OF text ON bao_vector_items BEGIN
    INSERT INTO bao_vector_items_fts (bao_vector_items_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    INSERT INTO bao_vector_items_fts (rowid, text) VALUES (new.id, new.text);
END;
ALTER TABLE bao_memory_notes ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bao_memory_notes_tenant ON bao_memory_notes (tenant_id, scope, id);
";
const MEMORY_SEARCH_POSTGRES: &str = "
ALTER TABLE bao_vector_items ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX bao_vector_items_search ON bao_vector_items USING GIN (search);
ALTER TABLE bao_memory_notes ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bao_memory_notes_tenant ON bao_memory_notes (tenant_id, scope, id);
";

const SQLITE_ID: &str = "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL";
const POSTGRES_ID: &str = "BIGSERIAL PRIMARY KEY NOT NULL";

fn migrations() -> Vec<SystemMigration> {
    static SQL: std::sync::OnceLock<Vec<(&'static str, String, String)>> =
        std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        [
            ("0001_auth", AUTH_TABLES, AUTH_TABLES),
            ("0002_workflows", WORKFLOW_TABLES, WORKFLOW_TABLES),
            ("0003_tasks", TASK_TABLES, TASK_TABLES),
            ("0004_schedules", SCHEDULE_TABLES, SCHEDULE_TABLES),
            ("0005_agents", AGENT_TABLES, AGENT_TABLES),
            ("0006_memory", MEMORY_TABLES, MEMORY_TABLES),
            ("0007_channels", CHANNEL_TABLES, CHANNEL_TABLES),
            ("0008_plugins", PLUGIN_TABLES, PLUGIN_TABLES),
            ("0009_admin", ADMIN_TABLES, ADMIN_TABLES),
            ("0010_approval_edits", APPROVAL_EDITS, APPROVAL_EDITS),
            (
                "0011_memory_tenants",
                MEMORY_TENANTS_SQLITE,
                MEMORY_TENANTS_POSTGRES,
            ),
            (
                "0012_memory_search",
                MEMORY_SEARCH_SQLITE,
                MEMORY_SEARCH_POSTGRES,
            ),
        ]
        .into_iter()
        .map(|(version, sqlite, postgres)| {
            (
                version,
                sqlite.replace("{ID}", SQLITE_ID).replace("{BLOB}", "BLOB"),
                postgres
                    .replace("{ID}", POSTGRES_ID)
                    .replace("{BLOB}", "BYTEA"),
            )
        })
        .collect()
    });
    all.iter()
        .map(|(version, sqlite, postgres)| SystemMigration {
            version,
            sqlite,
            postgres,
        })
        .collect()
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Applies Bao's pending system migrations, each in its own transaction;
/// returns the versions applied.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    // One connection of this process at a time: two applying the same
    // migration at once would collide ("table already exists").
    static MIGRATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MIGRATING.lock().unwrap_or_else(|e| e.into_inner());
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS bao_system_migrations (\
         version VARCHAR(64) PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let query = "SELECT version FROM bao_system_migrations";
    let applied: Vec<Applied> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(query).load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(query).load(c)?,
    };
    let mut done = Vec::new();
    for m in migrations() {
        if applied.iter().any(|a| a.version == m.version) {
            continue;
        }
        let sql = match conn.dialect() {
            Dialect::Sqlite => m.sqlite,
            Dialect::Postgres => m.postgres,
        };
        conn.transaction::<_, DbError, _>(|conn| {
            conn.batch_execute(sql).map_err(|e| {
                DbError::Migration(format!("Bao's system migration {} failed: {e}", m.version))
            })?;
            // Both values are ours (a constant and a timestamp): no quoting issue.
            conn.batch_execute(&format!(
                "INSERT INTO bao_system_migrations (version, applied_at) VALUES ('{}', '{}')",
                m.version,
                chrono::Utc::now().to_rfc3339()
            ))?;
            Ok(())
        })?;
        tracing::info!(version = m.version, "Bao system migration applied");
        done.push(format!("bao:{}", m.version));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    /// The documents table of 0006, then 0011: rows kept as tenant 0, one
    /// source per tenant.
    #[test]
    fn the_tenant_migration_keeps_documents_and_scopes_sources() {
        for db in TestDatabase::each() {
            let pool = crate::db::DbPool::new(db.url()).unwrap();
            let mut conn = pool.get().unwrap();
            let all = migrations();
            let sql = |version: &str| {
                let m = all.iter().find(|m| m.version == version).unwrap();
                match db.dialect() {
                    Dialect::Sqlite => m.sqlite,
                    Dialect::Postgres => m.postgres,
                }
            };
            conn.batch_execute(sql("0006_memory")).unwrap();
            conn.batch_execute(
                "INSERT INTO bao_rag_documents (title, source, chunks, created_at) \
                 VALUES ('Notes', 'notes.md', 3, 1)",
            )
            .unwrap();
            conn.batch_execute(sql("0011_memory_tenants")).unwrap();
            #[derive(QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                tenant_id: i64,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                chunks: i64,
            }
            let query = "SELECT tenant_id, chunks FROM bao_rag_documents WHERE source = 'notes.md'";
            let rows: Vec<Row> = match &mut *conn {
                DbConnection::Sqlite(c) => diesel::sql_query(query).load(c).unwrap(),
                DbConnection::Postgres(c) => diesel::sql_query(query).load(c).unwrap(),
            };
            assert_eq!(rows.len(), 1);
            assert_eq!((rows[0].tenant_id, rows[0].chunks), (0, 3));
            conn.batch_execute(
                "INSERT INTO bao_rag_documents (tenant_id, title, source, chunks, created_at) \
                 VALUES (7, 'Notes', 'notes.md', 1, 2)",
            )
            .expect("another tenant may use the same source");
            assert!(
                conn.batch_execute(
                    "INSERT INTO bao_rag_documents (tenant_id, title, source, chunks, created_at) \
                     VALUES (7, 'Again', 'notes.md', 1, 3)",
                )
                .is_err(),
                "a source is unique within its tenant"
            );

            // 0012 indexes the items already stored for keyword search.
            let blob = match db.dialect() {
                Dialect::Sqlite => "X'00'",
                Dialect::Postgres => "'\\x00'",
            };
            conn.batch_execute(&format!(
                "INSERT INTO bao_vector_items \
                 (collection, tenant_id, text, metadata, embedding, created_at) \
                 VALUES ('kb', 0, 'Bao bounds every task.', '{{}}', {blob}, 1)"
            ))
            .unwrap();
            conn.batch_execute(sql("0012_memory_search")).unwrap();
            #[derive(QueryableByName)]
            struct Found {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                id: i64,
            }
            let found: Vec<Found> = match &mut *conn {
                DbConnection::Sqlite(c) => diesel::sql_query(
                    "SELECT rowid AS id FROM bao_vector_items_fts \
                     WHERE bao_vector_items_fts MATCH 'bounding'",
                )
                .load(c)
                .unwrap(),
                DbConnection::Postgres(c) => diesel::sql_query(
                    "SELECT id FROM bao_vector_items \
                     WHERE search @@ to_tsquery('english', 'bounding')",
                )
                .load(c)
                .unwrap(),
            };
            assert_eq!(found.len(), 1, "the stored item is in the full-text index");
            assert!(found[0].id > 0);
        }
    }
}
