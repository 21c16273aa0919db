//! The five actions, generic over the model; `#[bao::api]` generates the
//! routes that call them.

use super::{ApiConfig, ApiModel, ApiQueryError, FieldError, Problem, RowJson};
use crate::db::{DbError, DbPool};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

/// What every action needs: the pool, for a tenant-scoped model the
/// tenant, and for an owned resource its owner column and the signed-in
/// user's id.
struct Context {
    pool: DbPool,
    tenant: Option<i64>,
    owner: Option<(&'static str, i64)>,
}

/// Whether `row` may be seen by a request with `owner`: always, unless the
/// resource is owned and the row belongs to someone else.
fn visible<M: ApiModel>(owner: Option<(&'static str, i64)>, row: &M) -> bool {
    let Some((column, user)) = owner else {
        return true;
    };
    serde_json::to_value(RowJson(row))
        .ok()
        .and_then(|v| v.get(column).and_then(Value::as_i64))
        == Some(user)
}

impl Context {
    /// Stamps the owner into a body the client sent (after its keys were
    /// checked, so a client cannot choose the owner).
    fn stamp(&self, body: &mut Map<String, Value>) {
        if let Some((column, user)) = self.owner {
            body.insert(column.to_string(), Value::from(user));
        }
    }
}

async fn prepare<M: ApiModel>(
    req: &HttpRequest,
    config: &ApiConfig,
) -> Result<Context, HttpResponse> {
    let required = config.required();
    let user = if required.is_some() || M::TENANT_SCOPED || config.owner.is_some() {
        // API clients get problem details, never a login redirect.
        let user = match crate::auth::current_user(req).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                let mut response = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "sign in, or send a valid API token as `Authorization: Bearer <token>`",
                )
                .response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                return Err(response);
            }
            Err(e) => return Err(actix_web::ResponseError::error_response(&e)),
        };
        if let Some(Some(role)) = required {
            if !user.has_role(role) {
                crate::auth::audit_denial(req, &user, role).await;
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    format!("this needs the `{role}` role"),
                )
                .response());
            }
        }
        Some(user)
    } else {
        None
    };
    let owner = config.owner.zip(user.as_ref().map(|u| u.id));
    let tenant = match (M::TENANT_SCOPED, user) {
        (false, _) => None,
        (true, Some(user)) => match user.tenant_id {
            Some(t) => Some(t),
            None => {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "your account does not belong to a tenant",
                )
                .response())
            }
        },
        (true, None) => unreachable!("a tenant-scoped resource resolved its user above"),
    };
    let Some(pool) = req
        .app_data::<web::Data<DbPool>>()
        .map(|p| p.get_ref().clone())
    else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not configured: set BAO_DATABASE_URL",
        )
        .response());
    };
    Ok(Context {
        pool,
        tenant,
        owner,
    })
}

macro_rules! ready {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}

/// `GET /path?page=&per_page=&sort=&<filter>=`: one page and its metadata.
pub async fn index<M: ApiModel>(req: &HttpRequest, config: &ApiConfig) -> HttpResponse {
    let ctx = ready!(prepare::<M>(req, config).await);
    let query = ready!(parse_query(req.query_string(), config));
    let Query {
        page,
        per_page,
        sort,
        mut filters,
    } = query;
    if let Some((column, user)) = ctx.owner {
        filters.push((column.to_string(), user.to_string()));
    }
    let offset = (page - 1).saturating_mul(per_page);
    let tenant = ctx.tenant;
    let result = ctx
        .pool
        .run(move |c| Ok(M::api_page(c, tenant, &filters, sort, per_page, offset)))
        .await;
    match result {
        Ok(Ok((rows, total))) => {
            #[derive(serde::Serialize)]
            struct Meta {
                page: i64,
                per_page: i64,
                total: i64,
                pages: i64,
            }
            #[derive(serde::Serialize)]
            #[serde(bound = "")]
            struct Page<'a, M: ApiModel> {
                data: Vec<RowJson<'a, M>>,
                meta: Meta,
            }
            let body = Page {
                data: rows.iter().map(RowJson).collect(),
                meta: Meta {
                    page,
                    per_page,
                    total,
                    pages: (total + per_page - 1) / per_page,
                },
            };
            HttpResponse::Ok().json(body)
        }
        Ok(Err(ApiQueryError::Filter(e))) => bad_request(vec![e]),
        Ok(Err(ApiQueryError::Database(e))) => Problem::from(DbError::from(e)).response(),
        Err(e) => Problem::from(e).response(),
    }
}

/// `GET /path/{id}`.
pub async fn show<M: ApiModel>(req: &HttpRequest, config: &ApiConfig, key: M::Key) -> HttpResponse {
    let ctx = ready!(prepare::<M>(req, config).await);
    let tenant = ctx.tenant;
    match ctx
        .pool
        .run(move |c| M::api_find(c, tenant, key).map_err(DbError::from))
        .await
    {
        Ok(row) if visible(ctx.owner, &row) => HttpResponse::Ok().json(RowJson(&row)),
        Ok(_) => Problem::from(DbError::NotFound).response(),
        Err(e) => Problem::from(e).response(),
    }
}

/// `POST /path`: `201` with the row and its `Location`.
pub async fn create<M: ApiModel>(
    req: &HttpRequest,
    payload: &mut Payload,
    config: &ApiConfig,
) -> HttpResponse {
    let ctx = ready!(prepare::<M>(req, config).await);
    let mut body = ready!(read_object(req, payload).await);
    let mut errors = check_keys::<M>(&body, config);
    ctx.stamp(&mut body);
    let new = match M::new_from_json(&body) {
        Ok(new) if errors.is_empty() => new,
        Ok(_) => return Problem::invalid(errors).response(),
        Err(more) => {
            errors.extend(more);
            return Problem::invalid(errors).response();
        }
    };
    let tenant = ctx.tenant;
    match ctx
        .pool
        .run(move |c| M::api_insert(c, tenant, new).map_err(DbError::from))
        .await
    {
        Ok(row) => HttpResponse::Created()
            .insert_header((header::LOCATION, format!("{}/{}", config.path, row.key())))
            .json(RowJson(&row)),
        Err(e) => Problem::from(e).response(),
    }
}

/// `PATCH /path/{id}` (the fields sent) or `PUT /path/{id}` (`full`: every
/// field; optional ones absent are cleared).
pub async fn update<M: ApiModel>(
    req: &HttpRequest,
    payload: &mut Payload,
    config: &ApiConfig,
    key: M::Key,
    full: bool,
) -> HttpResponse {
    let ctx = ready!(prepare::<M>(req, config).await);
    let mut body = ready!(read_object(req, payload).await);
    let mut errors = check_keys::<M>(&body, config);
    ctx.stamp(&mut body);
    let update = match M::update_from_json(&body, full) {
        Ok(update) if errors.is_empty() => update,
        Ok(_) => return Problem::invalid(errors).response(),
        Err(more) => {
            errors.extend(more);
            return Problem::invalid(errors).response();
        }
    };
    let tenant = ctx.tenant;
    let owner = ctx.owner;
    let result = ctx
        .pool
        .run(move |c| {
            // An owned row is read first: someone else's is not there.
            if owner.is_some() {
                let row = M::api_find(c, tenant, key).map_err(DbError::from)?;
                if !visible(owner, &row) {
                    return Err(DbError::NotFound);
                }
                if M::is_empty_update(&update) {
                    return Ok(row);
                }
            }
            if M::is_empty_update(&update) {
                M::api_find(c, tenant, key).map_err(DbError::from)
            } else {
                M::api_update(c, tenant, key, update).map_err(DbError::from)
            }
        })
        .await;
    match result {
        Ok(row) => HttpResponse::Ok().json(RowJson(&row)),
        Err(e) => Problem::from(e).response(),
    }
}

/// `DELETE /path/{id}`: `204`.
pub async fn delete<M: ApiModel>(
    req: &HttpRequest,
    config: &ApiConfig,
    key: M::Key,
) -> HttpResponse {
    let ctx = ready!(prepare::<M>(req, config).await);
    let tenant = ctx.tenant;
    let owner = ctx.owner;
    match ctx
        .pool
        .run(move |c| {
            if owner.is_some() {
                let row = M::api_find(c, tenant, key).map_err(DbError::from)?;
                if !visible(owner, &row) {
                    return Ok(0);
                }
            }
            M::api_delete(c, tenant, key).map_err(DbError::from)
        })
        .await
    {
        Ok(0) => Problem::from(DbError::NotFound).response(),
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(e) => Problem::from(e).response(),
    }
}

fn bad_request(errors: Vec<FieldError>) -> HttpResponse {
    let detail = errors
        .iter()
        .map(|e| format!("`{}` {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Problem::new(StatusCode::BAD_REQUEST, detail).response()
}

/// Whether `value` holds a NUL character anywhere (PostgreSQL cannot store
/// one in text, and no database should get one from a form or a client).
pub(crate) fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Keys the model does not have, or that the server sets (the owner of an
/// owned resource among them), and values with a NUL character.
fn check_keys<M: ApiModel>(body: &Map<String, Value>, config: &ApiConfig) -> Vec<FieldError> {
    let columns = M::COLUMNS;
    let owner = body
        .keys()
        .filter(|k| config.owner == Some(k.as_str()))
        .map(|k| FieldError::new(k, "is set by the server: rows belong to the signed-in user"));
    let nul = body.iter().filter(|(_, v)| has_nul(v)).map(|(k, _)| {
        FieldError::new(
            k,
            "contains a NUL character (\\0), which cannot be stored: remove it",
        )
    });
    body.keys()
        .filter(|k| !M::WRITABLE.contains(&k.as_str()) && config.owner != Some(k.as_str()))
        .map(|k| {
            if columns.iter().any(|c| c.name == k) {
                FieldError::new(k, "is set by the server and cannot be written")
            } else {
                FieldError::new(
                    k,
                    &format!(
                        "is not a field of this resource (fields: {})",
                        M::WRITABLE.join(", ")
                    ),
                )
            }
        })
        .chain(owner)
        .chain(nul)
        .collect()
}

/// The body as a JSON object: `413` when too large, `415` when not JSON,
/// `400` when malformed or not an object.
async fn read_object(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<Map<String, Value>, HttpResponse> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
        });
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with `Content-Type: application/json`",
        )
        .response());
    }
    let limit = req
        .app_data::<web::Data<crate::config::Config>>()
        .map_or(2 * 1024 * 1024, |config| config.max_body_size);
    let bytes = crate::auth::session::read_body(payload, limit)
        .await
        .map_err(|status| {
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the body is larger than {limit} bytes")
            } else {
                "the body could not be read".to_string()
            };
            Problem::new(status, detail).response()
        })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => {
            Err(Problem::new(StatusCode::BAD_REQUEST, "the body must be a JSON object").response())
        }
        Err(e) => {
            Err(Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")).response())
        }
    }
}

struct Query {
    page: i64,
    per_page: i64,
    sort: Option<(String, bool)>,
    filters: Vec<(String, String)>,
}

// The error is the response itself, built only on the failure path.
#[allow(clippy::result_large_err)]
fn parse_query(raw: &str, config: &ApiConfig) -> Result<Query, HttpResponse> {
    let mut query = Query {
        page: 1,
        per_page: config.per_page,
        sort: None,
        filters: Vec::new(),
    };
    let mut errors = Vec::new();
    let positive =
        |name: &str, value: &str, errors: &mut Vec<FieldError>| match value.parse::<i64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                errors.push(FieldError::new(name, "must be a whole number, 1 or more"));
                None
            }
        };
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "page" => {
                if let Some(n) = positive("page", &value, &mut errors) {
                    query.page = n.min(i64::MAX / config.max_per_page.max(1));
                }
            }
            "per_page" => {
                if let Some(n) = positive("per_page", &value, &mut errors) {
                    query.per_page = n.min(config.max_per_page);
                }
            }
            "sort" => {
                let (field, desc) = match value.strip_prefix('-') {
                    Some(f) => (f.to_string(), true),
                    None => (value.to_string(), false),
                };
                if config.sorts.contains(&field.as_str()) {
                    query.sort = Some((field, desc));
                } else {
                    errors.push(FieldError::new(
                        "sort",
                        &format!(
                            "cannot sort on `{field}`: use one of {} (prefix `-` for descending)",
                            list(config.sorts)
                        ),
                    ));
                }
            }
            other if config.filters.contains(&other) && value.contains('\0') => {
                errors.push(FieldError::new(
                    other,
                    "contains a NUL character (\\0), which no value can match: remove it",
                ));
            }
            other if config.filters.contains(&other) => {
                query.filters.push((other.to_string(), value.into_owned()));
            }
            other => errors.push(FieldError::new(
                other,
                &format!(
                    "is not a query parameter of this resource: use page, per_page, sort{}",
                    if config.filters.is_empty() {
                        String::new()
                    } else {
                        format!(" or a filter ({})", list(config.filters))
                    }
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(bad_request(errors))
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The `{id}` of an item route as `A`'s model key, if it is one.
fn item_key<A: super::ApiResource>(
    req: &HttpRequest,
) -> Option<<A::Model as crate::db::Model>::Key> {
    crate::http::handler::path_param::<<A::Model as crate::db::Model>::Key>(req, "id").ok()
}

/// The answer to an item route whose `{id}` is no key.
fn no_such_resource() -> HttpResponse {
    Problem::new(StatusCode::NOT_FOUND, "no such resource").response()
}

/// `GET /` of the API `A` (what `#[bao::api]` routes to).
pub async fn resource_index<A: super::ApiResource>(req: &HttpRequest) -> HttpResponse {
    index::<A::Model>(req, &A::CONFIG).await
}

/// `POST /` of the API `A`.
pub async fn resource_create<A: super::ApiResource>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> HttpResponse {
    create::<A::Model>(req, payload, &A::CONFIG).await
}

/// `GET /{id}` of the API `A`.
pub async fn resource_show<A: super::ApiResource>(req: &HttpRequest) -> HttpResponse {
    match item_key::<A>(req) {
        Some(key) => show::<A::Model>(req, &A::CONFIG, key).await,
        None => no_such_resource(),
    }
}

/// `PATCH /{id}` (`full = false`) or `PUT /{id}` (`full = true`) of the API `A`.
pub async fn resource_update<A: super::ApiResource>(
    req: &HttpRequest,
    payload: &mut Payload,
    full: bool,
) -> HttpResponse {
    match item_key::<A>(req) {
        Some(key) => update::<A::Model>(req, payload, &A::CONFIG, key, full).await,
        None => no_such_resource(),
    }
}

/// `DELETE /{id}` of the API `A`.
pub async fn resource_delete<A: super::ApiResource>(req: &HttpRequest) -> HttpResponse {
    match item_key::<A>(req) {
        Some(key) => delete::<A::Model>(req, &A::CONFIG, key).await,
        None => no_such_resource(),
    }
}
