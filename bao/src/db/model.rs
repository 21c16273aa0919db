//! What `#[bao::model]` implements, and the async helpers every model gets.

use super::{DbConnection, DbError, DbPool};
use crate::support::konst::Message;
use diesel::QueryResult;
use serde::Serialize;

/// One column of a model, as `bao describe` and migrations see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColumnInfo {
    /// Column (and field) name.
    pub name: &'static str,
    /// The field's Rust type.
    pub rust_type: &'static str,
    /// The diesel SQL type.
    pub sql_type: &'static str,
    /// The column type in SQLite DDL.
    pub sqlite: &'static str,
    /// The column type in PostgreSQL DDL.
    pub postgres: &'static str,
    /// Whether the column accepts NULL (an `Option` field).
    pub nullable: bool,
    /// Whether this is the primary key.
    pub primary_key: bool,
    /// The row this column points at (`#[belongs_to]`).
    pub references: Option<ForeignKey>,
    /// `#[unique]`: a unique index covers the column.
    pub unique: bool,
    /// `#[index]` (or a `#[belongs_to]` field): a plain index covers it.
    pub indexed: bool,
    /// The values a `#[text_enum]` column may hold (a CHECK constraint).
    pub check: &'static [&'static str],
    /// `#[default(..)]` as an SQL literal.
    pub default: Option<&'static str>,
    /// `#[text]`: long text (a `TEXT` column like every `String`; forms and
    /// the admin show a text area).
    pub long_text: bool,
    /// `#[validate(..)]` rules, checked on what clients send.
    pub rules: &'static [Rule],
}

/// A `#[validate(..)]` rule of a model field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Characters of a text field, inclusive bounds.
    Length {
        /// At least.
        min: Option<u64>,
        /// At most.
        max: Option<u64>,
    },
    /// A number's value, inclusive bounds.
    Range {
        /// At least.
        min: Option<f64>,
        /// At most.
        max: Option<f64>,
    },
    /// An email address (`local@domain.tld`).
    Email,
}

/// A foreign key: the table and key column a `#[belongs_to]` field points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// The referenced table.
    pub table: &'static str,
    /// Its key column.
    pub column: &'static str,
    /// `ON DELETE` policy in SQL (`CASCADE`, `RESTRICT`, `SET NULL`, `NO ACTION`).
    pub on_delete: &'static str,
}

/// A model's metadata, for `bao describe` and the app's model table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The struct's name.
    pub name: &'static str,
    /// The SQL table.
    pub table: &'static str,
    /// Its columns, in field order.
    pub columns: &'static [ColumnInfo],
    /// The tables of its `#[has_many]` models.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub has_many: &'static [&'static str],
}

impl ModelInfo {
    /// `CREATE TABLE` for this model in `dialect`: the key numbered by the
    /// database, `NOT NULL` unless the field is an `Option`.
    pub fn create_table_sql(&self, dialect: super::Dialect) -> String {
        let schema = super::Schema::from_models(std::slice::from_ref(self));
        let columns = schema
            .tables
            .get(self.table)
            .map(|t| t.columns.as_slice())
            .unwrap_or_default();
        format!("{}\n", super::create_table(self.table, columns, dialect))
    }
}

/// Implemented by `#[bao::model]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Bao model",
    label = "not a #[bao::model]",
    note = "add #[bao::model] to `struct {Self}` (with a #[key] field): only models can be listed in `models:`, named by #[belongs_to] or #[has_many], or served by #[bao::api(model = ..)]"
)]
pub trait Model: Sized + Send + 'static {
    /// The primary key's type.
    type Key: Copy + Send + Eq + std::hash::Hash + std::fmt::Display + 'static;
    /// The insert struct (`New<Model>`).
    type New: Send + 'static;
    /// The update struct (`Update<Model>`).
    type Update: Send + 'static;
    /// The struct's name.
    const NAME: &'static str;
    /// The SQL table.
    const TABLE: &'static str;
    /// The key column.
    const KEY: &'static str;
    /// The columns.
    const COLUMNS: &'static [ColumnInfo];
    /// The tables of the `#[has_many]` models.
    const HAS_MANY: &'static [&'static str] = &[];
    /// This row's key.
    fn key(&self) -> Self::Key;
    /// Whether `update` changes nothing.
    fn is_empty_update(update: &Self::Update) -> bool;
    /// An update that writes every column of this row.
    fn full_update(&self) -> Self::Update;
    /// Writes a new row of fake data on `conn` and gives its key: how a
    /// factory makes the parent a row needs. `#[bao::model]` implements it
    /// with the model's own factory.
    fn fake_key(
        conn: &mut DbConnection,
        faker: &mut super::factory::Faker,
    ) -> Result<Self::Key, DbError> {
        let _ = (conn, faker);
        Err(DbError::Invalid(format!(
            "`{}` has no factory: it is not a #[bao::model]",
            Self::NAME
        )))
    }
    /// The metadata.
    fn info() -> ModelInfo {
        ModelInfo {
            name: Self::NAME,
            table: Self::TABLE,
            columns: Self::COLUMNS,
            has_many: Self::HAS_MANY,
        }
    }
}

/// The queries `#[bao::model]` generates; the async helpers are built on them.
pub trait ModelQueries: Model {
    /// `INSERT .. RETURNING`.
    fn insert(conn: &mut DbConnection, new: Self::New) -> QueryResult<Self>;
    /// The row with this key.
    fn select_by_key(conn: &mut DbConnection, key: Self::Key) -> QueryResult<Self>;
    /// Every row, by key.
    fn select_all(conn: &mut DbConnection) -> QueryResult<Vec<Self>>;
    /// `COUNT(*)`.
    fn count_rows(conn: &mut DbConnection) -> QueryResult<i64>;
    /// `UPDATE .. RETURNING`.
    fn update_by_key(
        conn: &mut DbConnection,
        key: Self::Key,
        update: Self::Update,
    ) -> QueryResult<Self>;
    /// Takes the row's write lock (`UPDATE .. SET key = key`); the number of
    /// rows locked.
    fn lock_by_key(conn: &mut DbConnection, key: Self::Key) -> QueryResult<usize>;
    /// `DELETE`; the number of rows deleted.
    fn delete_by_key(conn: &mut DbConnection, key: Self::Key) -> QueryResult<usize>;
}

/// Implemented by every model that is not `tenant_scoped`: the plain
/// helpers (`find`, `all`, ...) need it, so a tenant-scoped model can only be
/// read and written with a [`crate::Tenant`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is tenant-scoped: its rows are read and written with a tenant",
    label = "needs a `Tenant`",
    note = "use the model's own helpers, which take the tenant: `{Self}::find(&db, tenant, id)`, `{Self}::all(&db, tenant)`; a handler gets the tenant as a `Tenant` argument or from `CurrentUser::tenant()`"
)]
pub trait Unscoped: ModelQueries {}

/// The tenant-filtered queries `#[bao::model(tenant_scoped)]` generates.
pub trait TenantScoped: ModelQueries {
    /// Sets the new row's `tenant_id` to `tenant`.
    fn stamp(new: &mut Self::New, tenant: i64);
    /// Removes any change to `tenant_id`.
    fn unstamp(update: &mut Self::Update);
    /// Sets `row`'s `tenant_id` (after an `atomic_update` closure).
    fn restamp(row: &mut Self, tenant: i64);
    /// The row with this key in `tenant`.
    fn select_by_key_in(conn: &mut DbConnection, tenant: i64, key: Self::Key) -> QueryResult<Self>;
    /// Every row of `tenant`, by key.
    fn select_all_in(conn: &mut DbConnection, tenant: i64) -> QueryResult<Vec<Self>>;
    /// How many rows `tenant` has.
    fn count_in(conn: &mut DbConnection, tenant: i64) -> QueryResult<i64>;
    /// `UPDATE .. WHERE key AND tenant_id`.
    fn update_by_key_in(
        conn: &mut DbConnection,
        tenant: i64,
        key: Self::Key,
        update: Self::Update,
    ) -> QueryResult<Self>;
    /// Locks the row if it is in `tenant`; the number of rows locked.
    fn lock_by_key_in(conn: &mut DbConnection, tenant: i64, key: Self::Key) -> QueryResult<usize>;
    /// `DELETE .. WHERE key AND tenant_id`; the number deleted.
    fn delete_by_key_in(conn: &mut DbConnection, tenant: i64, key: Self::Key)
        -> QueryResult<usize>;
}

/// Implemented for a model with a `#[belongs_to(Parent)]` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no #[belongs_to({P})] field",
    label = "used in #[has_many] here",
    note = "add a field like `#[belongs_to({P})] pub parent_id: i64` to `{Self}`, or remove the #[has_many]"
)]
pub trait BelongsTo<P: Model>: ModelQueries {
    /// The foreign key column.
    const FOREIGN_KEY: &'static str;
    /// The parent's key this row points at (`None` for a NULL foreign key).
    fn parent_key(&self) -> Option<P::Key>;
    /// Every row pointing at one of `keys`, by key.
    fn children_of(conn: &mut DbConnection, keys: Vec<P::Key>) -> QueryResult<Vec<Self>>;
}

/// The types a `#[belongs_to(P)]` field may have: `P`'s key, or an
/// `Option` of it for an optional relation. The code `#[bao::model]`
/// writes for a relation goes through this trait, so a field of another
/// type is one error at the field that names both types.
#[diagnostic::on_unimplemented(
    message = "this foreign key is `{Self}`, but the model it points at has keys of type `{K}`",
    label = "must be `{K}` (or `Option<{K}>` for an optional relation)",
    note = "a #[belongs_to] field has the type of the key it points at: change this field's type to `{K}`, or to `Option<{K}>` if a row may have no parent"
)]
pub trait ForeignKeyType<K> {
    /// The type of the column's values (`K`).
    type Column;
    /// The key this value points at (`None` for an empty optional key).
    fn parent_key(&self) -> Option<K>;
    /// The value that points at `key`.
    fn from_key(key: K) -> Self;
    /// `key` as the column's values are compared with it.
    fn column_value(key: K) -> Self::Column;
}

// Not recommended in errors: the message names the type to write.
#[diagnostic::do_not_recommend]
impl<K: Copy> ForeignKeyType<K> for K {
    type Column = K;
    fn parent_key(&self) -> Option<K> {
        Some(*self)
    }
    fn from_key(key: K) -> Self {
        key
    }
    fn column_value(key: K) -> K {
        key
    }
}

#[diagnostic::do_not_recommend]
impl<K: Copy> ForeignKeyType<K> for Option<K> {
    type Column = K;
    fn parent_key(&self) -> Option<K> {
        *self
    }
    fn from_key(key: K) -> Self {
        Some(key)
    }
    fn column_value(key: K) -> K {
        key
    }
}

/// The async helpers behind each model's `create`, `find`, ... methods.
pub mod ops {
    use super::*;

    pub async fn create<M: ModelQueries + Unscoped>(db: &DbPool, new: M::New) -> crate::Result<M> {
        Ok(db
            .run(move |c| M::insert(c, new).map_err(DbError::from))
            .await?)
    }

    pub async fn find<M: ModelQueries + Unscoped>(
        db: &DbPool,
        key: M::Key,
    ) -> crate::Result<Option<M>> {
        match db
            .run(move |c| M::select_by_key(c, key).map_err(DbError::from))
            .await
        {
            Ok(row) => Ok(Some(row)),
            Err(DbError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn find_or_fail<M: ModelQueries + Unscoped>(
        db: &DbPool,
        key: M::Key,
    ) -> crate::Result<M> {
        Ok(db
            .run(move |c| M::select_by_key(c, key).map_err(DbError::from))
            .await?)
    }

    pub async fn all<M: ModelQueries + Unscoped>(db: &DbPool) -> crate::Result<Vec<M>> {
        Ok(db.run(|c| M::select_all(c).map_err(DbError::from)).await?)
    }

    pub async fn count<M: ModelQueries + Unscoped>(db: &DbPool) -> crate::Result<i64> {
        Ok(db.run(|c| M::count_rows(c).map_err(DbError::from)).await?)
    }

    pub async fn exists<M: ModelQueries + Unscoped>(
        db: &DbPool,
        key: M::Key,
    ) -> crate::Result<bool> {
        Ok(find::<M>(db, key).await?.is_some())
    }

    pub async fn update<M: ModelQueries + Unscoped>(
        db: &DbPool,
        key: M::Key,
        changes: M::Update,
    ) -> crate::Result<M> {
        if M::is_empty_update(&changes) {
            return find_or_fail::<M>(db, key).await;
        }
        Ok(db
            .run(move |c| M::update_by_key(c, key, changes).map_err(DbError::from))
            .await?)
    }

    pub async fn delete<M: ModelQueries + Unscoped>(db: &DbPool, key: M::Key) -> crate::Result<()> {
        match db
            .run(move |c| M::delete_by_key(c, key).map_err(DbError::from))
            .await?
        {
            0 => Err(DbError::NotFound.into()),
            _ => Ok(()),
        }
    }

    /// The first row `query` finds, or a new row from `new` when there is
    /// none; `true` when it was created. A concurrent creator that wins a
    /// unique constraint makes this return its row instead of an error.
    pub async fn first_or_create<M, Q>(
        db: &DbPool,
        query: Q,
        new: M::New,
    ) -> crate::Result<(M, bool)>
    where
        M: ModelQueries + Unscoped,
        Q: diesel::query_dsl::methods::LimitDsl + Clone + Send + 'static,
        diesel::dsl::Limit<Q>:
            diesel::query_dsl::LoadQuery<'static, DbConnection, M> + Send + 'static,
    {
        use diesel::RunQueryDsl;
        Ok(db
            .run(move |c| {
                let first = |c: &mut DbConnection| -> Result<Option<M>, DbError> {
                    let mut rows: Vec<M> = query.clone().limit(1).load(c)?;
                    Ok(rows.pop())
                };
                if let Some(found) = first(c)? {
                    return Ok((found, false));
                }
                match M::insert(c, new).map_err(DbError::from) {
                    Ok(created) => Ok((created, true)),
                    Err(DbError::Conflict(e)) => {
                        first(c)?.map(|m| (m, false)).ok_or(DbError::Conflict(e))
                    }
                    Err(e) => Err(e),
                }
            })
            .await?)
    }

    /// The children of the parents with these keys.
    pub async fn children<P: Model, C: BelongsTo<P> + Unscoped>(
        db: &DbPool,
        keys: Vec<P::Key>,
    ) -> crate::Result<Vec<C>> {
        Ok(db
            .run(move |c| C::children_of(c, keys).map_err(DbError::from))
            .await?)
    }

    /// Each parent with its children: one query for all the children.
    pub async fn with_children<P: Model, C: BelongsTo<P> + Unscoped>(
        db: &DbPool,
        parents: Vec<P>,
    ) -> crate::Result<Vec<(P, Vec<C>)>> {
        let keys: Vec<P::Key> = parents.iter().map(Model::key).collect();
        let mut by_parent: std::collections::HashMap<P::Key, Vec<C>> =
            std::collections::HashMap::new();
        for child in children::<P, C>(db, keys).await? {
            if let Some(key) = child.parent_key() {
                by_parent.entry(key).or_default().push(child);
            }
        }
        Ok(parents
            .into_iter()
            .map(|p| {
                let kids = by_parent.remove(&p.key()).unwrap_or_default();
                (p, kids)
            })
            .collect())
    }

    /// Reads the row, lets `change` modify it and writes it back, in one
    /// transaction that holds the row's write lock from the start (a no-op
    /// update first), so concurrent calls apply one after the other and no
    /// change is lost.
    pub async fn atomic_update<M, F>(db: &DbPool, key: M::Key, change: F) -> crate::Result<M>
    where
        M: ModelQueries + Unscoped,
        F: FnOnce(&mut M) + Send + 'static,
    {
        Ok(db
            .run(move |c| {
                c.write_transaction::<M, DbError, _>(|c| {
                    // Lock first, then read: no other writer can slip in between.
                    if M::lock_by_key(c, key)? == 0 {
                        return Err(DbError::NotFound);
                    }
                    let mut row = M::select_by_key(c, key)?;
                    change(&mut row);
                    Ok(M::update_by_key(c, key, row.full_update())?)
                })
            })
            .await?)
    }
}

/// The async helpers behind a tenant-scoped model's methods: every query
/// filters on the tenant, every insert stamps it, no update can move a row to
/// another tenant.
pub mod scoped_ops {
    use super::Tenant;
    use super::*;

    pub async fn create<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        mut new: M::New,
    ) -> crate::Result<M> {
        M::stamp(&mut new, tenant.0);
        Ok(db
            .run(move |c| M::insert(c, new).map_err(DbError::from))
            .await?)
    }

    pub async fn find<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
    ) -> crate::Result<Option<M>> {
        match find_or_fail::<M>(db, tenant, key).await {
            Ok(row) => Ok(Some(row)),
            Err(crate::Error::Database(DbError::NotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn find_or_fail<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
    ) -> crate::Result<M> {
        Ok(db
            .run(move |c| M::select_by_key_in(c, tenant.0, key).map_err(DbError::from))
            .await?)
    }

    pub async fn all<M: TenantScoped>(db: &DbPool, tenant: Tenant) -> crate::Result<Vec<M>> {
        Ok(db
            .run(move |c| M::select_all_in(c, tenant.0).map_err(DbError::from))
            .await?)
    }

    pub async fn count<M: TenantScoped>(db: &DbPool, tenant: Tenant) -> crate::Result<i64> {
        Ok(db
            .run(move |c| M::count_in(c, tenant.0).map_err(DbError::from))
            .await?)
    }

    pub async fn exists<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
    ) -> crate::Result<bool> {
        Ok(find::<M>(db, tenant, key).await?.is_some())
    }

    pub async fn update<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
        mut changes: M::Update,
    ) -> crate::Result<M> {
        M::unstamp(&mut changes);
        if M::is_empty_update(&changes) {
            return find_or_fail::<M>(db, tenant, key).await;
        }
        Ok(db
            .run(move |c| M::update_by_key_in(c, tenant.0, key, changes).map_err(DbError::from))
            .await?)
    }

    pub async fn delete<M: TenantScoped>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
    ) -> crate::Result<()> {
        match db
            .run(move |c| M::delete_by_key_in(c, tenant.0, key).map_err(DbError::from))
            .await?
        {
            0 => Err(DbError::NotFound.into()),
            _ => Ok(()),
        }
    }

    pub async fn atomic_update<M, F>(
        db: &DbPool,
        tenant: Tenant,
        key: M::Key,
        change: F,
    ) -> crate::Result<M>
    where
        M: TenantScoped,
        F: FnOnce(&mut M) + Send + 'static,
    {
        Ok(db
            .run(move |c| {
                c.write_transaction::<M, DbError, _>(|c| {
                    if M::lock_by_key_in(c, tenant.0, key)? == 0 {
                        return Err(DbError::NotFound);
                    }
                    let mut row = M::select_by_key_in(c, tenant.0, key)?;
                    change(&mut row);
                    M::restamp(&mut row, tenant.0);
                    Ok(M::update_by_key_in(c, tenant.0, key, row.full_update())?)
                })
            })
            .await?)
    }
}

/// What is wrong with `models[i]`: listed twice, on the table of an
/// earlier model, or pointing at (or having many rows of) a table that no
/// listed model has. `bao::app!` calls it in a `const` spanned at the
/// `i`-th item of `models:`, so the error points at that item.
pub const fn table_clash_at(models: &[ModelInfo], i: usize) -> Option<Message> {
    use crate::support::konst::str_eq;
    let mut j = 0;
    while j < i {
        if str_eq(models[i].table, models[j].table) {
            return Some(if str_eq(models[i].name, models[j].name) {
                listed_twice(models[i].name)
            } else {
                table_clash(models[j].name, models[i].name, models[i].table)
            });
        }
        j += 1;
    }
    // Every table a listed model points at, or has many rows in, is listed
    // too: otherwise migrations never create it and its queries fail.
    let columns = models[i].columns;
    let mut c = 0;
    while c < columns.len() {
        if let Some(fk) = &columns[c].references {
            if !has_table(models, fk.table) {
                return Some(unlisted(models[i].name, columns[c].name, fk.table));
            }
        }
        c += 1;
    }
    let mut h = 0;
    while h < models[i].has_many.len() {
        if !has_table(models, models[i].has_many[h]) {
            return Some(unlisted(models[i].name, "", models[i].has_many[h]));
        }
        h += 1;
    }
    None
}

const fn listed_twice(model: &str) -> Message {
    use crate::support::konst::push;
    let mut buf = [0u8; crate::support::konst::MESSAGE_LEN];
    let mut n = push(&mut buf, 0, "`");
    n = push(&mut buf, n, model);
    n = push(
        &mut buf,
        n,
        "` is listed twice in `models: [..]`: list each model once",
    );
    Message::new(buf, n)
}

const fn has_table(models: &[ModelInfo], table: &str) -> bool {
    let mut i = 0;
    while i < models.len() {
        if crate::support::konst::str_eq(models[i].table, table) {
            return true;
        }
        i += 1;
    }
    false
}

/// `model.field` (or `model` through `#[has_many]`, when `field` is empty)
/// needs `table`, whose model is not listed.
const fn unlisted(model: &str, field: &str, table: &str) -> Message {
    use crate::support::konst::push;
    let mut buf = [0u8; crate::support::konst::MESSAGE_LEN];
    let mut n = push(&mut buf, 0, "`");
    n = push(&mut buf, n, model);
    if field.is_empty() {
        n = push(&mut buf, n, "` has many rows of table `");
    } else {
        n = push(&mut buf, n, ".");
        n = push(&mut buf, n, field);
        n = push(&mut buf, n, "` points at table `");
    }
    n = push(&mut buf, n, table);
    n = push(
        &mut buf,
        n,
        "`, but no model in `models: [..]` has that table, so migrations would never create it: add its model to `models`",
    );
    Message::new(buf, n)
}

const fn table_clash(a: &str, b: &str, table: &str) -> Message {
    let mut buf = [0u8; crate::support::konst::MESSAGE_LEN];
    let mut n = 0;
    n = crate::support::konst::push(&mut buf, n, "table clash: models `");
    n = crate::support::konst::push(&mut buf, n, a);
    n = crate::support::konst::push(&mut buf, n, "` and `");
    n = crate::support::konst::push(&mut buf, n, b);
    n = crate::support::konst::push(&mut buf, n, "` both map to table `");
    n = crate::support::konst::push(&mut buf, n, table);
    n = crate::support::konst::push(
        &mut buf,
        n,
        "`: give one of them another name with #[bao::model(table = \"...\")]",
    );
    Message::new(buf, n)
}

/// The tenant whose rows a tenant-scoped model's queries may touch. Taken as
/// a handler argument, it is the signed-in user's tenant (login required;
/// `403` for a user without one). Build one explicitly with `Tenant(id)` in
/// jobs and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tenant(pub i64);
