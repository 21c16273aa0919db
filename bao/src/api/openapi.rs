//! The OpenAPI 3.1 document of an app's API resources, built with utoipa's
//! model from what `#[bao::api]` and `#[bao::model]` declared: one schema per
//! model in three variants (read, create, update), every path with its
//! parameters and responses (errors included), tags, security schemes and
//! per-operation security. Deterministic: the same code gives the same bytes,
//! so `bao openapi --check` can compare it with a committed file.

use super::ApiConfig;
use crate::db::{ColumnInfo, ModelInfo};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder,
};

/// One resource as the document needs it.
#[derive(Debug, Clone, Copy)]
pub struct ApiDoc {
    /// What `#[bao::api]` declared.
    pub config: ApiConfig,
    /// The model's table and columns.
    pub model: ModelInfo,
    /// Fields a client may write.
    pub writable: &'static [&'static str],
    /// Fields `create` requires.
    pub required: &'static [&'static str],
}

const PROBLEM: &str = "Problem";
const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";

/// The document for `apis` and the `#[openapi]` controller `routes` of the
/// app `title` at `version`.
pub fn document(
    title: &str,
    version: &str,
    apis: &[ApiDoc],
    routes: &[&[super::DocumentedRoute]],
) -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema(PROBLEM, problem_schema())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("bao-token")
                    .description(Some(
                        "An API token from `bao tokens:issue USER_ID`, sent as `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "cookieSession",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie set at login; unsafe methods also need the `X-CSRF-Token` header",
            ))),
        );
    let mut paths = PathsBuilder::new();
    let mut tags = Vec::new();
    let mut seen_models: Vec<&str> = Vec::new();
    for api in apis {
        let model = api.model.name;
        if !seen_models.contains(&model) {
            seen_models.push(model);
            components = components
                .schema(model, read_schema(api))
                .schema(format!("{model}Create"), write_schema(api, true))
                .schema(format!("{model}Update"), write_schema(api, false))
                .schema(format!("{model}Page"), page_schema(model));
        }
        tags.push(
            TagBuilder::new()
                .name(api.config.name)
                .description(Some(format!(
                    "`{}` rows of table `{}`",
                    model, api.model.table
                )))
                .build(),
        );
        let (collection, item) = operations(api);
        if let Some(item) = collection {
            paths = paths.path(api.config.path, item);
        }
        if let Some(item) = item {
            paths = paths.path(format!("{}/{{id}}", api.config.path), item);
        }
    }
    let mut controller_paths: Vec<(&str, PathItem)> = Vec::new();
    for documented in routes.iter().flat_map(|r| r.iter()) {
        let route = documented.route;
        if !tags.iter().any(|t| t.name == route.controller) {
            tags.push(TagBuilder::new().name(route.controller).build());
        }
        let method = match route.method {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "PATCH" => HttpMethod::Patch,
            "DELETE" => HttpMethod::Delete,
            "HEAD" => HttpMethod::Head,
            _ => HttpMethod::Options,
        };
        let summary = if route.summary.is_empty() {
            format!("{}::{}", route.controller, route.handler)
        } else {
            route.summary.to_string()
        };
        let mut op = OperationBuilder::new()
            .tag(route.controller)
            .operation_id(Some(format!("{}_{}", route.controller, route.handler)))
            .summary(Some(summary))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("JSON")
                    .content(
                        JSON,
                        json_content(ObjectBuilder::new().schema_type(SchemaType::AnyValue)),
                    )
                    .build(),
            );
        for (name, ty) in documented.params {
            let integer = matches!(
                *ty,
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "isize" | "usize"
            );
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(if integer {
                        Type::Integer
                    } else {
                        Type::String
                    })))
                    .build(),
            );
        }
        if !documented.params.is_empty() {
            op = op.response("404", problem("Nothing at this address"));
        }
        if route.access != "public" {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    "cookieSession",
                    Vec::<String>::new(),
                ))
                .response("401", problem("Not signed in"));
            if route.access.starts_with("role:") {
                op = op.response("403", problem("Signed in without the needed role"));
            }
        }
        let item = PathItem::new(method, op.build());
        match controller_paths.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, existing)) => existing.merge_operations(item),
            None => controller_paths.push((route.path, item)),
        }
    }
    for (path, item) in controller_paths {
        paths = paths.path(path, item);
    }
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(version).build())
        .paths(paths.build())
        .components(Some(components.build()))
        .tags(Some(tags))
        .build()
}

fn json_schema_of(column: &ColumnInfo) -> ObjectBuilder {
    let (ty, format) = match column.sql_type {
        "Integer" => (Type::Integer, Some(KnownFormat::Int32)),
        "BigInt" => (Type::Integer, Some(KnownFormat::Int64)),
        "Double" => (Type::Number, Some(KnownFormat::Double)),
        "Bool" => (Type::Boolean, None),
        "Timestamp" => (Type::String, Some(KnownFormat::DateTime)),
        "Date" => (Type::String, Some(KnownFormat::Date)),
        "Time" => (Type::String, Some(KnownFormat::Time)),
        _ => (Type::String, None),
    };
    let free_text = matches!(ty, Type::String)
        && format.is_none()
        && column.check.is_empty()
        && !column.rust_type.contains("BigDecimal")
        && !column.rust_type.contains("Value");
    let mut schema = ObjectBuilder::new();
    schema = match (column.rust_type, column.nullable) {
        // JSON values may be anything.
        ("Value" | "Option<Value>", _) => schema.schema_type(SchemaType::AnyValue),
        (_, true) => schema.schema_type(SchemaType::from_iter([ty, Type::Null])),
        (_, false) => schema.schema_type(ty),
    };
    if let Some(format) = format {
        schema = schema.format(Some(SchemaFormat::KnownFormat(format)));
    }
    if column.rust_type.contains("BigDecimal") {
        schema = schema
            .format(Some(SchemaFormat::Custom("decimal".into())))
            .description(Some("A decimal number, as a string"));
    }
    for rule in column.rules {
        schema = match *rule {
            crate::db::Rule::Length { min, max } => schema
                .min_length(min.map(|v| v as usize))
                .max_length(max.map(|v| v as usize)),
            crate::db::Rule::Range { min, max } => schema.minimum(min).maximum(max),
            crate::db::Rule::Email => {
                schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            }
        };
    }
    if free_text {
        // Text cannot hold NUL (PostgreSQL refuses it; Bao answers 422).
        schema = schema.pattern(Some("^[^\\u0000]*$"));
    }
    if !column.check.is_empty() {
        let mut values: Vec<serde_json::Value> = column
            .check
            .iter()
            .map(|v| serde_json::Value::from(*v))
            .collect();
        if column.nullable {
            values.push(serde_json::Value::Null);
        }
        schema = schema.enum_values(Some(values));
    }
    schema
}

fn read_schema(api: &ApiDoc) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for column in api.model.columns {
        object = object
            .property(column.name, json_schema_of(column))
            .required(column.name);
    }
    object.build().into()
}

/// The create (`required` fields required) or update (none required) body;
/// unknown fields are refused, so `additionalProperties: false`.
fn write_schema(api: &ApiDoc, create: bool) -> Schema {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    // The owner of an owned resource is set by the server.
    for name in api
        .writable
        .iter()
        .filter(|n| api.config.owner != Some(**n))
    {
        if let Some(column) = api.model.columns.iter().find(|c| c.name == *name) {
            object = object.property(column.name, json_schema_of(column));
            if create && api.required.contains(name) {
                object = object.required(column.name);
            }
        }
    }
    object.build().into()
}

fn page_schema(model: &str) -> Schema {
    let int = |format| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    let meta = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("page", int(KnownFormat::Int64))
        .property("per_page", int(KnownFormat::Int64))
        .property("total", int(KnownFormat::Int64))
        .property("pages", int(KnownFormat::Int64))
        .required("page")
        .required("per_page")
        .required("total")
        .required("pages");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "data",
            ArrayBuilder::new().items(Ref::from_schema_name(model)),
        )
        .property("meta", meta)
        .required("data")
        .required("meta")
        .build()
        .into()
}

fn problem_schema() -> Schema {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let field_error = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("field", string())
        .property("message", string())
        .required("field")
        .required("message");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("RFC 9457 problem details"))
        .property("type", string())
        .property("title", string())
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32))),
        )
        .property("detail", string())
        .property("errors", ArrayBuilder::new().items(field_error))
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .build()
        .into()
}

fn json_content(schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, json_content(Ref::from_schema_name(PROBLEM)))
        .build()
}

/// The operations of the collection path and of the item path.
fn operations(api: &ApiDoc) -> (Option<PathItem>, Option<PathItem>) {
    let config = &api.config;
    let model = api.model.name;
    let key_column = api.model.columns.iter().find(|c| c.primary_key);
    let base = |action: &str, summary: String| {
        let access = config.access_of(action);
        let secured = access != "public" || tenant_scoped(api);
        let mut op = OperationBuilder::new()
            .tag(config.name)
            .operation_id(Some(format!("{}_{action}", config.name)))
            .summary(Some(summary));
        if secured {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    "cookieSession",
                    Vec::<String>::new(),
                ))
                .response(
                    "401",
                    problem("Not signed in, or the token is invalid, revoked or expired"),
                );
        }
        // Unsafe methods sent with the session cookie need `X-CSRF-Token`.
        let unsafe_method = matches!(action, "create" | "update" | "replace" | "delete");
        let role = secured && (access.starts_with("role:") || tenant_scoped(api));
        match (role, unsafe_method) {
            (true, true) => {
                op = op.response(
                    "403",
                    problem("Signed in without the needed role or tenant, or sent with the session cookie but without the right `X-CSRF-Token`"),
                )
            }
            (true, false) => {
                op = op.response("403", problem("Signed in without the needed role or tenant"))
            }
            (false, true) => {
                op = op.response(
                    "403",
                    problem("Sent with the session cookie but without the right `X-CSRF-Token` header"),
                )
            }
            (false, false) => {}
        }
        op
    };
    let id_param = || {
        let schema = key_column.map_or_else(
            || ObjectBuilder::new().schema_type(Type::Integer),
            json_schema_of,
        );
        ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema))
            .build()
    };
    let body = |variant: &str| {
        Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    JSON,
                    json_content(Ref::from_schema_name(format!("{model}{variant}"))),
                )
                .build(),
        )
    };
    let row = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(JSON, json_content(Ref::from_schema_name(model)))
            .build()
    };
    let invalid = || problem("Invalid fields: each is listed in `errors`");

    let mut collection: Option<PathItem> = None;
    let add = |slot: &mut Option<PathItem>, method: HttpMethod, op: OperationBuilder| {
        let op = op.build();
        match slot {
            Some(item) => item.merge_operations(PathItem::new(method, op)),
            None => *slot = Some(PathItem::new(method, op)),
        }
    };
    if config.serves("index") {
        let mut op = base("index", format!("List {model} rows, a page at a time"))
            .parameter(query_param("page", "Page number, from 1", Type::Integer))
            .parameter(query_param(
                "per_page",
                &format!(
                    "Rows per page (default {}, at most {})",
                    config.per_page, config.max_per_page
                ),
                Type::Integer,
            ));
        if !config.sorts.is_empty() {
            let mut values: Vec<serde_json::Value> = Vec::new();
            for s in config.sorts {
                values.push((*s).into());
                values.push(format!("-{s}").into());
            }
            op = op.parameter(
                ParameterBuilder::new()
                    .name("sort")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("A column to sort on; prefix `-` for descending"))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(values)),
                    ))
                    .build(),
            );
        }
        for name in config.filters {
            if let Some(column) = api.model.columns.iter().find(|c| c.name == *name) {
                // A filter compares with any value of the column's type (never
                // null); the write rules do not apply to it.
                let schema = json_schema_of(&ColumnInfo {
                    nullable: false,
                    rules: &[],
                    ..*column
                });
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(*name)
                        .parameter_in(ParameterIn::Query)
                        .required(Required::False)
                        .description(Some(format!("Only rows whose `{name}` equals this")))
                        .schema(Some(schema))
                        .build(),
                );
            }
        }
        op = op
            .response(
                "200",
                ResponseBuilder::new()
                    .description("One page of rows and the paging metadata")
                    .content(
                        JSON,
                        json_content(Ref::from_schema_name(format!("{model}Page"))),
                    )
                    .build(),
            )
            .response(
                "400",
                problem("An unknown query parameter, or a value that does not parse"),
            );
        add(&mut collection, HttpMethod::Get, op);
    }
    if config.serves("create") {
        let mut op = base("create", format!("Create a {model}"));
        op = op
            .request_body(body("Create"))
            .response("201", row("The row as stored, with its `Location`"))
            .response("400", problem("Malformed JSON, or not an object"))
            .response("409", problem("A unique value is taken"))
            .response("413", problem("The body is too large"))
            .response("415", problem("The body is not JSON"))
            .response("422", invalid());
        add(&mut collection, HttpMethod::Post, op);
    }
    let mut item: Option<PathItem> = None;
    let not_found = || problem("No row with this id");
    if config.serves("show") {
        let op = base("show", format!("One {model}"))
            .parameter(id_param())
            .response("200", row("The row"))
            .response("404", not_found());
        add(&mut item, HttpMethod::Get, op);
    }
    if config.serves("update") {
        for (method, action, variant, summary) in [
            (
                HttpMethod::Patch,
                "update",
                "Update",
                format!("Change some fields of a {model}"),
            ),
            (
                HttpMethod::Put,
                "replace",
                "Create",
                format!("Replace every field of a {model}"),
            ),
        ] {
            let op = base(action, summary)
                .parameter(id_param())
                .request_body(body(variant))
                .response("200", row("The row as stored"))
                .response("400", problem("Malformed JSON, or not an object"))
                .response("404", not_found())
                .response("409", problem("A unique value is taken"))
                .response("413", problem("The body is too large"))
                .response("415", problem("The body is not JSON"))
                .response("422", invalid());
            add(&mut item, method, op);
        }
    }
    if config.serves("delete") {
        let op = base("delete", format!("Delete a {model}"))
            .parameter(id_param())
            .response("204", ResponseBuilder::new().description("Deleted").build())
            .response("404", not_found());
        add(&mut item, HttpMethod::Delete, op);
    }
    (collection, item)
}

fn tenant_scoped(api: &ApiDoc) -> bool {
    api.model.columns.iter().any(|c| c.name == "tenant_id") && !api.writable.contains(&"tenant_id")
}

fn query_param(name: &str, description: &str, ty: Type) -> utoipa::openapi::path::Parameter {
    let mut schema = ObjectBuilder::new().schema_type(ty);
    if name == "page" || name == "per_page" {
        schema = schema
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1));
    }
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}
