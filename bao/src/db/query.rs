//! Running diesel queries from async handlers: `.fetch(&db).await`,
//! `.fetch_one(&db)`, `.fetch_optional(&db)`, and `.paginate(page, per_page)`.

use super::{DbConnection, DbError, DbPool};
use diesel::dsl::{Limit, Offset};
use diesel::query_dsl::methods::{LimitDsl, OffsetDsl};
use diesel::query_dsl::LoadQuery;
use diesel::RunQueryDsl;
use std::future::Future;

/// Async execution and pagination for any diesel query.
///
/// The names differ from diesel's `load`/`first` so both can be in scope.
pub trait QueryExt: Sized {
    /// Every row the query returns.
    fn fetch<U>(self, db: &DbPool) -> impl Future<Output = crate::Result<Vec<U>>>
    where
        Self: LoadQuery<'static, DbConnection, U> + Send + 'static,
        U: Send + 'static,
    {
        let db = db.clone();
        async move { Ok(db.run(move |c| self.load(c).map_err(DbError::from)).await?) }
    }

    /// The first row; `bao::Error` 404 when there is none.
    fn fetch_one<U>(self, db: &DbPool) -> impl Future<Output = crate::Result<U>>
    where
        Self: LimitDsl,
        Limit<Self>: LoadQuery<'static, DbConnection, U> + Send + 'static,
        U: Send + 'static,
    {
        let first = self.fetch_optional(db);
        async move { first.await?.ok_or_else(|| DbError::NotFound.into()) }
    }

    /// The first row, if any.
    fn fetch_optional<U>(self, db: &DbPool) -> impl Future<Output = crate::Result<Option<U>>>
    where
        Self: LimitDsl,
        Limit<Self>: LoadQuery<'static, DbConnection, U> + Send + 'static,
        U: Send + 'static,
    {
        let db = db.clone();
        let query = self.limit(1);
        async move {
            let mut rows: Vec<U> = db
                .run(move |c| query.load(c).map_err(DbError::from))
                .await?;
            Ok(rows.pop())
        }
    }

    /// Page `page` (from 1) of `per_page` rows (clamped to 1..=1000).
    fn paginate(self, page: i64, per_page: i64) -> Offset<Limit<Self>>
    where
        Self: LimitDsl,
        Limit<Self>: OffsetDsl,
    {
        let per_page = per_page.clamp(1, 1000);
        let page = page.max(1);
        self.limit(per_page)
            .offset((page - 1).saturating_mul(per_page))
    }
}

impl<T> QueryExt for T {}
