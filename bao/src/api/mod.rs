//! JSON API resources: `#[bao::api("/api/v1/notes", model = Note)]` serves
//! `index`, `show`, `create`, `update` (PATCH partial, PUT full) and
//! `delete` for a model, with pagination, filters and sorting from
//! allow-lists, strict JSON bodies, RFC 9457 problem details, and the same
//! login, role and tenant rules as controllers. `openapi` builds the OpenAPI
//! 3.1 document from the same metadata.

pub(crate) mod docs;
pub use docs::ApiSubsystem;
mod handlers;
pub mod openapi;
mod problem;

pub use handlers::{
    create, delete, index, resource_create, resource_delete, resource_index, resource_show,
    resource_update, show, update,
};
pub use openapi::{document, ApiDoc};
pub use problem::{FieldError, Problem};
pub use utoipa::openapi::OpenApi;

use crate::db::{DbConnection, ModelQueries};
use serde_json::{Map, Value};

/// The actions a resource can serve.
pub const ACTIONS: &[&str] = &["index", "show", "create", "update", "delete"];

/// What `#[bao::api]` declares about one resource.
#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// The resource's type name (the OpenAPI tag).
    pub name: &'static str,
    /// The collection path, e.g. `/api/v1/notes`.
    pub path: &'static str,
    /// The actions served, a subset of [`ACTIONS`].
    pub actions: &'static [&'static str],
    /// `public`, `login` or `role:NAME`.
    pub access: &'static str,
    /// Columns `index` may filter on (`?status=open`).
    pub filters: &'static [&'static str],
    /// Columns `index` may sort on (`?sort=title`, `?sort=-created_at`).
    pub sorts: &'static [&'static str],
    /// Page size when the client gives none.
    pub per_page: i64,
    /// The largest page size a client may ask for.
    pub max_per_page: i64,
    /// Actions overridden with their own access (`update` covers PUT too).
    pub action_access: &'static [(&'static str, &'static str)],
    /// `owned_by = user_id`: the column holding the owner's user id. Each
    /// signed-in user then lists, reads, changes and deletes only their own
    /// rows, and new rows are stamped with their id.
    pub owner: Option<&'static str>,
}

impl ApiConfig {
    /// Whether the resource serves `action`.
    pub fn serves(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }

    /// Who may call `action`: its override's access, else the resource's.
    pub fn access_of(&self, action: &str) -> &'static str {
        let action = if action == "replace" {
            "update"
        } else {
            action
        };
        self.action_access
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(self.access, |(_, access)| *access)
    }

    /// The role `requires_role` asks for, or `Some(None)` for a login.
    pub(crate) fn required(&self) -> Option<Option<&'static str>> {
        match self.access {
            "public" => None,
            "login" => Some(None),
            other => Some(other.strip_prefix("role:")),
        }
    }
}

/// A controller route marked `#[openapi]`: listed in the OpenAPI document
/// with its path parameters (name, Rust type) and a JSON response.
#[derive(Debug, Clone, Copy)]
pub struct DocumentedRoute {
    /// The route.
    pub route: crate::RouteInfo,
    /// Its path parameters.
    pub params: &'static [(&'static str, &'static str)],
}

/// What `#[bao::model]` generates so a model can be served as JSON.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Bao model",
    label = "`model =` must name a #[bao::model] struct",
    note = "add #[bao::model] to `struct {Self}`, or point `model =` at one"
)]
pub trait ApiModel: ModelQueries + crate::db::Model<Key: crate::http::handler::PathParam> {
    /// Fields a client may send (the key, timestamps and `tenant_id` are the
    /// server's).
    const WRITABLE: &'static [&'static str];
    /// Fields `create` needs (not nullable, no default).
    const REQUIRED: &'static [&'static str];
    /// Whether rows belong to tenants.
    const TENANT_SCOPED: bool;

    /// Writes the row as a JSON object, its fields in declaration order.
    fn serialize_row<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
    /// The row as a JSON value.
    fn to_json(&self) -> Value;
    /// The insert described by `body`; every field error at once.
    fn new_from_json(body: &Map<String, Value>) -> Result<Self::New, Vec<FieldError>>;
    /// The `#[validate]` problems of an insert built elsewhere (a form).
    fn validate_new(new: &Self::New) -> Vec<FieldError>;
    /// The update described by `body`: only the fields present, or (`full`)
    /// every required field.
    fn update_from_json(
        body: &Map<String, Value>,
        full: bool,
    ) -> Result<Self::Update, Vec<FieldError>>;
    /// One page of rows matching `filters`, in `sort` order, and how many
    /// match in all.
    fn api_page(
        conn: &mut DbConnection,
        tenant: Option<i64>,
        filters: &[(String, String)],
        sort: Option<(String, bool)>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Self>, i64), ApiQueryError>;
    /// The row with `key` (in `tenant`, for a scoped model).
    fn api_find(
        conn: &mut DbConnection,
        tenant: Option<i64>,
        key: Self::Key,
    ) -> diesel::QueryResult<Self>;
    /// Inserts `new` (stamped with `tenant`, for a scoped model).
    fn api_insert(
        conn: &mut DbConnection,
        tenant: Option<i64>,
        new: Self::New,
    ) -> diesel::QueryResult<Self>;
    /// Updates the row with `key`.
    fn api_update(
        conn: &mut DbConnection,
        tenant: Option<i64>,
        key: Self::Key,
        update: Self::Update,
    ) -> diesel::QueryResult<Self>;
    /// Deletes the row with `key`; rows deleted.
    fn api_delete(
        conn: &mut DbConnection,
        tenant: Option<i64>,
        key: Self::Key,
    ) -> diesel::QueryResult<usize>;
}

/// Why `api_page` failed.
#[derive(Debug)]
pub enum ApiQueryError {
    /// A filter value does not parse as its column's type.
    Filter(FieldError),
    /// The database failed.
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for ApiQueryError {
    fn from(e: diesel::result::Error) -> Self {
        ApiQueryError::Database(e)
    }
}

/// A row as `serde` sees it: what the API writes, without an intermediate
/// JSON value.
pub struct RowJson<'a, M>(pub &'a M);

impl<M: ApiModel> serde::Serialize for RowJson<'_, M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_row(serializer)
    }
}

/// A field's value as JSON (what `to_json` calls for each column). A
/// `NaiveDateTime` (stored as UTC) is written as RFC 3339 with its offset,
/// `2026-12-01T09:30:00Z`, as the OpenAPI `date-time` format promises.
pub fn json_value<T: serde::Serialize + std::any::Any>(value: &T) -> Value {
    let any = value as &dyn std::any::Any;
    if let Some(t) = any.downcast_ref::<chrono::NaiveDateTime>() {
        return Value::String(utc_text(t));
    }
    if let Some(t) = any.downcast_ref::<Option<chrono::NaiveDateTime>>() {
        return t
            .as_ref()
            .map_or(Value::Null, |t| Value::String(utc_text(t)));
    }
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn utc_text(t: &chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A field as the API writes it (see [`json_value`]), for serializers.
pub struct ApiField<'a, T>(pub &'a T);

impl<T: serde::Serialize + std::any::Any> serde::Serialize for ApiField<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json_value(self.0).serialize(serializer)
    }
}

/// `value` as a `T`; a `NaiveDateTime` also accepts RFC 3339 with any
/// offset (converted to UTC), as well as the offset-less form.
fn from_json<T: serde::de::DeserializeOwned + std::any::Any>(
    value: &Value,
) -> Result<T, serde_json::Error> {
    use std::any::TypeId;
    let timestamp = |text: &str| -> Option<chrono::NaiveDateTime> {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.naive_utc())
            .ok()
            .or_else(|| text.parse::<chrono::NaiveDateTime>().ok())
    };
    let boxed: Option<Box<dyn std::any::Any>> = match value {
        Value::String(text) if TypeId::of::<T>() == TypeId::of::<chrono::NaiveDateTime>() => {
            timestamp(text).map(|t| Box::new(t) as Box<dyn std::any::Any>)
        }
        Value::String(text)
            if TypeId::of::<T>() == TypeId::of::<Option<chrono::NaiveDateTime>>() =>
        {
            timestamp(text).map(|t| Box::new(Some(t)) as Box<dyn std::any::Any>)
        }
        _ => None,
    };
    match boxed.and_then(|b| b.downcast::<T>().ok()) {
        Some(value) => Ok(*value),
        None => T::deserialize(value),
    }
}

/// Reads field `name` of `body` as a `T`; records what is wrong in `errors`.
/// `None` when it is absent (an error too when `required`).
pub fn take_field<T: serde::de::DeserializeOwned + std::any::Any>(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match body.get(name) {
        None => {
            if required {
                errors.push(FieldError::new(name, "is required"));
            }
            None
        }
        Some(value) => match from_json::<T>(value) {
            Ok(v) => Some(v),
            Err(_) if value.is_null() => {
                errors.push(FieldError::new(name, "must not be null"));
                None
            }
            Err(e) => {
                errors.push(FieldError::new(name, &describe_type_error(&e.to_string())));
                None
            }
        },
    }
}

/// serde's "invalid type: string \"x\", expected i64" as a sentence for a client.
fn describe_type_error(message: &str) -> String {
    match message.split_once(", expected ") {
        Some((got, expected)) => format!(
            "expected {}, got {}",
            expected.trim(),
            got.trim_start_matches("invalid type: ")
                .trim_start_matches("invalid value: ")
        ),
        None => message.to_string(),
    }
}

/// A value a `#[validate]` rule can check.
pub trait Checkable {
    /// The text, for `length` and `email`.
    fn text(&self) -> Option<&str> {
        None
    }
    /// The number, for `range`.
    fn number(&self) -> Option<f64> {
        None
    }
}

impl Checkable for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

macro_rules! checkable_number {
    ($($t:ty),*) => {$(
        impl Checkable for $t {
            fn number(&self) -> Option<f64> {
                Some(f64::from(*self))
            }
        }
    )*};
}
checkable_number!(i32, f64);

impl Checkable for i64 {
    fn number(&self) -> Option<f64> {
        // Bounds are written as literals; i64 values compare exactly up to 2^53.
        Some(*self as f64)
    }
}

impl<T: Checkable> Checkable for Option<T> {
    fn text(&self) -> Option<&str> {
        self.as_ref().and_then(Checkable::text)
    }
    fn number(&self) -> Option<f64> {
        self.as_ref().and_then(Checkable::number)
    }
}

/// Checks `value` of field `name` against its `#[validate]` rules.
pub fn check_rules<T: Checkable>(
    name: &str,
    value: &T,
    rules: &[crate::db::Rule],
    errors: &mut Vec<FieldError>,
) {
    use crate::db::Rule;
    for rule in rules {
        let problem = match *rule {
            Rule::Length { min, max } => value.text().and_then(|t| {
                let n = t.chars().count() as u64;
                match (min, max) {
                    (Some(lo), _) if n < lo => {
                        Some(format!("must be at least {lo} characters (has {n})"))
                    }
                    (_, Some(hi)) if n > hi => {
                        Some(format!("must be at most {hi} characters (has {n})"))
                    }
                    _ => None,
                }
            }),
            Rule::Range { min, max } => value.number().and_then(|v| match (min, max) {
                (Some(lo), _) if v < lo => Some(format!("must be at least {lo}")),
                (_, Some(hi)) if v > hi => Some(format!("must be at most {hi}")),
                _ => None,
            }),
            Rule::Email => value.text().and_then(|t| {
                let ok = t.len() <= 254
                    && !t.chars().any(char::is_whitespace)
                    && t.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !domain.contains('@')
                    });
                (!ok).then(|| "must be an email address".to_string())
            }),
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(name, &message));
        }
    }
}

/// Parses a filter's query-string value as the column's type: as a JSON
/// literal (`42`, `true`) or as a string (`open`, `2026-11-27`).
pub fn parse_filter<T: serde::de::DeserializeOwned + std::any::Any>(
    field: &str,
    raw: &str,
) -> Result<T, ApiQueryError> {
    serde_json::from_str::<T>(raw)
        .or_else(|_| from_json::<T>(&Value::String(raw.to_string())))
        .map_err(|e| {
            ApiQueryError::Filter(FieldError::new(
                field,
                &format!(
                    "cannot filter on `{raw}`: {}",
                    describe_type_error(&e.to_string())
                ),
            ))
        })
}

/// The error for a filter or sort column the model does not have.
pub fn unknown_column(field: &str) -> ApiQueryError {
    ApiQueryError::Filter(FieldError::new(field, "is not a column of this resource"))
}

/// What is wrong when `filter(..)`, `sort(..)` or `owned_by` of
/// `#[bao::api]` names a column the model does not have. `#[bao::api]`
/// panics with it in a `const` spanned at the option.
pub const fn check_columns(
    resource: &str,
    kind: &str,
    names: &[&str],
    columns: &[crate::db::ColumnInfo],
) -> Option<crate::support::konst::Message> {
    let mut i = 0;
    while i < names.len() {
        let mut found = false;
        let mut j = 0;
        while j < columns.len() {
            if crate::support::konst::str_eq(names[i], columns[j].name) {
                found = true;
            }
            j += 1;
        }
        if !found {
            use crate::support::konst::{push, str_eq, Message, MESSAGE_LEN};
            let mut buf = [0u8; MESSAGE_LEN];
            let owner = str_eq(kind, "owned_by");
            let mut n = push(&mut buf, 0, "`");
            n = push(&mut buf, n, kind);
            n = push(&mut buf, n, if owner { " = " } else { "(" });
            n = push(&mut buf, n, names[i]);
            n = push(
                &mut buf,
                n,
                if owner { "` of API `" } else { ")` of API `" },
            );
            n = push(&mut buf, n, resource);
            n = push(
                &mut buf,
                n,
                if owner {
                    "` names no column of its model: name the field holding the owner's user id, e.g. `#[belongs_to(User)] pub user_id: i64`"
                } else {
                    "` names no column of its model: use one of the model's fields"
                },
            );
            return Some(Message::new(buf, n));
        }
        i += 1;
    }
    None
}

/// Implemented by `#[bao::api]`: the resource's declaration and its model's
/// metadata, for the OpenAPI document.
pub trait ApiResource {
    /// The model it serves. The generated handlers reach the model only
    /// through this type, so a `model = X` that is not a model is one error,
    /// at `X`.
    type Model: ApiModel;
    /// The declaration.
    const CONFIG: ApiConfig;
    /// The model's table and columns.
    fn model() -> crate::db::ModelInfo {
        <Self::Model as crate::db::Model>::info()
    }
    /// The model's writable and required fields.
    fn fields() -> (&'static [&'static str], &'static [&'static str]) {
        (
            <Self::Model as ApiModel>::WRITABLE,
            <Self::Model as ApiModel>::REQUIRED,
        )
    }
}

/// Who may call an API that does not say: signed-in users for a
/// tenant-scoped model, anyone otherwise.
pub const fn default_access<A: ApiResource>() -> &'static str {
    if <A::Model as ApiModel>::TENANT_SCOPED {
        "login"
    } else {
        "public"
    }
}

/// The columns of an API's model (for the compile-time checks of its
/// filters, sorts and owner).
pub const fn resource_columns<A: ApiResource>() -> &'static [crate::db::ColumnInfo] {
    <A::Model as crate::db::Model>::COLUMNS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_read_as_sentences() {
        let mut errors = Vec::new();
        let body: Map<String, Value> = serde_json::from_str(r#"{"n": "x", "m": null}"#).unwrap();
        assert_eq!(take_field::<i64>(&body, "n", true, &mut errors), None);
        assert_eq!(take_field::<i64>(&body, "m", true, &mut errors), None);
        assert_eq!(take_field::<i64>(&body, "absent", true, &mut errors), None);
        assert_eq!(
            take_field::<Option<i64>>(&body, "m", true, &mut errors),
            Some(None)
        );
        let messages: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        assert_eq!(
            messages,
            [
                "n: expected i64, got string \"x\"",
                "m: must not be null",
                "absent: is required"
            ]
        );
        assert_eq!(parse_filter::<i64>("n", "42").ok(), Some(42));
        assert_eq!(
            parse_filter::<String>("s", "open").ok().as_deref(),
            Some("open")
        );
        assert!(parse_filter::<bool>("b", "maybe").is_err());
    }
}
