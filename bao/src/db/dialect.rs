//! Raw SQL on either dialect: `?` placeholders numbered for PostgreSQL.

/// Runs `$body` with `$c` bound to the dialect's connection and `$sql` a
/// function turning `?` placeholders into the dialect's.
macro_rules! on_dialect {
    ($conn:expr, |$c:ident, $sql:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => {
                let $sql = |s: &str| s.to_string();
                $body
            }
            $crate::db::DbConnection::Postgres($c) => {
                let $sql = |s: &str| $crate::db::numbered(s);
                $body
            }
        }
    };
}
pub(crate) use on_dialect;

/// `?` placeholders as PostgreSQL's `$1, $2, ..`.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `SELECT status, COUNT(*) FROM table GROUP BY status`, for the gauges of
/// durable subsystems (`table` is one of Bao's own, never user input).
pub(crate) fn count_by_status(
    conn: &mut super::DbConnection,
    table: &'static str,
) -> Result<Vec<(String, i64)>, super::DbError> {
    use diesel::sql_types::{BigInt, Text};
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let query = format!(
        "SELECT status, COUNT(*) AS n FROM {} GROUP BY status ORDER BY status",
        super::sql_ident(table)
    );
    let rows: Vec<Count> = on_dialect!(conn, |c, sql| diesel::sql_query(sql(&query)).load(c))?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Runs `query` (with `?` placeholders, rewritten for the dialect) with
/// `binds` and loads its rows.
pub(crate) fn load_bound<T>(
    conn: &mut super::DbConnection,
    query: &str,
    binds: &[Bind],
) -> Result<Vec<T>, super::DbError>
where
    T: diesel::QueryableByName<diesel::sqlite::Sqlite>
        + diesel::QueryableByName<diesel::pg::Pg>
        + 'static,
{
    Ok(on_dialect!(conn, |c, sql| {
        let mut q = diesel::sql_query(sql(query)).into_boxed();
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind::<diesel::sql_types::Text, _>(t.clone()),
                Bind::Int(i) => q.bind::<diesel::sql_types::BigInt, _>(*i),
            };
        }
        diesel::RunQueryDsl::load(q, c)
    })?)
}

/// A value bound to a `?`.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}
