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
