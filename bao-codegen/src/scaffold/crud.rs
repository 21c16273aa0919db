//! `bao make:crud Task name:str count:int ..`: a model, a controller with
//! the seven actions, its views and its tests, from field specs checked
//! before anything is written.

use super::names::KEYWORDS;
use super::GeneratedFile;
use cruet::string::singularize::to_singular;
use heck::{ToSnakeCase, ToUpperCamelCase};

/// A field's type, as `name:type` spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// `str` (the default): one line of text.
    Str,
    /// `text`: long text.
    Text,
    /// `int`: a whole number (`i64`).
    Int,
    /// `float`: a number (`f64`).
    Float,
    /// `bool`: a checkbox.
    Bool,
    /// `datetime`: a date and time (`NaiveDateTime`).
    DateTime,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `decimal`: an exact decimal (`BigDecimal`).
    Decimal,
    /// `enum(open|closed)`: one of these values.
    Enum(Vec<String>),
    /// `ref:User`: the key of a row of another model.
    Ref(String),
}

/// One field of the scaffold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field (and column) name.
    pub name: String,
    /// Its type.
    pub kind: FieldKind,
    /// For a `ref:Model`, the target's field that names a row in selects
    /// (see [`label_field`]); its id otherwise.
    pub ref_label: Option<String>,
}

/// The field of `model` that best names one of its rows in a select: `name`,
/// `title`, `email`, `label` or `username` when it has one, else its first
/// text field.
pub fn label_field(model: &super::ModelSource) -> Option<String> {
    let text = |ty: &str| ty.replace(' ', "") == "String";
    ["name", "title", "email", "label", "username"]
        .iter()
        .find_map(|want| {
            model
                .fields
                .iter()
                .find(|(name, ty, _)| name == want && text(ty))
                .map(|(name, _, _)| name.clone())
        })
        .or_else(|| {
            model
                .fields
                .iter()
                .find(|(_, ty, _)| text(ty))
                .map(|(name, _, _)| name.clone())
        })
}

/// The types `make:crud` knows, for error messages.
pub const FIELD_TYPES: &str =
    "str, text, int, float, bool, datetime, date, time, decimal, enum(a|b|c), ref:Model";

const RESERVED_FIELDS: &[&str] = &["id", "created_at", "updated_at", "tenant_id"];

pub(super) fn is_snake_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// Checks a model name: UpperCamelCase, singular, not a keyword.
pub fn check_model_name(name: &str) -> Result<(), String> {
    let camel = name.to_upper_camel_case();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) || camel != name {
        return Err(format!(
            "`{name}` is not a model name: write it in UpperCamelCase, like `{}`",
            if camel.is_empty() {
                "Task".to_string()
            } else {
                camel
            }
        ));
    }
    let singular = to_singular(name);
    if singular != name {
        return Err(format!(
            "model names are singular (the table is the plural): write `{singular}`, not `{name}`"
        ));
    }
    if KEYWORDS.contains(&name.to_lowercase().as_str()) || ["Self", "App", "Bao"].contains(&name) {
        return Err(format!("`{name}` is reserved: choose another model name"));
    }
    Ok(())
}

/// Parses `name[:type]` specs; every problem is reported at once.
pub fn parse_fields(specs: &[String]) -> Result<Vec<FieldSpec>, String> {
    let mut fields: Vec<FieldSpec> = Vec::new();
    let mut problems = Vec::new();
    for spec in specs {
        let (name, ty) = spec.split_once(':').unwrap_or((spec.as_str(), "str"));
        if !is_snake_identifier(name) || KEYWORDS.contains(&name) {
            problems.push(format!(
                "`{name}` is not a field name: use snake_case letters, digits and `_`, not a Rust keyword (like `due_at`)"
            ));
            continue;
        }
        if RESERVED_FIELDS.contains(&name) {
            problems.push(format!(
                "`{name}` is added by Bao (id, created_at, updated_at) or reserved (tenant_id): leave it out"
            ));
            continue;
        }
        if fields.iter().any(|f| f.name == name) {
            problems.push(format!("field `{name}` is given twice"));
            continue;
        }
        let kind = match ty {
            "str" | "string" => FieldKind::Str,
            "text" => FieldKind::Text,
            "int" | "integer" => FieldKind::Int,
            "float" => FieldKind::Float,
            "bool" | "boolean" => FieldKind::Bool,
            "datetime" => FieldKind::DateTime,
            "date" => FieldKind::Date,
            "time" => FieldKind::Time,
            "decimal" => FieldKind::Decimal,
            _ if ty.starts_with("enum(") && ty.ends_with(')') => {
                let values: Vec<String> = ty[5..ty.len() - 1]
                    .split('|')
                    .map(|v| v.trim().to_string())
                    .collect();
                let valid = values.iter().all(|v| is_snake_identifier(v));
                let mut unique = values.clone();
                unique.dedup();
                if values.len() < 2 || !valid || unique.len() != values.len() {
                    problems.push(format!(
                        "`{spec}`: an enum lists two or more distinct snake_case values, like `status:enum(open|closed)`"
                    ));
                    continue;
                }
                FieldKind::Enum(values)
            }
            _ if ty.starts_with("ref:") => {
                let target = &ty[4..];
                if let Err(e) = check_model_name(target) {
                    problems.push(format!("`{spec}`: {e}"));
                    continue;
                }
                if !name.ends_with("_id") {
                    problems.push(format!(
                        "`{spec}`: a reference is named after the row it points at, ending in `_id`, like `{}_id:ref:{target}`",
                        target.to_snake_case()
                    ));
                    continue;
                }
                FieldKind::Ref(target.to_string())
            }
            other => {
                problems.push(format!(
                    "`{spec}`: unknown type `{other}`; the types are {FIELD_TYPES}"
                ));
                continue;
            }
        };
        fields.push(FieldSpec {
            name: name.to_string(),
            kind,
            ref_label: None,
        });
    }
    if fields.is_empty() && problems.is_empty() {
        problems.push(format!(
            "give at least one field, like `bao make:crud Task name:str done:bool` (types: {FIELD_TYPES})"
        ));
    }
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(problems.join("\n"))
    }
}

/// Who may use the pages `make:crud` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrudAccess {
    /// `--public`: anyone, no login.
    Public,
    /// `--shared`: signed-in users, every row visible to each.
    Shared,
    /// The default with auth: each row belongs to the user who created it
    /// (a `user_id` stamped on create); others get 404.
    Owned,
}

/// Names derived from the model's.
#[derive(Debug, Clone)]
pub struct CrudNames {
    /// `Task`.
    pub model: String,
    /// `task`.
    pub snake: String,
    /// `tasks`: the table, the URL segment, the controller module.
    pub plural: String,
    /// `Tasks`: the controller.
    pub controller: String,
}

impl CrudNames {
    /// The names for `model`.
    pub fn new(model: &str) -> CrudNames {
        let snake = model.to_snake_case();
        let plural = crate::model::pluralize(&snake);
        CrudNames {
            model: model.to_string(),
            controller: plural.to_upper_camel_case(),
            snake,
            plural,
        }
    }
}

fn rust_type(model: &str, f: &FieldSpec) -> String {
    match &f.kind {
        FieldKind::Str | FieldKind::Text => "String".into(),
        FieldKind::Int | FieldKind::Ref(_) => "i64".into(),
        FieldKind::Float => "f64".into(),
        FieldKind::Bool => "bool".into(),
        FieldKind::DateTime => "NaiveDateTime".into(),
        FieldKind::Date => "NaiveDate".into(),
        FieldKind::Time => "NaiveTime".into(),
        FieldKind::Decimal => "BigDecimal".into(),
        FieldKind::Enum(_) => enum_name(model, f),
    }
}

fn enum_name(model: &str, f: &FieldSpec) -> String {
    format!("{model}{}", f.name.to_upper_camel_case())
}

/// `owner_id` → `Owner`, `due_at` → `Due at`: a field or table as a person reads it.
pub fn label(name: &str) -> String {
    let text = name.trim_end_matches("_id").replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A sample submitted value per field, for the generated tests (`ref`
/// fields point at the first user, whom the tests register).
fn sample(f: &FieldSpec, edit: bool) -> String {
    match &f.kind {
        FieldKind::Str => {
            if edit {
                "Edited".into()
            } else {
                format!("Sample {}", f.name)
            }
        }
        FieldKind::Text => "Some longer text,\nover two lines.".into(),
        FieldKind::Int | FieldKind::Ref(_) => "1".into(),
        FieldKind::Float => "2.5".into(),
        FieldKind::Bool => "true".into(),
        FieldKind::DateTime => "2026-12-01T09:30".into(),
        FieldKind::Date => "2026-12-01".into(),
        FieldKind::Time => "09:30".into(),
        FieldKind::Decimal => "12.50".into(),
        FieldKind::Enum(values) => values[values.len() - 1].clone(),
    }
}

/// The files of `make:crud`, and the module paths to register
/// (`models::task::Task`, `controllers::tasks::Tasks`).
pub fn crud_files(
    crate_name: &str,
    names: &CrudNames,
    fields: &[FieldSpec],
    access: CrudAccess,
) -> Vec<GeneratedFile> {
    vec![
        GeneratedFile {
            path: format!("src/models/{}.rs", names.snake),
            contents: model_source(names, fields, access),
        },
        GeneratedFile {
            path: format!("src/controllers/{}.rs", names.plural),
            contents: controller_source(names, fields, access),
        },
        GeneratedFile {
            path: format!("views/{}/index.html", names.plural),
            contents: index_view(names, fields),
        },
        GeneratedFile {
            path: format!("views/{}/show.html", names.plural),
            contents: show_view(names, fields),
        },
        GeneratedFile {
            path: format!("views/{}/form.html", names.plural),
            contents: form_view(names, fields),
        },
        GeneratedFile {
            path: format!("tests/{}.rs", names.plural),
            contents: tests_source(crate_name, names, fields, access),
        },
    ]
}

fn model_source(n: &CrudNames, fields: &[FieldSpec], access: CrudAccess) -> String {
    let uses = |kind: &FieldKind| fields.iter().any(|f| &f.kind == kind);
    let mut chrono = Vec::new();
    if uses(&FieldKind::Date) {
        chrono.push("NaiveDate");
    }
    chrono.push("NaiveDateTime");
    if uses(&FieldKind::Time) {
        chrono.push("NaiveTime");
    }
    let mut out = format!(
        "//! `{model}` rows (generated by `bao make:crud`; edit freely).\n\n{decimal}use bao::chrono::{chrono};\n",
        model = n.model,
        decimal = if uses(&FieldKind::Decimal) { "use bao::bigdecimal::BigDecimal;\n" } else { "" },
        chrono = if chrono.len() == 1 { chrono[0].to_string() } else { format!("{{{}}}", chrono.join(", ")) },
    );
    let refs: Vec<&String> = fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::Ref(t) => Some(t),
            _ => None,
        })
        .collect();
    let mut imported: Vec<&str> = Vec::new();
    let owner = String::from("User");
    let owned = access == CrudAccess::Owned;
    for target in refs.iter().copied().chain(owned.then_some(&owner)) {
        if target != &n.model && !imported.contains(&target.as_str()) {
            imported.push(target);
            out.push_str(&format!(
                "use crate::models::{}::{target};\n",
                target.to_snake_case()
            ));
        }
    }
    for f in fields {
        if let FieldKind::Enum(values) = &f.kind {
            let variants: Vec<String> = values.iter().map(|v| v.to_upper_camel_case()).collect();
            out.push_str(&format!(
                "\n/// The values of `{model}::{field}`.\n\
                 #[derive(Debug, Clone, Copy, PartialEq, Eq, bao::TextEnum)]\n\
                 pub enum {name} {{\n    {variants},\n}}\n",
                model = n.model,
                field = f.name,
                name = enum_name(&n.model, f),
                variants = variants.join(",\n    "),
            ));
        }
    }
    out.push_str(&format!(
        "\n/// One {snake}.\n#[bao::model(table = \"{table}\")]\n#[derive(Debug, Clone)]\npub struct {model} {{\n    #[key]\n    pub id: i64,\n",
        snake = n.snake,
        table = n.plural,
        model = n.model
    ));
    for f in fields {
        match &f.kind {
            FieldKind::Str => out.push_str("    #[validate(length(min = 1, max = 200))]\n"),
            FieldKind::Text => out.push_str("    #[text]\n"),
            FieldKind::Enum(_) => out.push_str("    #[text_enum]\n"),
            FieldKind::Ref(target) => out.push_str(&format!("    #[belongs_to({target})]\n")),
            FieldKind::Bool => out.push_str("    #[default(false)]\n"),
            _ => {}
        }
        out.push_str(&format!(
            "    pub {}: {},\n",
            f.name,
            rust_type(&n.model, f)
        ));
    }
    if owned {
        out.push_str(
            "    /// Who created it: only they see it (set by the controller, never by the form).\n    #[belongs_to(User, on_delete = \"cascade\")]\n    pub user_id: i64,\n",
        );
    }
    out.push_str("    pub created_at: NaiveDateTime,\n    pub updated_at: NaiveDateTime,\n}\n");
    out
}

fn form_field_expr(n: &CrudNames, f: &FieldSpec) -> String {
    let required = !matches!(f.kind, FieldKind::Bool);
    match &f.kind {
        FieldKind::Enum(_) => format!(
            "bao::forms::parse_with(\"{name}\", &form.{name}, true, &mut errors, |s| {ty}::from_text(s).ok_or_else(|| format!(\"choose one of {{}}\", {ty}::VALUES.join(\", \"))))",
            name = f.name,
            ty = enum_name(&n.model, f)
        ),
        FieldKind::Bool => format!(
            "bao::forms::field::<bool>(\"{name}\", &form.{name}, false, &mut errors).or(Some(false))",
            name = f.name
        ),
        _ => {
            let ty = rust_type(&n.model, f);
            let ty = match ty.as_str() {
                "NaiveDateTime" | "NaiveDate" | "NaiveTime" => format!("bao::chrono::{ty}"),
                "BigDecimal" => "bao::bigdecimal::BigDecimal".to_string(),
                _ => ty,
            };
            format!(
                "bao::forms::field::<{ty}>(\"{name}\", &form.{name}, {required}, &mut errors)",
                name = f.name
            )
        }
    }
}

fn controller_source(n: &CrudNames, fields: &[FieldSpec], crud_access: CrudAccess) -> String {
    let model = &n.model;
    let plural = &n.plural;
    let snake = &n.snake;
    let controller = &n.controller;
    let access = if crud_access == CrudAccess::Public {
        ""
    } else {
        ", requires_login"
    };
    let owned = crud_access == CrudAccess::Owned;
    // What differs when each row is its creator's.
    let user_arg = if owned { "user: CurrentUser, " } else { "" };
    let find = if owned {
        "owned(&db, &user, id).await?".to_string()
    } else {
        format!("{model}::find_or_fail(&db, id).await?")
    };
    let (count, scope) = if owned {
        (
            format!("{snake}::table\n            .filter({snake}::user_id.eq(user.id))\n            .count()\n            .fetch_one(&db)\n            .await?"),
            format!("\n            .filter({snake}::user_id.eq(user.id))"),
        )
    } else {
        (format!("{model}::count(&db).await?"), String::new())
    };
    let created = if owned {
        "Ok(mut new) => {\n                new.user_id = user.id;"
    } else {
        "Ok(new) => {"
    };
    let owned_fn = if owned {
        format!(
            "\n/// The {snake} `id` if `user` created it; 404 otherwise, as if it did\n/// not exist.\nasync fn owned(db: &bao::db::DbPool, user: &CurrentUser, id: i64) -> bao::Result<{model}> {{\n    {model}::query()\n        .filter({snake}::id.eq(id))\n        .filter({snake}::user_id.eq(user.id))\n        .fetch_one(db)\n        .await\n}}\n"
        )
    } else {
        String::new()
    };
    let mut imports = vec![format!(
        "use crate::models::{snake}::{{{snake}, {model}, New{model}, Update{model}}};",
        snake = n.snake
    )];
    let enums: Vec<String> = fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Enum(_)))
        .map(|f| enum_name(model, f))
        .collect();
    if !enums.is_empty() {
        imports[0] = format!(
            "use crate::models::{snake}::{{{snake}, {model}, New{model}, Update{model}, {}}};",
            enums.join(", "),
            snake = n.snake
        );
    }
    let refs: Vec<(&FieldSpec, &String)> = fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::Ref(t) => Some((f, t)),
            _ => None,
        })
        .collect();
    for (_, target) in &refs {
        if *target != model {
            imports.push(format!(
                "use crate::models::{}::{target};",
                target.to_snake_case()
            ));
        }
    }
    if !enums.is_empty() {
        imports.push("use bao::db::TextEnum;".into());
    }
    imports.push("use bao::forms::FormValue;".into());
    let form_fields: String = fields
        .iter()
        .map(|f| format!("    #[serde(default)]\n    pub {}: String,\n", f.name))
        .collect();
    let from_row: String = fields
        .iter()
        .map(|f| {
            let value = match &f.kind {
                FieldKind::Enum(_) => format!("row.{}.as_text().to_string()", f.name),
                _ => format!("row.{}.to_form()", f.name),
            };
            format!("            {}: {value},\n", f.name)
        })
        .collect();
    let parse_lets: String = fields
        .iter()
        .map(|f| format!("    let {} = {};\n", f.name, form_field_expr(n, f)))
        .collect();
    let field_names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let unwraps: String = field_names
        .iter()
        .map(|name| format!("    let Some({name}) = {name} else {{ return Err(errors) }};\n"))
        .collect();
    let new_fields = field_names.join(", ");
    let update_fields: String = field_names
        .iter()
        .map(|name| format!("{name}: Some(new.{name}), "))
        .collect();
    let option_fields: String = refs
        .iter()
        .map(|(f, _)| format!("    /// The rows `{}` may point at: id and label.\n    pub {}_options: Vec<(i64, String)>,\n", f.name, f.name))
        .chain(fields.iter().filter(|f| matches!(f.kind, FieldKind::Enum(_))).map(|f| {
            format!("    /// The values `{}` may take.\n    pub {}_values: &'static [&'static str],\n", f.name, f.name)
        }))
        .collect();
    let option_loads: String = refs
        .iter()
        .map(|(f, target)| {
            let label = match &f.ref_label {
                Some(field) => format!("r.{field}.clone()"),
                None => format!("format!(\"{target} #{{}}\", r.id)"),
            };
            format!(
                "        {name}_options: {target}::all(db).await?.iter().map(|r| (r.id, {label})).collect(),\n",
                name = f.name
            )
        })
        .chain(fields.iter().filter(|f| matches!(f.kind, FieldKind::Enum(_))).map(|f| {
            format!(
                "        {name}_values: {ty}::VALUES,\n",
                name = f.name,
                ty = enum_name(model, f)
            )
        }))
        .collect();
    format!(
        r#"//! `{model}` pages (generated by `bao make:crud`; edit freely): list,
//! show, new, create, edit, update and delete, with CSRF-protected forms
//! that keep what was typed and show each field's error.

{imports}
use bao::api::FieldError;
use bao::prelude::*;
use serde::Deserialize;

/// The `{model}` pages.
pub struct {controller};

/// Rows per page on the index.
pub const PER_PAGE: i64 = 20;

/// The form as submitted: text, so that invalid input can be shown again.
#[derive(Debug, Default, Deserialize)]
pub struct {model}Form {{
{form_fields}}}

impl {model}Form {{
    /// The form filled with `row`'s values.
    pub fn from_row(row: &{model}) -> Self {{
        {model}Form {{
{from_row}        }}
    }}
}}

/// `?page=` on the index.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {{
    pub page: Option<i64>,
}}

/// The context of `views/{plural}/index.html`.
#[bao::view("{plural}/index.html")]
pub struct IndexPage {{
    pub rows: Vec<{model}>,
    pub page: i64,
    pub pages: i64,
}}

/// The context of `views/{plural}/show.html`.
#[bao::view("{plural}/show.html")]
pub struct ShowPage {{
    pub row: {model},
}}

/// The context of `views/{plural}/form.html` (new and edit).
#[bao::view("{plural}/form.html")]
pub struct FormPage {{
    pub title: String,
    pub action: String,
    pub form: {model}Form,
    pub errors: Vec<FieldError>,
{option_fields}}}

impl FormPage {{
    /// The error shown beside `field`, or `""`.
    pub fn error(&self, field: &str) -> &str {{
        bao::forms::error_for(&self.errors, field)
    }}
}}

/// The changes a valid form makes to a row; fields the form does not
/// have stay as they are.
#[allow(clippy::needless_update)]
fn changes(new: New{model}) -> Update{model} {{
    Update{model} {{
        {update_fields}
        ..Default::default()
    }}
}}

async fn form_page(
    {db_param}: &bao::db::DbPool,
    title: &str,
    action: String,
    form: {model}Form,
    errors: Vec<FieldError>,
) -> bao::Result<FormPage> {{
    Ok(FormPage {{
        title: title.to_string(),
        action,
        form,
        errors,
{option_loads}    }})
}}

/// The typed row a form describes, or every field's error. Fields added to
/// the model later, and not to the form, take their `#[default(..)]`.
#[allow(clippy::needless_update)]
fn parse(form: &{model}Form) -> Result<New{model}, Vec<FieldError>> {{
    let mut errors = Vec::new();
{parse_lets}{unwraps}    let new = New{model} {{
        {new_fields},
        ..Default::default()
    }};
    errors.extend(<{model} as bao::api::ApiModel>::validate_new(&new));
    if errors.is_empty() {{
        Ok(new)
    }} else {{
        Err(errors)
    }}
}}
{owned_fn}
#[bao::controller("/{plural}"{access})]
impl {controller} {{
    /// Lists {plural}, a page at a time.
    #[get("/")]
    async fn index({user_arg}db: Db, query: Query<PageQuery>) -> bao::Result<View<IndexPage>> {{
        let total: i64 = {count};
        let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let rows = {model}::query(){scope}
            .order({snake}::id.asc())
            .paginate(page, PER_PAGE)
            .fetch(&db)
            .await?;
        Ok(View(IndexPage {{ rows, page, pages }}))
    }}

    /// The form for a new {snake}.
    #[get("/new")]
    async fn new_form(db: Db) -> bao::Result<View<FormPage>> {{
        let page = form_page(&db, "New {snake}", "/{plural}".into(), {model}Form::default(), Vec::new()).await?;
        Ok(View(page))
    }}

    /// Creates a {snake}; the form again, with errors, when input is invalid.
    #[post("/")]
    async fn create(req: HttpRequest, {user_arg}db: Db, form: Form<{model}Form>) -> bao::Result<HttpResponse> {{
        let form = form.into_inner();
        match parse(&form) {{
            {created}
                let row = {model}::create(&db, new).await?;
                Ok(Redirect::to(format!("/{plural}/{{}}", row.id))
                    .flash("notice", "{model} created.")
                    .respond_to(&req))
            }}
            Err(errors) => {{
                let page = form_page(&db, "New {snake}", "/{plural}".into(), form, errors).await?;
                Ok(View(page).with_status(422).respond_to(&req))
            }}
        }}
    }}

    /// One {snake}.
    #[get("/{{id:\\d+}}")]
    async fn show({user_arg}db: Db, id: i64) -> bao::Result<View<ShowPage>> {{
        let row = {find};
        Ok(View(ShowPage {{ row }}))
    }}

    /// The form to change a {snake}.
    #[get("/{{id:\\d+}}/edit")]
    async fn edit({user_arg}db: Db, id: i64) -> bao::Result<View<FormPage>> {{
        let row = {find};
        let page = form_page(&db, "Edit {snake}", format!("/{plural}/{{id}}"), {model}Form::from_row(&row), Vec::new()).await?;
        Ok(View(page))
    }}

    /// Saves a {snake}'s changes; the form again, with errors, when invalid.
    #[post("/{{id:\\d+}}")]
    async fn update(req: HttpRequest, {user_arg}db: Db, id: i64, form: Form<{model}Form>) -> bao::Result<HttpResponse> {{
        let row = {find};
        let form = form.into_inner();
        match parse(&form) {{
            Ok(new) => {{
                row.update(&db, changes(new)).await?;
                Ok(Redirect::to(format!("/{plural}/{{id}}"))
                    .flash("notice", "{model} saved.")
                    .respond_to(&req))
            }}
            Err(errors) => {{
                let page = form_page(&db, "Edit {snake}", format!("/{plural}/{{id}}"), form, errors).await?;
                Ok(View(page).with_status(422).respond_to(&req))
            }}
        }}
    }}

    /// Deletes a {snake}.
    #[post("/{{id:\\d+}}/delete")]
    async fn delete({user_arg}db: Db, id: i64) -> bao::Result<Redirect> {{
        {find}.delete(&db).await?;
        Ok(Redirect::to("/{plural}").flash("notice", "{model} deleted."))
    }}
}}
"#,
        imports = imports.join("\n"),
        // Only the selects of references read the database.
        db_param = if refs.is_empty() { "_db" } else { "db" },
    )
}

fn display(f: &FieldSpec) -> String {
    match &f.kind {
        FieldKind::Bool => format!("{{% if row.{0} %}}yes{{% else %}}no{{% endif %}}", f.name),
        FieldKind::Ref(target) => format!("{target} #{{{{ row.{} }}}}", f.name),
        _ => format!("{{{{ row.{} }}}}", f.name),
    }
}

fn index_view(n: &CrudNames, fields: &[FieldSpec]) -> String {
    let heads: String = fields
        .iter()
        .map(|f| format!("      <th>{}</th>\n", label(&f.name)))
        .collect();
    let cells: String = fields
        .iter()
        .map(|f| format!("      <td>{}</td>\n", display(f)))
        .collect();
    format!(
        r#"{{% extends "layout.html" %}}

{{% block title %}}{title}{{% endblock %}}

{{% block content %}}
<h1>{title}</h1>
<p><a href="/{plural}/new">New {snake}</a></p>
{{% if rows.is_empty() %}}
<p class="bao-muted">No {plural} yet.</p>
{{% else %}}
<table>
  <thead>
    <tr>
      <th>#</th>
{heads}      <th></th>
    </tr>
  </thead>
  <tbody>
    {{% for row in rows %}}
    <tr>
      <td><a href="/{plural}/{{{{ row.id }}}}">{{{{ row.id }}}}</a></td>
{cells}      <td><a href="/{plural}/{{{{ row.id }}}}/edit">Edit</a></td>
    </tr>
    {{% endfor %}}
  </tbody>
</table>
<nav class="bao-pagination">
  {{% if page > 1 %}}<a href="/{plural}?page={{{{ page - 1 }}}}">Previous</a>{{% endif %}}
  <span>Page {{{{ page }}}} of {{{{ pages }}}}</span>
  {{% if page < pages %}}<a href="/{plural}?page={{{{ page + 1 }}}}">Next</a>{{% endif %}}
</nav>
{{% endif %}}
{{% endblock %}}
"#,
        title = label(&n.plural),
        plural = n.plural,
        snake = n.snake,
    )
}

fn show_view(n: &CrudNames, fields: &[FieldSpec]) -> String {
    let rows: String = fields
        .iter()
        .map(|f| format!("  <dt>{}</dt>\n  <dd>{}</dd>\n", label(&f.name), display(f)))
        .collect();
    format!(
        r#"{{% extends "layout.html" %}}

{{% block title %}}{model} #{{{{ row.id }}}}{{% endblock %}}

{{% block content %}}
<h1>{model} #{{{{ row.id }}}}</h1>
<dl>
{rows}</dl>
<p><a href="/{plural}/{{{{ row.id }}}}/edit">Edit</a> · <a href="/{plural}">All {plural}</a></p>
<form method="post" action="/{plural}/{{{{ row.id }}}}/delete" data-confirm="Delete {snake} #{{{{ row.id }}}}? This cannot be undone.">
  {{{{ csrf_field }}}}
  <button type="submit" class="bao-danger">Delete</button>
</form>
{{% endblock %}}
"#,
        model = n.model,
        plural = n.plural,
        snake = n.snake,
    )
}

fn input(f: &FieldSpec) -> String {
    let name = &f.name;
    let value = format!("{{{{ form.{name} }}}}");
    match &f.kind {
        FieldKind::Str => format!("<input type=\"text\" name=\"{name}\" value=\"{value}\" maxlength=\"200\" required>"),
        FieldKind::Text => format!("<textarea name=\"{name}\" rows=\"4\" required>{value}</textarea>"),
        FieldKind::Int => format!("<input type=\"number\" name=\"{name}\" value=\"{value}\" step=\"1\" required>"),
        FieldKind::Float => format!("<input type=\"number\" name=\"{name}\" value=\"{value}\" step=\"any\" required>"),
        FieldKind::Decimal => format!("<input type=\"number\" name=\"{name}\" value=\"{value}\" step=\"0.01\" required>"),
        FieldKind::Bool => format!(
            "<input type=\"checkbox\" name=\"{name}\" value=\"true\" {{% if form.{name} == \"true\" %}}checked{{% endif %}}>"
        ),
        FieldKind::DateTime => format!("<input type=\"datetime-local\" name=\"{name}\" value=\"{value}\" step=\"1\" required>"),
        FieldKind::Date => format!("<input type=\"date\" name=\"{name}\" value=\"{value}\" required>"),
        FieldKind::Time => format!("<input type=\"time\" name=\"{name}\" value=\"{value}\" step=\"1\" required>"),
        FieldKind::Enum(_) => format!(
            "<select name=\"{name}\" required>\n      {{% for v in {name}_values %}}<option value=\"{{{{ v }}}}\" {{% if form.{name} == **v %}}selected{{% endif %}}>{{{{ v }}}}</option>{{% endfor %}}\n    </select>"
        ),
        FieldKind::Ref(target) => format!(
            "<select name=\"{name}\" required>\n      <option value=\"\">Choose a {target}</option>\n      {{% for (id, label) in {name}_options %}}<option value=\"{{{{ id }}}}\" {{% if form.{name} == id.to_string() %}}selected{{% endif %}}>{{{{ label }}}}</option>{{% endfor %}}\n    </select>"
        ),
    }
}

fn form_view(n: &CrudNames, fields: &[FieldSpec]) -> String {
    let inputs: String = fields
        .iter()
        .map(|f| {
            format!(
                "  <label>{label}\n    {input}\n    {{% if !self.error(\"{name}\").is_empty() %}}<span class=\"bao-error\">{{{{ self.error(\"{name}\") }}}}</span>{{% endif %}}\n  </label>\n",
                label = label(&f.name),
                input = input(f),
                name = f.name
            )
        })
        .collect();
    format!(
        r#"{{% extends "layout.html" %}}

{{% block title %}}{{{{ title }}}}{{% endblock %}}

{{% block content %}}
<h1>{{{{ title }}}}</h1>
{{% if !errors.is_empty() %}}<p class="bao-error" role="alert">Please correct the fields below.</p>{{% endif %}}
<form method="post" action="{{{{ action }}}}">
  {{{{ csrf_field }}}}
{inputs}  <button type="submit">Save</button>
</form>
<p><a href="/{plural}">Back to {plural}</a></p>
{{% endblock %}}
"#,
        plural = n.plural,
    )
}

fn tests_source(
    crate_name: &str,
    n: &CrudNames,
    fields: &[FieldSpec],
    access: CrudAccess,
) -> String {
    let public = access == CrudAccess::Public;
    let pairs = |edit: bool| -> String {
        fields
            .iter()
            .map(|f| format!("            ({:?}, {:?}),\n", f.name, sample(f, edit)))
            .collect()
    };
    let owned_test = if access == CrudAccess::Owned {
        owned_test(crate_name, n, &pairs(false))
    } else {
        String::new()
    };
    let first_str = fields.iter().find(|f| f.kind == FieldKind::Str);
    let invalid: String = fields
        .iter()
        .map(|f| {
            let value = match f.kind {
                FieldKind::Str => "",
                FieldKind::Int | FieldKind::Float | FieldKind::Decimal => "not a number",
                _ => return format!("            ({:?}, {:?}),\n", f.name, sample(f, false)),
            };
            format!("            ({:?}, {:?}),\n", f.name, value)
        })
        .collect();
    let sign_in = if public {
        String::new()
    } else {
        "    // The pages need a signed-in user.\n    \
         client.get(\"/PLURAL\").await.assert_redirect(\"/login?next=%2FPLURAL\");\n    \
         client\n        .post(\"/register\")\n        .csrf()\n        \
         .form(&[(\"email\", \"crud@example.com\"), (\"password\", \"a long enough password\")])\n        \
         .await\n        .assert_redirect(\"/\");\n"
            .replace("PLURAL", &n.plural)
    };
    let edited = first_str.map_or(String::new(), |_| {
        "        .assert_see(\"Edited\")\n".to_string()
    });
    let shown = first_str.map_or(String::new(), |f| {
        format!("        .assert_see(\"Sample {}\")\n", f.name)
    });
    format!(
        r#"//! The `{model}` pages through the real HTTP stack (generated by
//! `bao make:crud`).

use bao::testing::TestClient;

#[bao::test]
async fn creates_lists_edits_and_deletes_a_{snake}() {{
    let client = TestClient::new({crate_name}::app()).await;
{sign_in}    client.get("/{plural}/new").await.assert_ok();
    client
        .post("/{plural}")
        .csrf()
        .form(&[
{create}        ])
        .await
        .assert_redirect("/{plural}/1");
    client
        .get("/{plural}")
        .await
        .assert_ok()
{shown}        .assert_see("/{plural}/1");
    client.get("/{plural}/1").await.assert_ok();
    client.get("/{plural}/1/edit").await.assert_ok();
    client
        .post("/{plural}/1")
        .csrf()
        .form(&[
{edit}        ])
        .await
        .assert_redirect("/{plural}/1");
    client
        .get("/{plural}/1")
        .await
        .assert_ok()
{edited}        ;
    client
        .post("/{plural}/1/delete")
        .csrf()
        .await
        .assert_redirect("/{plural}");
    client.get("/{plural}/1").await.assert_status(404);
}}

#[bao::test]
async fn invalid_input_is_shown_again_and_nothing_is_written() {{
    let client = TestClient::new({crate_name}::app()).await;
{sign_in}    client
        .post("/{plural}")
        .csrf()
        .form(&[
{invalid}        ])
        .await
        .assert_status(422)
        .assert_see("Please correct the fields below.");
    client.get("/{plural}").await.assert_see("No {plural} yet.");
    // Without the form's CSRF token, nothing happens either.
    client
        .post("/{plural}")
        .form(&[
{create}        ])
        .await
        .assert_status(403);
    client.get("/{plural}").await.assert_see("No {plural} yet.");
}}
{owned_test}"#,
        model = n.model,
        snake = n.snake,
        plural = n.plural,
        create = pairs(false),
        edit = pairs(true),
    )
}

/// The generated test that one user cannot see or change another's rows;
/// `create` lists the form's fields with valid values.
fn owned_test(crate_name: &str, n: &CrudNames, create: &str) -> String {
    let create: String = create.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        r#"
#[bao::test]
async fn each_user_sees_only_their_own_{plural}() {{
    let client = TestClient::new({crate_name}::app()).await;
    for email in ["first@example.com", "second@example.com"] {{
        client
            .post("/register")
            .csrf()
            .form(&[("email", email), ("password", "a long enough password")])
            .await
            .assert_redirect("/");
        if email.starts_with("first") {{
            client
                .post("/{plural}")
                .csrf()
                .form(&[
{create}                ])
                .await
                .assert_redirect("/{plural}/1");
            client.post("/logout").csrf().await.assert_redirect("/");
        }}
    }}
    // The second user sees none of the first one's {plural}, and cannot
    // change or delete them: 404, as if they did not exist.
    client.get("/{plural}").await.assert_see("No {plural} yet.");
    client.get("/{plural}/1").await.assert_status(404);
    client.get("/{plural}/1/edit").await.assert_status(404);
    client.post("/{plural}/1/delete").csrf().await.assert_status(404);
}}
"#,
        plural = n.plural,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_every_type_and_reports_every_problem() {
        let fields = parse_fields(&specs(&[
            "name",
            "count:int",
            "done:bool",
            "due:datetime",
            "notes:text",
            "price:decimal",
            "starts:date",
            "at:time",
            "status:enum(open|closed)",
            "owner_id:ref:User",
        ]))
        .unwrap();
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[0].kind, FieldKind::Str);
        assert_eq!(
            fields[8].kind,
            FieldKind::Enum(vec!["open".into(), "closed".into()])
        );
        let err = parse_fields(&specs(&[
            "Name:str",
            "id:int",
            "x:color",
            "type:str",
            "owner:ref:User",
            "s:enum(a)",
        ]))
        .unwrap_err();
        for expected in [
            "`Name` is not a field name",
            "`id` is added by Bao",
            "unknown type `color`",
            "`type` is not a field name",
            "ending in `_id`",
            "two or more distinct",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        assert!(check_model_name("Tasks").unwrap_err().contains("`Task`"));
        assert!(check_model_name("task").is_err());
        assert!(check_model_name("Task").is_ok());
        assert!(check_model_name("Person").is_ok());
        assert_eq!(CrudNames::new("Person").plural, "people");
    }

    #[test]
    fn the_generated_rust_parses() {
        let fields = parse_fields(&specs(&[
            "name",
            "count:int",
            "done:bool",
            "due:datetime",
            "notes:text",
            "price:decimal",
            "starts:date",
            "at:time",
            "status:enum(open|closed)",
            "owner_id:ref:User",
        ]))
        .unwrap();
        for access in [CrudAccess::Public, CrudAccess::Shared, CrudAccess::Owned] {
            for file in crud_files("my_app", &CrudNames::new("Task"), &fields, access) {
                if file.path.ends_with(".rs") {
                    syn::parse_file(&file.contents)
                        .unwrap_or_else(|e| panic!("{}: {e}\n{}", file.path, file.contents));
                }
                if access == CrudAccess::Owned && file.path.ends_with("tasks.rs") {
                    assert!(
                        file.contents.contains("owned(&db, &user, id)")
                            || file.path.starts_with("tests/")
                    );
                }
            }
        }
    }
}
