//! `#[model(table = "posts")]` on a struct: a diesel table, row and insert /
//! update types, metadata for migrations and `bao describe`, and async
//! Eloquent-style helpers.

use crate::diag::{closest, type_text, Diagnostics};
use darling::FromMeta;
use heck::ToSnakeCase;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Fields, Ident, ItemStruct, Type, Visibility};

/// `#[model(..)]` arguments.
#[derive(Debug, Default, FromMeta)]
struct ModelArgs {
    /// The SQL table; default: the struct name in snake case, pluralized.
    table: Option<String>,
    /// Rows belong to tenants: every query needs a `Tenant`.
    #[darling(default)]
    tenant_scoped: bool,
}

/// Field types a model column may have, with their diesel SQL type and DDL.
struct ColumnType {
    rust: &'static str,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const COLUMN_TYPES: &[ColumnType] = &[
    ColumnType {
        rust: "String",
        sql: "Text",
        sqlite: "TEXT",
        postgres: "TEXT",
    },
    ColumnType {
        rust: "i32",
        sql: "Integer",
        sqlite: "INTEGER",
        postgres: "INTEGER",
    },
    ColumnType {
        rust: "i64",
        sql: "BigInt",
        sqlite: "BIGINT",
        postgres: "BIGINT",
    },
    ColumnType {
        rust: "f64",
        sql: "Double",
        sqlite: "DOUBLE PRECISION",
        postgres: "DOUBLE PRECISION",
    },
    ColumnType {
        rust: "bool",
        sql: "Bool",
        sqlite: "BOOLEAN",
        postgres: "BOOLEAN",
    },
    ColumnType {
        rust: "NaiveDateTime",
        sql: "Timestamp",
        sqlite: "TIMESTAMP",
        postgres: "TIMESTAMP",
    },
    ColumnType {
        rust: "DateTime<Utc>",
        sql: "Timestamp",
        sqlite: "TIMESTAMP",
        postgres: "TIMESTAMP",
    },
    ColumnType {
        rust: "NaiveDate",
        sql: "Date",
        sqlite: "DATE",
        postgres: "DATE",
    },
    ColumnType {
        rust: "NaiveTime",
        sql: "Time",
        sqlite: "TIME",
        postgres: "TIME",
    },
    ColumnType {
        rust: "BigDecimal",
        sql: "Text",
        sqlite: "TEXT",
        postgres: "TEXT",
    },
    ColumnType {
        rust: "Value",
        sql: "Text",
        sqlite: "TEXT",
        postgres: "TEXT",
    },
];

fn supported_list() -> String {
    let mut names: Vec<String> = COLUMN_TYPES
        .iter()
        .map(|t| format!("`{}`", t.rust))
        .collect();
    names.pop();
    names.push("`serde_json::Value` (stored as text)".into());
    names.push("`Option<T>` of those (a nullable column)".into());
    names.push("or an enum with #[derive(bao::TextEnum)], marked #[text_enum] on the field".into());
    names.join(", ")
}

struct Column {
    ident: Ident,
    ty: Type,
    kind: &'static ColumnType,
    nullable: bool,
    key: bool,
    belongs_to: Option<BelongsTo>,
    unique: bool,
    indexed: bool,
    text_enum: bool,
    default: Option<syn::Lit>,
    long_text: bool,
    rules: Vec<Rule>,
}

/// A `#[validate(..)]` rule on a field.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Length { min: Option<u64>, max: Option<u64> },
    Range { min: Option<f64>, max: Option<f64> },
    Email,
}

/// The rules `#[validate(..)]` knows.
const RULES: &[&str] = &["length", "range", "email"];

/// `#[validate(length(min = 1, max = 200), email)]`: the rules, or what is
/// wrong with them.
fn parse_validate(attr: &syn::Attribute, diag: &mut Diagnostics) -> Vec<Rule> {
    let metas = match attr
        .parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
    {
        Ok(m) => m,
        Err(_) => {
            diag.error_at(attr, "write rules like #[validate(length(min = 1, max = 200))], #[validate(range(min = 0))] or #[validate(email)]");
            return Vec::new();
        }
    };
    let mut rules = Vec::new();
    for meta in metas {
        let name = meta
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let bounds =
            |meta: &syn::Meta, diag: &mut Diagnostics| -> Vec<(String, f64)> {
                let syn::Meta::List(list) = meta else {
                    diag.error_at(
                        meta,
                        format!("`{name}` takes bounds: {name}(min = .., max = ..)"),
                    );
                    return Vec::new();
                };
                let Ok(pairs) = list.parse_args_with(
                syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
            ) else {
                diag.error_at(meta, format!("`{name}` takes bounds: {name}(min = .., max = ..)"));
                return Vec::new();
            };
                let mut out = Vec::new();
                for pair in pairs {
                    let key = pair
                        .path
                        .get_ident()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let value = match &pair.value {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Int(i),
                            ..
                        }) => i.base10_parse::<f64>().ok(),
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Float(f),
                            ..
                        }) => f.base10_parse::<f64>().ok(),
                        syn::Expr::Unary(syn::ExprUnary {
                            op: syn::UnOp::Neg(_),
                            expr,
                            ..
                        }) => match &**expr {
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Int(i),
                                ..
                            }) => i.base10_parse::<f64>().ok().map(|v| -v),
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Float(f),
                                ..
                            }) => f.base10_parse::<f64>().ok().map(|v| -v),
                            _ => None,
                        },
                        _ => None,
                    };
                    match (key.as_str(), value) {
                        ("min" | "max", Some(v)) => out.push((key, v)),
                        ("min" | "max", None) => {
                            diag.error_at(&pair.value, "a bound is a number literal")
                        }
                        _ => diag.error_at(&pair.path, format!("`{name}` takes `min` and `max`")),
                    }
                }
                out
            };
        match name.as_str() {
            "email" => rules.push(Rule::Email),
            "length" => {
                let b = bounds(&meta, diag);
                let get = |k: &str| b.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
                if b.iter().any(|(_, v)| *v < 0.0 || v.fract() != 0.0) {
                    diag.error_at(
                        &meta,
                        "length bounds are whole numbers of characters, 0 or more",
                    );
                }
                let (min, max) = (get("min").map(|v| v as u64), get("max").map(|v| v as u64));
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo > hi {
                        diag.error_at(&meta, format!("`length` min ({lo}) is above max ({hi})"));
                    }
                }
                rules.push(Rule::Length { min, max });
            }
            "range" => {
                let b = bounds(&meta, diag);
                let get = |k: &str| b.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
                let (min, max) = (get("min"), get("max"));
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo > hi {
                        diag.error_at(&meta, format!("`range` min ({lo}) is above max ({hi})"));
                    }
                }
                rules.push(Rule::Range { min, max });
            }
            other => {
                let hint = closest(other, RULES)
                    .map(|r| format!("; did you mean `{r}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    &meta,
                    format!("unknown validation rule `{other}`: Bao knows length(min, max), range(min, max) and email{hint}"),
                );
            }
        }
    }
    rules
}

impl Rule {
    fn to_tokens(&self) -> TokenStream {
        let opt_u = |v: Option<u64>| match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        let opt_f = |v: Option<f64>| match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        match self {
            Rule::Length { min, max } => {
                let (min, max) = (opt_u(*min), opt_u(*max));
                quote!(::bao::db::Rule::Length { min: #min, max: #max })
            }
            Rule::Range { min, max } => {
                let (min, max) = (opt_f(*min), opt_f(*max));
                quote!(::bao::db::Rule::Range { min: #min, max: #max })
            }
            Rule::Email => quote!(::bao::db::Rule::Email),
        }
    }
}

/// `#[belongs_to(User)]` or `#[belongs_to(User, on_delete = "cascade")]`.
struct BelongsTo {
    target: syn::Path,
    on_delete: &'static str,
}

const ON_DELETE: &[(&str, &str)] = &[
    ("cascade", "CASCADE"),
    ("restrict", "RESTRICT"),
    ("set_null", "SET NULL"),
    ("no_action", "NO ACTION"),
];

/// `#[has_many(Comment)]` on the struct.
struct HasMany {
    target: syn::Path,
}

fn parse_belongs_to(attr: &syn::Attribute, diag: &mut Diagnostics) -> Option<BelongsTo> {
    let parsed = attr.parse_args_with(|input: syn::parse::ParseStream| {
        let target: syn::Path = input.parse()?;
        let mut on_delete = None;
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: Ident = input.parse()?;
            if key != "on_delete" {
                return Err(syn::Error::new(key.span(), format!("unknown option `{key}`: #[belongs_to] takes `on_delete = \"cascade\" | \"restrict\" | \"set_null\" | \"no_action\"`")));
            }
            input.parse::<syn::Token![=]>()?;
            let value: syn::LitStr = input.parse()?;
            on_delete = Some(value);
        }
        Ok((target, on_delete))
    });
    match parsed {
        Ok((target, None)) => Some(BelongsTo {
            target,
            on_delete: "RESTRICT",
        }),
        Ok((target, Some(lit))) => match ON_DELETE.iter().find(|(k, _)| *k == lit.value()) {
            Some((_, sql)) => Some(BelongsTo {
                target,
                on_delete: sql,
            }),
            None => {
                diag.error_at(&lit, format!("unknown on_delete policy `{}`: use \"cascade\", \"restrict\", \"set_null\" or \"no_action\"", lit.value()));
                None
            }
        },
        Err(e) => {
            diag.push(syn::Error::new(e.span(), format!("{e}; write #[belongs_to(User)] or #[belongs_to(User, on_delete = \"cascade\")]")));
            None
        }
    }
}

fn take_has_many(strukt: &mut ItemStruct, diag: &mut Diagnostics) -> Vec<HasMany> {
    let mut found = Vec::new();
    strukt.attrs.retain(|attr| {
        if !attr.path().is_ident("has_many") {
            return true;
        }
        match attr.parse_args::<syn::Path>() {
            Ok(target) => found.push(HasMany { target }),
            Err(_) => diag.error_at(
                attr,
                "write #[has_many(Comment)]: the model whose rows point at this one",
            ),
        }
        false
    });
    found
}

/// What the macro found in the crate being compiled.
#[derive(Debug, Clone, Copy)]
pub struct CrateLayout {
    /// `diesel` is a dependency of the crate (diesel's `table!` names it).
    pub has_diesel: bool,
}

impl Default for CrateLayout {
    fn default() -> Self {
        CrateLayout { has_diesel: true }
    }
}

/// Whether a `Cargo.toml` lists `name` as a dependency.
pub fn manifest_depends_on(manifest: &str, name: &str) -> bool {
    manifest.lines().any(|line| {
        let line = line.trim();
        line.strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with('=') || rest.starts_with('.'))
            || line == format!("[dependencies.{name}]")
    })
}

/// Expands `#[model(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream, layout: CrateLayout) -> TokenStream {
    let mut diag = Diagnostics::new();
    if !layout.has_diesel {
        diag.error_span(
            Span::call_site(),
            "models need `diesel` as a dependency of this crate (the table it generates refers to it by name): \
             add `diesel = { version = \"2.3\", default-features = false }` to [dependencies] in Cargo.toml",
        );
    }
    let mut strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            diag.error_span(
                Span::call_site(),
                "#[bao::model] goes on a struct with named fields, one per column",
            );
            let errors = diag.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let args = match darling::ast::NestedMeta::parse_meta_list(args)
        .map_err(darling::Error::from)
        .and_then(|list| ModelArgs::from_list(&list))
    {
        Ok(a) => a,
        Err(e) => {
            diag.push(syn::Error::from(e));
            ModelArgs::default()
        }
    };
    let has_many = take_has_many(&mut strukt, &mut diag);
    let mut columns = check_fields(&mut strukt, &mut diag);
    if args.tenant_scoped {
        check_tenant_column(&strukt, &columns, &mut diag);
    }
    let errors = diag.to_compile_errors();
    // After a mistake the model is still expanded when its shape allows,
    // so the code that uses it compiles and the mistake is the only error.
    let broken = if diag.has_errors() {
        match recover(&strukt, &mut columns, args.tenant_scoped, layout.has_diesel) {
            Some(broken) => broken,
            None => return quote!(#errors #strukt),
        }
    } else {
        Vec::new()
    };
    let table = args
        .table
        .unwrap_or_else(|| pluralize(&strukt.ident.unraw().to_string().to_snake_case()));
    let out = expand_model(
        &strukt,
        &table,
        &columns,
        &has_many,
        args.tenant_scoped,
        &broken,
    );
    let relations = expand_relations(&strukt, &columns, &has_many, args.tenant_scoped);
    let api = expand_api(&strukt, &columns, args.tenant_scoped);
    quote!(#errors #strukt #out #relations #api)
}

/// Whether a model with errors can still be expanded from the fields that
/// checked out: it has named fields, no generics, one integer key, a column
/// besides it and (when tenant-scoped) a usable `tenant_id`. Then the values
/// that failed their checks (rules, defaults, relations of a non-integer
/// field) are dropped and the fields that are not columns are returned: the
/// generated code never reads them and fills them with `unreachable!()` (the
/// build fails anyway, on the mistake).
fn recover(
    strukt: &ItemStruct,
    columns: &mut [Column],
    scoped: bool,
    has_diesel: bool,
) -> Option<Vec<Ident>> {
    let Fields::Named(fields) = &strukt.fields else {
        return None;
    };
    let mut keys = columns.iter().filter(|c| c.key);
    let key = keys.next()?;
    let usable_key = !key.nullable && matches!(key.kind.rust, "i32" | "i64");
    // The insert and update structs need a column of their own.
    let has_data = columns
        .iter()
        .any(|c| !c.key && c.ident != "tenant_id" && !is_maintained_stamp(c));
    if !has_diesel
        || !strukt.generics.params.is_empty()
        || keys.next().is_some()
        || !usable_key
        || !has_data
    {
        return None;
    }
    if scoped
        && !columns
            .iter()
            .any(|c| c.ident == "tenant_id" && !c.key && !c.nullable && c.kind.rust == "i64")
    {
        return None;
    }
    for c in columns.iter_mut() {
        c.rules.clear();
        c.default = None;
        if !matches!(c.kind.rust, "i32" | "i64") {
            c.belongs_to = None;
        }
    }
    Some(
        fields
            .named
            .iter()
            .filter_map(|f| f.ident.clone())
            .filter(|ident| !columns.iter().any(|c| &c.ident == ident))
            .collect(),
    )
}

/// Whether `c` is a timestamp the model maintains itself.
fn is_maintained_stamp(c: &Column) -> bool {
    !c.key
        && !c.nullable
        && TIMESTAMPS.contains(&c.ident.unraw().to_string().as_str())
        && matches!(c.kind.rust, "NaiveDateTime" | "DateTime<Utc>")
}

/// `impl ApiModel`: the model as JSON, its insert and update built from a
/// JSON object with one error per bad field, and the queries `#[bao::api]`
/// runs (filters, sorting and pagination on a boxed query; the tenant
/// filter for a scoped model).
fn expand_api(strukt: &ItemStruct, columns: &[Column], scoped: bool) -> TokenStream {
    let d = quote!(::bao::__private::diesel);
    let j = quote!(::bao::__private::serde_json);
    let name = &strukt.ident;
    let module = format_ident!("{}", name.to_string().to_snake_case());
    let new_name = format_ident!("New{}", name);
    let update_name = format_ident!("Update{}", name);
    let Some(key) = columns.iter().find(|c| c.key) else {
        return TokenStream::new();
    };
    let key_ident = &key.ident;
    let key_ty = &key.ty;
    let col_names: Vec<String> = columns
        .iter()
        .map(|c| c.ident.unraw().to_string())
        .collect();
    let col_idents: Vec<&Ident> = columns.iter().map(|c| &c.ident).collect();
    let col_count = columns.len();
    let data: Vec<&Column> = columns
        .iter()
        .filter(|c| !c.key && !is_maintained_stamp(c))
        .collect();
    let writable: Vec<&Column> = data
        .iter()
        .copied()
        .filter(|c| !(scoped && c.ident == "tenant_id"))
        .collect();
    let writable_names: Vec<String> = writable
        .iter()
        .map(|c| c.ident.unraw().to_string())
        .collect();
    let required_names: Vec<String> = writable
        .iter()
        .filter(|c| !c.nullable && c.default.is_none())
        .map(|c| c.ident.unraw().to_string())
        .collect();
    // create: every data field; tenant_id (scoped) is stamped later.
    let new_fields = data.iter().map(|c| {
        let ident = &c.ident;
        let ty = &c.ty;
        let n = ident.unraw().to_string();
        if scoped && c.ident == "tenant_id" {
            return quote!(let #ident: #ty = 0;);
        }
        let required = !c.nullable && c.default.is_none();
        let default = rust_default(c);
        quote! {
            let #ident: #ty = ::bao::api::take_field::<#ty>(__bao_body, #n, #required, &mut __bao_errors)
                .unwrap_or_else(|| #default);
        }
    });
    let data_idents: Vec<&Ident> = data.iter().map(|c| &c.ident).collect();
    // Each field's `#[validate]` rules, on the value as it will be written.
    let validations = |source: TokenStream, update: bool| -> Vec<TokenStream> {
        writable
            .iter()
            .filter(|c| !c.rules.is_empty())
            .map(|c| {
                let ident = &c.ident;
                let n = ident.unraw().to_string();
                let rules = c.rules.iter().map(Rule::to_tokens);
                if update {
                    quote! {
                        if let ::core::option::Option::Some(value) = &#source.#ident {
                            ::bao::api::check_rules(#n, value, &[#(#rules),*], &mut __bao_errors);
                        }
                    }
                } else {
                    quote! {
                        ::bao::api::check_rules(#n, &#source.#ident, &[#(#rules),*], &mut __bao_errors);
                    }
                }
            })
            .collect()
    };
    let validate_new = validations(quote!(__bao_new), false);
    let validate_update = validations(quote!(__bao_update), true);
    let update_fields = data.iter().map(|c| {
        let ident = &c.ident;
        let ty = &c.ty;
        let n = ident.unraw().to_string();
        if scoped && c.ident == "tenant_id" {
            return quote!(let #ident: ::core::option::Option<#ty> = ::core::option::Option::None;);
        }
        let required = !c.nullable && c.default.is_none();
        let default = rust_default(c);
        quote! {
            let #ident: ::core::option::Option<#ty> =
                match ::bao::api::take_field::<#ty>(__bao_body, #n, __bao_full && #required, &mut __bao_errors) {
                    ::core::option::Option::Some(v) => ::core::option::Option::Some(v),
                    // PUT replaces: an absent optional field goes back to its default.
                    ::core::option::Option::None if __bao_full && !__bao_body.contains_key(#n) => {
                        ::core::option::Option::Some(#default)
                    }
                    ::core::option::Option::None => ::core::option::Option::None,
                };
        }
    });
    let filter_arms = columns.iter().map(|c| {
        let ident = &c.ident;
        let n = ident.unraw().to_string();
        let inner = option_inner(&c.ty).unwrap_or(&c.ty);
        quote! {
            #n => {
                let value: #inner = ::bao::api::parse_filter::<#inner>(field, raw)?;
                query = query.filter(#module::#ident.eq(::bao::db::Storable::store(value)));
            }
        }
    });
    let sort_arms = columns.iter().map(|c| {
        let ident = &c.ident;
        let n = ident.unraw().to_string();
        quote! {
            #n => if *descending {
                query.order(#module::#ident.desc())
            } else {
                query.order(#module::#ident.asc())
            },
        }
    });
    let static_sort_arms = columns.iter().map(|c| {
        let ident = &c.ident;
        let n = ident.unraw().to_string();
        quote! {
            (#n, false) => __bao_scope!()
                .order(#module::#ident.asc())
                .then_order_by(#module::#key_ident.asc())
                .limit(limit)
                .offset(offset)
                .load::<#name>(conn)?,
            (#n, true) => __bao_scope!()
                .order(#module::#ident.desc())
                .then_order_by(#module::#key_ident.asc())
                .limit(limit)
                .offset(offset)
                .load::<#name>(conn)?,
        }
    });
    // The rows a page may show: a tenant's, or all of an unscoped model's.
    let static_scope = if scoped {
        quote! {
            let ::core::option::Option::Some(__bao_tenant) = tenant else {
                return ::core::result::Result::Ok((::std::vec::Vec::new(), 0));
            };
            macro_rules! __bao_scope {
                () => { #module::table.filter(#module::tenant_id.eq(__bao_tenant)) };
            }
        }
    } else {
        quote! {
            let _ = tenant;
            macro_rules! __bao_scope {
                () => { #module::table };
            }
        }
    };
    let tenant_filter = if scoped {
        quote! {
            query = match tenant {
                ::core::option::Option::Some(t) => query.filter(#module::tenant_id.eq(t)),
                // Without a tenant, nothing: never every tenant's rows.
                ::core::option::Option::None => query.filter(#module::#key_ident.ne(#module::#key_ident)),
            };
        }
    } else {
        quote!(let _ = tenant;)
    };
    let (find, insert, update, delete) = if scoped {
        (
            quote!(match tenant {
                ::core::option::Option::Some(t) => <Self as ::bao::db::TenantScoped>::select_by_key_in(conn, t, key),
                ::core::option::Option::None => ::core::result::Result::Err(#d::result::Error::NotFound),
            }),
            quote!(match tenant {
                ::core::option::Option::Some(t) => {
                    let mut new = new;
                    <Self as ::bao::db::TenantScoped>::stamp(&mut new, t);
                    <Self as ::bao::db::ModelQueries>::insert(conn, new)
                }
                ::core::option::Option::None => ::core::result::Result::Err(#d::result::Error::NotFound),
            }),
            quote!(match tenant {
                ::core::option::Option::Some(t) => {
                    let mut update = update;
                    <Self as ::bao::db::TenantScoped>::unstamp(&mut update);
                    <Self as ::bao::db::TenantScoped>::update_by_key_in(conn, t, key, update)
                }
                ::core::option::Option::None => ::core::result::Result::Err(#d::result::Error::NotFound),
            }),
            quote!(match tenant {
                ::core::option::Option::Some(t) =>
                    <Self as ::bao::db::TenantScoped>::delete_by_key_in(conn, t, key),
                ::core::option::Option::None => ::core::result::Result::Ok(0),
            }),
        )
    } else {
        (
            quote!({
                let _ = tenant;
                <Self as ::bao::db::ModelQueries>::select_by_key(conn, key)
            }),
            quote!({
                let _ = tenant;
                <Self as ::bao::db::ModelQueries>::insert(conn, new)
            }),
            quote!({
                let _ = tenant;
                <Self as ::bao::db::ModelQueries>::update_by_key(conn, key, update)
            }),
            quote!({
                let _ = tenant;
                <Self as ::bao::db::ModelQueries>::delete_by_key(conn, key)
            }),
        )
    };
    quote! {
        const _: () = {
            use #d::prelude::*;

            type __Backend = <::bao::db::DbConnection as #d::Connection>::Backend;

            fn __bao_filtered(
                tenant: ::core::option::Option<i64>,
                filters: &[(::std::string::String, ::std::string::String)],
            ) -> ::core::result::Result<#module::BoxedQuery<'static, __Backend>, ::bao::api::ApiQueryError> {
                let mut query = #module::table.into_boxed::<'static, __Backend>();
                #tenant_filter
                for (field, raw) in filters {
                    let raw = raw.as_str();
                    match field.as_str() {
                        #(#filter_arms)*
                        other => return ::core::result::Result::Err(::bao::api::unknown_column(other)),
                    }
                }
                ::core::result::Result::Ok(query)
            }

            fn __bao_static_page(
                conn: &mut ::bao::db::DbConnection,
                tenant: ::core::option::Option<i64>,
                sort: ::core::option::Option<(::std::string::String, bool)>,
                limit: i64,
                offset: i64,
            ) -> ::core::result::Result<(::std::vec::Vec<#name>, i64), ::bao::api::ApiQueryError> {
                #static_scope
                let total: i64 = __bao_scope!().count().get_result(conn)?;
                let rows = match &sort {
                    ::core::option::Option::None => __bao_scope!()
                        .order(#module::#key_ident.asc())
                        .limit(limit)
                        .offset(offset)
                        .load::<#name>(conn)?,
                    ::core::option::Option::Some((field, descending)) => match (field.as_str(), *descending) {
                        #(#static_sort_arms)*
                        (other, _) => return ::core::result::Result::Err(::bao::api::unknown_column(other)),
                    },
                };
                ::core::result::Result::Ok((rows, total))
            }

            #[automatically_derived]
            impl ::bao::api::ApiModel for #name {
                const WRITABLE: &'static [&'static str] = &[#(#writable_names),*];
                const REQUIRED: &'static [&'static str] = &[#(#required_names),*];
                const TENANT_SCOPED: bool = #scoped;

                fn serialize_row<__S: ::bao::__private::serde::Serializer>(
                    &self,
                    serializer: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    use ::bao::__private::serde::ser::SerializeMap as _;
                    let mut map = serializer.serialize_map(::core::option::Option::Some(#col_count))?;
                    #( map.serialize_entry(#col_names, &::bao::api::ApiField(&self.#col_idents))?; )*
                    map.end()
                }

                fn to_json(&self) -> #j::Value {
                    let mut map = #j::Map::new();
                    #( map.insert(::std::string::String::from(#col_names), ::bao::api::json_value(&self.#col_idents)); )*
                    #j::Value::Object(map)
                }

                fn new_from_json(
                    __bao_body: &#j::Map<::std::string::String, #j::Value>,
                ) -> ::core::result::Result<#new_name, ::std::vec::Vec<::bao::api::FieldError>> {
                    let mut __bao_errors = ::std::vec::Vec::new();
                    #(#new_fields)*
                    if !__bao_errors.is_empty() {
                        return ::core::result::Result::Err(__bao_errors);
                    }
                    let __bao_new = #new_name { #(#data_idents,)* };
                    let __bao_errors = <Self as ::bao::api::ApiModel>::validate_new(&__bao_new);
                    if !__bao_errors.is_empty() {
                        return ::core::result::Result::Err(__bao_errors);
                    }
                    ::core::result::Result::Ok(__bao_new)
                }

                fn validate_new(__bao_new: &#new_name) -> ::std::vec::Vec<::bao::api::FieldError> {
                    let mut __bao_errors = ::std::vec::Vec::new();
                    #(#validate_new)*
                    __bao_errors
                }

                fn update_from_json(
                    __bao_body: &#j::Map<::std::string::String, #j::Value>,
                    __bao_full: bool,
                ) -> ::core::result::Result<#update_name, ::std::vec::Vec<::bao::api::FieldError>> {
                    let mut __bao_errors = ::std::vec::Vec::new();
                    #(#update_fields)*
                    if !__bao_errors.is_empty() {
                        return ::core::result::Result::Err(__bao_errors);
                    }
                    let __bao_update = #update_name { #(#data_idents,)* };
                    #(#validate_update)*
                    if !__bao_errors.is_empty() {
                        return ::core::result::Result::Err(__bao_errors);
                    }
                    ::core::result::Result::Ok(__bao_update)
                }

                fn api_page(
                    conn: &mut ::bao::db::DbConnection,
                    tenant: ::core::option::Option<i64>,
                    filters: &[(::std::string::String, ::std::string::String)],
                    sort: ::core::option::Option<(::std::string::String, bool)>,
                    limit: i64,
                    offset: i64,
                ) -> ::core::result::Result<(::std::vec::Vec<Self>, i64), ::bao::api::ApiQueryError> {
                    if filters.is_empty() {
                        // No filters: static queries, which the connection
                        // prepares once and caches.
                        return __bao_static_page(conn, tenant, sort, limit, offset);
                    }
                    let total: i64 = __bao_filtered(tenant, filters)?.count().get_result(conn)?;
                    let mut query = __bao_filtered(tenant, filters)?;
                    if let ::core::option::Option::Some((field, descending)) = &sort {
                        query = match field.as_str() {
                            #(#sort_arms)*
                            other => return ::core::result::Result::Err(::bao::api::unknown_column(other)),
                        };
                    }
                    let rows = query
                        .then_order_by(#module::#key_ident.asc())
                        .limit(limit)
                        .offset(offset)
                        .load::<Self>(conn)?;
                    ::core::result::Result::Ok((rows, total))
                }

                fn api_find(conn: &mut ::bao::db::DbConnection, tenant: ::core::option::Option<i64>, key: #key_ty) -> #d::QueryResult<Self> {
                    #find
                }

                fn api_insert(conn: &mut ::bao::db::DbConnection, tenant: ::core::option::Option<i64>, new: #new_name) -> #d::QueryResult<Self> {
                    #insert
                }

                fn api_update(conn: &mut ::bao::db::DbConnection, tenant: ::core::option::Option<i64>, key: #key_ty, update: #update_name) -> #d::QueryResult<Self> {
                    #update
                }

                fn api_delete(conn: &mut ::bao::db::DbConnection, tenant: ::core::option::Option<i64>, key: #key_ty) -> #d::QueryResult<usize> {
                    #delete
                }
            }
        };
    }
}

/// A tenant-scoped model needs a non-null `tenant_id: i64` that is not its key.
fn check_tenant_column(strukt: &ItemStruct, columns: &[Column], diag: &mut Diagnostics) {
    let name = &strukt.ident;
    match columns.iter().find(|c| c.ident == "tenant_id") {
        None if !columns.is_empty() => diag.error_at(
            name,
            format!(
                "`{name}` is tenant_scoped but has no `tenant_id` field: add `pub tenant_id: i64` (Bao filters every query on it), or remove `tenant_scoped`"
            ),
        ),
        Some(c) if c.key || c.nullable || c.kind.rust != "i64" => diag.error_at(
            &c.ty,
            "`tenant_id` of a tenant_scoped model is a non-null `i64` that is not the key: write `pub tenant_id: i64`",
        ),
        _ => {}
    }
}

/// Checks every field and removes Bao's field attributes.
fn check_fields(strukt: &mut ItemStruct, diag: &mut Diagnostics) -> Vec<Column> {
    let name = strukt.ident.unraw().to_string();
    if !strukt.generics.params.is_empty() {
        diag.error_at(
            &strukt.generics,
            "a model cannot be generic: it maps to one table",
        );
    }
    let Fields::Named(fields) = &mut strukt.fields else {
        diag.error_at(&strukt.ident, format!("model `{name}` needs named fields, one per column: `pub struct {name} {{ #[key] pub id: i64, pub title: String }}`"));
        return Vec::new();
    };
    let mut columns = Vec::new();
    for field in fields.named.iter_mut() {
        let ident = field.ident.clone().expect("named fields have names");
        let mut key = false;
        let mut unique = false;
        let mut indexed = false;
        let mut text_enum = false;
        let mut default: Option<syn::Lit> = None;
        let mut long_text = false;
        let mut belongs_to = None;
        let mut rules = Vec::new();
        let mut attr_errors = Diagnostics::new();
        field.attrs.retain(|a| {
            if a.path().is_ident("key") {
                key = true;
                false
            } else if a.path().is_ident("unique") {
                unique = true;
                false
            } else if a.path().is_ident("index") {
                indexed = true;
                false
            } else if a.path().is_ident("text_enum") {
                text_enum = true;
                false
            } else if a.path().is_ident("text") {
                long_text = true;
                false
            } else if a.path().is_ident("column") {
                match a.parse_args::<Ident>() {
                    Ok(kind) if kind == "text" => long_text = true,
                    _ => attr_errors.error_at(a, "#[column(..)] takes `text`: #[column(text)] (or write #[text])"),
                }
                false
            } else if a.path().is_ident("default") {
                match a.parse_args::<syn::Lit>() {
                    Ok(lit) => default = Some(lit),
                    Err(_) => attr_errors.error_at(
                        a,
                        "write the default as a literal: #[default(\"draft\")], #[default(0)], #[default(false)]",
                    ),
                }
                false
            } else if a.path().is_ident("belongs_to") {
                belongs_to = parse_belongs_to(a, &mut attr_errors);
                false
            } else if a.path().is_ident("validate") {
                let parsed = parse_validate(a, &mut attr_errors);
                rules.extend(parsed.into_iter().map(|r| (r, a.to_token_stream())));
                false
            } else {
                true
            }
        });
        if let Err(e) = attr_errors.finish() {
            diag.push(e);
        }
        let (inner, nullable) = match option_inner(&field.ty) {
            Some(inner) => (inner, true),
            None => (&field.ty, false),
        };
        let kind = if text_enum {
            Some(&TEXT_ENUM)
        } else {
            type_name(inner).and_then(|n| COLUMN_TYPES.iter().find(|t| t.rust == n))
        };
        let Some(kind) = kind else {
            diag.error_at(
                &field.ty,
                format!(
                    "field `{ident}` of model `{name}` has type `{}`, which Bao cannot store in a column: use one of {}",
                    type_text(&field.ty),
                    supported_list()
                ),
            );
            continue;
        };
        if belongs_to
            .as_ref()
            .is_some_and(|b| b.on_delete == "SET NULL")
            && !nullable
        {
            diag.error_at(
                &field.ty,
                format!(
                    "`on_delete = \"set_null\"` empties `{ident}` when its row is deleted, but `{ident}` is `{}`, which cannot be empty: \
                     make it `Option<{}>`, or choose on_delete = \"cascade\" or \"restrict\"",
                    type_text(&field.ty),
                    type_text(&field.ty)
                ),
            );
        }
        if belongs_to.is_some() && !matches!(kind.rust, "i32" | "i64") {
            diag.error_at(
                &field.ty,
                format!("`{ident}` holds another model's key: make it `i64` (or `i32`, like that model's key)"),
            );
        }
        for (rule, span) in &rules {
            let text = kind.rust == "String";
            let number = matches!(kind.rust, "i32" | "i64" | "f64");
            match rule {
                Rule::Length { .. } | Rule::Email if !text => diag.error_at(
                    span,
                    format!(
                        "`{}` checks text, but `{ident}` is `{}`: {}",
                        if matches!(rule, Rule::Email) {
                            "email"
                        } else {
                            "length"
                        },
                        type_text(&field.ty),
                        if number {
                            "use range(min = .., max = ..)"
                        } else {
                            "remove the rule"
                        }
                    ),
                ),
                Rule::Range { .. } if !number => diag.error_at(
                    span,
                    format!(
                        "`range` checks numbers, but `{ident}` is `{}`: {}",
                        type_text(&field.ty),
                        if text {
                            "use length(min = .., max = ..)"
                        } else {
                            "remove the rule"
                        }
                    ),
                ),
                _ => {}
            }
        }
        columns.push(Column {
            ident,
            ty: field.ty.clone(),
            kind,
            nullable,
            key,
            indexed: indexed || belongs_to.is_some(),
            belongs_to,
            unique,
            text_enum,
            default,
            long_text,
            rules: rules.into_iter().map(|(r, _)| r).collect(),
        });
    }
    for c in columns
        .iter()
        .filter(|c| c.long_text && c.kind.rust != "String")
    {
        diag.error_at(
            &c.ty,
            format!(
                "#[text] marks long text: `{}` must be a `String` (or `Option<String>`)",
                c.ident
            ),
        );
    }
    for c in &columns {
        let Some(lit) = &c.default else { continue };
        let fits = matches!(
            (lit, c.kind.rust),
            (syn::Lit::Str(_), "String" | "text enum")
                | (syn::Lit::Int(_), "i32" | "i64" | "f64")
                | (syn::Lit::Float(_), "f64")
                | (syn::Lit::Bool(_), "bool")
        );
        if !fits || c.key {
            diag.error_at(
                lit,
                format!(
                    "#[default] of `{}: {}` must be {}",
                    c.ident,
                    type_text(&c.ty),
                    match c.kind.rust {
                        "String" => "a string, like #[default(\"draft\")]",
                        "text enum" => "the text of a variant, like #[default(\"open\")]",
                        "i32" | "i64" => "an integer, like #[default(0)]",
                        "f64" => "a number, like #[default(1.5)]",
                        "bool" => "true or false",
                        _ if c.key => "left out: the key is numbered by the database",
                        _ => "left out: only strings, numbers, booleans and text enums take a default",
                    }
                ),
            );
        }
    }
    let keys: Vec<&Column> = columns.iter().filter(|c| c.key).collect();
    match keys.as_slice() {
        [] => {
            if let Some(id) = columns.iter_mut().find(|c| c.ident == "id") {
                id.key = true;
            } else if !diag.has_errors() {
                diag.error_at(
                    &strukt.ident,
                    format!("model `{name}` has no primary key: add `#[key] pub id: i64` (or mark an existing field with #[key])"),
                );
            }
        }
        [_] => {}
        [_, second, ..] => diag.error_at(
            &second.ident,
            format!("model `{name}` has more than one #[key]: a model has one primary key column"),
        ),
    }
    if let Some(key) = columns.iter().find(|c| c.key) {
        if !key.rules.is_empty() {
            diag.error_at(
                &key.ident,
                format!(
                    "#[validate] on `{}` would never be checked: it is the key of `{name}`, numbered by the database, never sent by a client; remove the rule",
                    key.ident
                ),
            );
        }
        if key.nullable || !matches!(key.kind.rust, "i32" | "i64") {
            diag.error_at(
                &key.ty,
                format!(
                    "the key of model `{name}` must be `i64` or `i32` (numbered by the database)"
                ),
            );
        }
    }
    if columns.len() == 1 && !diag.has_errors() {
        diag.error_at(
            &strukt.ident,
            format!("model `{name}` has only its key: add at least one other field"),
        );
    }
    columns
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first()? {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// The name a column type is known by: the last path segment, and
/// `DateTime<Utc>` for chrono's UTC timestamps.
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if last.arguments.is_none() {
                return Some(last.ident.unraw().to_string());
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let inner = match args.args.first()? {
                syn::GenericArgument::Type(t) => type_name(t)?,
                _ => return None,
            };
            (last.ident == "DateTime" && inner == "Utc" && args.args.len() == 1)
                .then(|| "DateTime<Utc>".to_string())
        }
        _ => None,
    }
}

/// A `#[text_enum]` field: text limited to the enum's variants.
const TEXT_ENUM: ColumnType = ColumnType {
    rust: "text enum",
    sql: "Text",
    sqlite: "TEXT",
    postgres: "TEXT",
};

/// Fields Bao fills in itself: set on insert, `updated_at` also on update.
const TIMESTAMPS: &[&str] = &["created_at", "updated_at"];

/// `post` → `posts`, `category` → `categories`, `person` → `people`: the one
/// inflector for table names, `#[has_many]` getters and generated URLs.
pub fn pluralize(word: &str) -> String {
    cruet::string::pluralize::to_plural(word)
}

fn field_vis(vis: &Visibility) -> TokenStream {
    match vis {
        Visibility::Inherited => quote!(),
        v => v.to_token_stream(),
    }
}

/// The expression a model's factory gives a field (see `bao::db::factory`).
fn fake_value(c: &Column, scoped: bool) -> TokenStream {
    let inner = option_inner(&c.ty).unwrap_or(&c.ty);
    let wrap = |value: TokenStream| {
        if c.nullable {
            quote!(::core::option::Option::Some(#value))
        } else {
            value
        }
    };
    if scoped && c.ident == "tenant_id" {
        return quote!(faker.tenant());
    }
    if c.ident == "tenant_id" && c.nullable && c.belongs_to.is_none() {
        return quote!(faker.given_tenant());
    }
    // A field with a default takes it: what a new row gets (`role`, `status`).
    if c.default.is_some() {
        return rust_default(c);
    }
    if let Some(b) = &c.belongs_to {
        // Only `<Target as Model>` is named, at the attribute's span: when
        // the target is not a model, rustc's error is the one the foreign
        // key already gets, and is shown once.
        let target = &b.target;
        let field_ty = &c.ty;
        let fk = foreign_key_type(field_ty, target);
        let key = quote_spanned!(target.span()=> <#target as ::bao::db::Model>::Key);
        // The parent's key becomes the field's value at the field's type, as
        // in the relation code: a type mismatch is one error there.
        return if c.nullable {
            let given = quote_spanned!(target.span()=>
                faker.given_parent::<#key>(<#target as ::bao::db::Model>::TABLE));
            quote_spanned!(field_ty.span()=> {
                match #given {
                    ::core::option::Option::Some(k) => #fk::from_key(k),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            })
        } else {
            let made = quote_spanned!(target.span()=> faker.parent(
                conn,
                <#target as ::bao::db::Model>::TABLE,
                <#target as ::bao::db::Model>::fake_key,
            )?);
            quote_spanned!(field_ty.span()=> {
                let parent = #made;
                #fk::from_key(parent)
            })
        };
    }
    if c.text_enum {
        return wrap(quote!(::bao::db::factory::fake_enum::<#inner>(faker)));
    }
    let name = c.ident.unraw().to_string();
    // An optional key of something that is not a model: unknown, so empty.
    if c.nullable && name.ends_with("_id") {
        return quote!(::core::option::Option::None);
    }
    let (mut min_len, mut max_len, mut min, mut max, mut email) = (None, None, None, None, false);
    for rule in &c.rules {
        match rule {
            Rule::Length { min: a, max: b } => {
                min_len = *a;
                max_len = *b;
            }
            Rule::Range { min: a, max: b } => {
                min = *a;
                max = *b;
            }
            Rule::Email => email = true,
        }
    }
    let opt_u64 = |v: Option<u64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let opt_f64 = |v: Option<f64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (min_len, max_len, min, max) = (
        opt_u64(min_len),
        opt_u64(max_len),
        opt_f64(min),
        opt_f64(max),
    );
    let long_text = c.long_text;
    wrap(quote! {
        <#inner as ::bao::db::factory::FakeValue>::fake(faker, &::bao::db::factory::FieldHint {
            name: #name,
            min_len: #min_len,
            max_len: #max_len,
            min: #min,
            max: #max,
            email: #email,
            long_text: #long_text,
        })
    })
}

/// The Rust value of a field's `#[default]`, matching the SQL default.
fn rust_default(c: &Column) -> TokenStream {
    let Some(lit) = &c.default else {
        return quote!(::core::default::Default::default());
    };
    let inner = option_inner(&c.ty).unwrap_or(&c.ty);
    let value = match (lit, c.kind.rust) {
        (syn::Lit::Str(s), "text enum") => {
            let text = s.value();
            quote_spanned! {s.span()=> {
                const _: () = ::core::assert!(
                    ::bao::__private::const_contains(<#inner as ::bao::db::TextEnum>::VALUES, #text),
                    "#[default(..)] names no variant of this text enum",
                );
                match <#inner as ::bao::db::TextEnum>::from_text(#text) {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => ::core::default::Default::default(),
                }
            }}
        }
        (syn::Lit::Str(s), _) => quote!(::std::string::String::from(#s)),
        (syn::Lit::Int(i), "f64") => {
            let f: f64 = i.base10_parse().unwrap_or_default();
            quote!(#f)
        }
        (lit, _) => quote!(#lit),
    };
    if c.nullable {
        quote!(::core::option::Option::Some(#value))
    } else {
        value
    }
}

fn expand_model(
    strukt: &ItemStruct,
    table: &str,
    columns: &[Column],
    has_many: &[HasMany],
    scoped: bool,
    broken: &[Ident],
) -> TokenStream {
    let children = has_many.iter().map(|h| {
        let target = &h.target;
        quote_spanned!(target.span()=> <#target as ::bao::db::Model>::TABLE)
    });
    let d = quote!(::bao::__private::diesel);
    let name = &strukt.ident;
    let vis = field_vis(&strukt.vis);
    let module = format_ident!("{}", name.to_string().to_snake_case(), span = name.span());
    let new_name = format_ident!("New{}", name, span = name.span());
    let update_name = format_ident!("Update{}", name, span = name.span());
    let key = columns.iter().find(|c| c.key).expect("checked: one key");
    let key_ident = &key.ident;
    let key_ty = &key.ty;
    let idents: Vec<&Ident> = columns.iter().map(|c| &c.ident).collect();
    let stored: Vec<TokenStream> = columns
        .iter()
        .map(|c| {
            let ty = &c.ty;
            quote!(<#ty as ::bao::db::Storable>::Stored)
        })
        .collect();
    let sql_types = columns.iter().map(|c| {
        let base = format_ident!("{}", c.kind.sql);
        if c.nullable {
            quote!(Nullable<#base>)
        } else {
            quote!(#base)
        }
    });
    let is_stamp = |c: &Column| {
        !c.key
            && !c.nullable
            && TIMESTAMPS.contains(&c.ident.unraw().to_string().as_str())
            && matches!(c.kind.rust, "NaiveDateTime" | "DateTime<Utc>")
    };
    let data: Vec<&Column> = columns.iter().filter(|c| !c.key && !is_stamp(c)).collect();
    let data_idents: Vec<&Ident> = data.iter().map(|c| &c.ident).collect();
    let data_types: Vec<&Type> = data.iter().map(|c| &c.ty).collect();
    let data_stored: Vec<TokenStream> = data_types
        .iter()
        .map(|ty| quote!(<#ty as ::bao::db::Storable>::Stored))
        .collect();
    let data_defaults: Vec<TokenStream> = data.iter().map(|c| rust_default(c)).collect();
    let fake_values: Vec<TokenStream> = data.iter().map(|c| fake_value(c, scoped)).collect();
    // A scoped model's `tenant_id` is stamped from the tenant on create: a
    // form or JSON body need not (and cannot usefully) send it.
    let new_attrs: Vec<TokenStream> = data
        .iter()
        .map(|c| {
            if scoped && c.ident == "tenant_id" {
                quote!(#[serde(default)])
            } else {
                quote!()
            }
        })
        .collect();
    let stamps: Vec<&Column> = columns.iter().filter(|c| is_stamp(c)).collect();
    let stamp_idents: Vec<&Ident> = stamps.iter().map(|c| &c.ident).collect();
    let stamp_types: Vec<&Type> = stamps.iter().map(|c| &c.ty).collect();
    let updated: Vec<&Column> = stamps
        .iter()
        .copied()
        .filter(|c| c.ident == "updated_at")
        .collect();
    let updated_idents: Vec<&Ident> = updated.iter().map(|c| &c.ident).collect();
    let updated_types: Vec<&Type> = updated.iter().map(|c| &c.ty).collect();
    let infos = columns.iter().map(|c| {
        let n = c.ident.unraw().to_string();
        let rust = type_text(&c.ty);
        let (sql, sqlite, postgres) = (c.kind.sql, c.kind.sqlite, c.kind.postgres);
        let (nullable, key, unique, indexed) = (c.nullable, c.key, c.unique, c.indexed);
        let long_text = c.long_text;
        let default_sql = match &c.default {
            Some(syn::Lit::Str(s)) => {
                let text = format!("'{}'", s.value().replace('\'', "''"));
                quote!(::core::option::Option::Some(#text))
            }
            Some(syn::Lit::Bool(b)) => {
                let text = if b.value { "TRUE" } else { "FALSE" };
                quote!(::core::option::Option::Some(#text))
            }
            Some(lit) => {
                let text = lit.to_token_stream().to_string();
                quote!(::core::option::Option::Some(#text))
            }
            None => quote!(::core::option::Option::None),
        };
        let check = if c.text_enum {
            let inner = option_inner(&c.ty).unwrap_or(&c.ty);
            quote_spanned!(inner.span()=> <#inner as ::bao::db::TextEnum>::VALUES)
        } else {
            quote!(&[])
        };
        let references = match &c.belongs_to {
            Some(b) => {
                let target = &b.target;
                let on_delete = b.on_delete;
                quote_spanned! {target.span()=>
                    ::core::option::Option::Some(::bao::db::ForeignKey {
                        table: <#target as ::bao::db::Model>::TABLE,
                        column: <#target as ::bao::db::Model>::KEY,
                        on_delete: #on_delete,
                    })
                }
            }
            None => quote!(::core::option::Option::None),
        };
        let rules = c.rules.iter().map(Rule::to_tokens);
        quote! {
            ::bao::db::ColumnInfo {
                name: #n, rust_type: #rust, sql_type: #sql, sqlite: #sqlite, postgres: #postgres,
                nullable: #nullable, primary_key: #key, references: #references,
                unique: #unique, indexed: #indexed, check: #check, default: #default_sql,
                long_text: #long_text, rules: &[#(#rules),*],
            }
        }
    });
    let name_str = name.to_string();
    let key_name = key_ident.unraw().to_string();
    let table_lit = table;
    let doc_new =
        format!("A new [`{name}`] row, for [`{name}::create`]. The key is chosen by the database.");
    let doc_update = format!("Changes to a [`{name}`]: `None` leaves a column as it is.");
    let not_model_hint = quote_spanned!(name.span()=> #name);
    let table_mod = format_ident!("__bao_table_{}", module);
    let access = if scoped {
        quote! {
            const _: () = {
                use #d::prelude::*;

                #[automatically_derived]
                impl ::bao::db::TenantScoped for #name {
                    fn stamp(new: &mut #new_name, tenant: i64) {
                        new.tenant_id = tenant;
                    }
                    fn unstamp(update: &mut #update_name) {
                        update.tenant_id = ::core::option::Option::None;
                    }
                    fn restamp(row: &mut Self, tenant: i64) {
                        row.tenant_id = tenant;
                    }
                    fn select_by_key_in(conn: &mut ::bao::db::DbConnection, tenant: i64, key: #key_ty) -> #d::QueryResult<Self> {
                        #module::table.find(key).filter(#module::tenant_id.eq(tenant)).first(conn)
                    }
                    fn select_all_in(conn: &mut ::bao::db::DbConnection, tenant: i64) -> #d::QueryResult<::std::vec::Vec<Self>> {
                        #module::table.filter(#module::tenant_id.eq(tenant)).order(#module::#key_ident.asc()).load(conn)
                    }
                    fn count_in(conn: &mut ::bao::db::DbConnection, tenant: i64) -> #d::QueryResult<i64> {
                        #module::table.filter(#module::tenant_id.eq(tenant)).count().get_result(conn)
                    }
                    fn update_by_key_in(conn: &mut ::bao::db::DbConnection, tenant: i64, key: #key_ty, update: #update_name) -> #d::QueryResult<Self> {
                        #d::update(#module::table.find(key).filter(#module::tenant_id.eq(tenant)))
                            .set(update)
                            .returning(#module::all_columns)
                            .get_result(conn)
                    }
                    fn lock_by_key_in(conn: &mut ::bao::db::DbConnection, tenant: i64, key: #key_ty) -> #d::QueryResult<usize> {
                        #d::update(#module::table.find(key).filter(#module::tenant_id.eq(tenant)))
                            .set(#module::#key_ident.eq(#module::#key_ident))
                            .execute(conn)
                    }
                    fn delete_by_key_in(conn: &mut ::bao::db::DbConnection, tenant: i64, key: #key_ty) -> #d::QueryResult<usize> {
                        #d::delete(#module::table.find(key).filter(#module::tenant_id.eq(tenant))).execute(conn)
                    }
                }
            };

            /// Tenant-scoped: every helper takes the [`bao::Tenant`] whose rows it
            /// may touch; rows of other tenants are invisible.
            impl #name {
                /// This tenant's rows, ready for diesel's query builder:
                /// `Self::query(tenant).filter(..).paginate(1, 20).fetch(&db).await`.
                #vis fn query(tenant: ::bao::Tenant) -> #d::dsl::Filter<#module::table, #d::dsl::Eq<#module::tenant_id, i64>> {
                    use #d::prelude::*;
                    #module::table.filter(#module::tenant_id.eq(tenant.0))
                }

                /// Inserts a row in `tenant` (whatever `new.tenant_id` says).
                #vis async fn create(db: &::bao::db::DbPool, tenant: ::bao::Tenant, new: #new_name) -> ::bao::Result<Self> {
                    ::bao::db::scoped_ops::create::<Self>(db, tenant, new).await
                }

                /// The row with this key in `tenant`, if there is one.
                #vis async fn find(db: &::bao::db::DbPool, tenant: ::bao::Tenant, key: #key_ty) -> ::bao::Result<::core::option::Option<Self>> {
                    ::bao::db::scoped_ops::find::<Self>(db, tenant, key).await
                }

                /// The row with this key in `tenant`; 404 when there is none.
                #vis async fn find_or_fail(db: &::bao::db::DbPool, tenant: ::bao::Tenant, key: #key_ty) -> ::bao::Result<Self> {
                    ::bao::db::scoped_ops::find_or_fail::<Self>(db, tenant, key).await
                }

                /// Every row of `tenant`, ordered by key.
                #vis async fn all(db: &::bao::db::DbPool, tenant: ::bao::Tenant) -> ::bao::Result<::std::vec::Vec<Self>> {
                    ::bao::db::scoped_ops::all::<Self>(db, tenant).await
                }

                /// How many rows `tenant` has.
                #vis async fn count(db: &::bao::db::DbPool, tenant: ::bao::Tenant) -> ::bao::Result<i64> {
                    ::bao::db::scoped_ops::count::<Self>(db, tenant).await
                }

                /// Whether `tenant` has a row with this key.
                #vis async fn exists(db: &::bao::db::DbPool, tenant: ::bao::Tenant, key: #key_ty) -> ::bao::Result<bool> {
                    ::bao::db::scoped_ops::exists::<Self>(db, tenant, key).await
                }

                /// Writes `changes` (never `tenant_id`) to this row in `tenant`.
                #vis async fn update(&self, db: &::bao::db::DbPool, tenant: ::bao::Tenant, changes: #update_name) -> ::bao::Result<Self> {
                    ::bao::db::scoped_ops::update::<Self>(db, tenant, self.#key_ident, changes).await
                }

                /// Deletes this row from `tenant`; 404 if it is not there.
                #vis async fn delete(&self, db: &::bao::db::DbPool, tenant: ::bao::Tenant) -> ::bao::Result<()> {
                    ::bao::db::scoped_ops::delete::<Self>(db, tenant, self.#key_ident).await
                }

                /// Read-modify-write of one row of `tenant` in one transaction.
                #vis async fn atomic_update<F>(db: &::bao::db::DbPool, tenant: ::bao::Tenant, key: #key_ty, change: F) -> ::bao::Result<Self>
                where
                    F: ::core::ops::FnOnce(&mut Self) + ::core::marker::Send + 'static,
                {
                    ::bao::db::scoped_ops::atomic_update::<Self, F>(db, tenant, key, change).await
                }
            }
        }
    } else {
        quote! {
            #[automatically_derived]
            impl ::bao::db::Unscoped for #name {}

        impl #name {
                /// This model's table, ready for diesel's query builder:
                /// `Self::query().filter(..).paginate(1, 20).fetch(&db).await`.
                #vis fn query() -> #module::table {
                    #module::table
                }

                /// Inserts a row and returns it with its key.
                #vis async fn create(db: &::bao::db::DbPool, new: #new_name) -> ::bao::Result<Self> {
                    ::bao::db::ops::create::<Self>(db, new).await
                }

                /// The row with this key, if there is one.
                #vis async fn find(db: &::bao::db::DbPool, key: #key_ty) -> ::bao::Result<::core::option::Option<Self>> {
                    ::bao::db::ops::find::<Self>(db, key).await
                }

                /// The row with this key; `bao::Error` 404 when there is none.
                #vis async fn find_or_fail(db: &::bao::db::DbPool, key: #key_ty) -> ::bao::Result<Self> {
                    ::bao::db::ops::find_or_fail::<Self>(db, key).await
                }

                /// Every row, ordered by key.
                #vis async fn all(db: &::bao::db::DbPool) -> ::bao::Result<::std::vec::Vec<Self>> {
                    ::bao::db::ops::all::<Self>(db).await
                }

                /// How many rows there are.
                #vis async fn count(db: &::bao::db::DbPool) -> ::bao::Result<i64> {
                    ::bao::db::ops::count::<Self>(db).await
                }

                /// Whether a row has this key.
                #vis async fn exists(db: &::bao::db::DbPool, key: #key_ty) -> ::bao::Result<bool> {
                    ::bao::db::ops::exists::<Self>(db, key).await
                }

                /// Writes `changes` to this row and returns the row as stored.
                #vis async fn update(&self, db: &::bao::db::DbPool, changes: #update_name) -> ::bao::Result<Self> {
                    ::bao::db::ops::update::<Self>(db, self.#key_ident, changes).await
                }

                /// Deletes this row; 404 if it was already gone.
                #vis async fn delete(&self, db: &::bao::db::DbPool) -> ::bao::Result<()> {
                    ::bao::db::ops::delete::<Self>(db, self.#key_ident).await
                }

                /// The first row `query` finds, or a new one from `new`; `true` when created.
                #vis async fn first_or_create<__Q>(
                    db: &::bao::db::DbPool,
                    query: __Q,
                    new: #new_name,
                ) -> ::bao::Result<(Self, bool)>
                where
                    __Q: #d::query_dsl::methods::LimitDsl + ::core::clone::Clone + ::core::marker::Send + 'static,
                    #d::dsl::Limit<__Q>: #d::query_dsl::LoadQuery<'static, ::bao::db::DbConnection, Self> + ::core::marker::Send + 'static,
                {
                    ::bao::db::ops::first_or_create::<Self, __Q>(db, query, new).await
                }

                /// Read-modify-write of one row in one transaction, holding its lock.
                #vis async fn atomic_update<F>(db: &::bao::db::DbPool, key: #key_ty, change: F) -> ::bao::Result<Self>
                where
                    F: ::core::ops::FnOnce(&mut Self) + ::core::marker::Send + 'static,
                {
                    ::bao::db::ops::atomic_update::<Self, F>(db, key, change).await
                }
            }
        }
    };
    quote! {
        // diesel's `table!` expects `diesel` in scope: give it Bao's.
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #table_mod {
            use ::bao::__private::diesel;
            diesel::table! {
                #[sql_name = #table_lit]
                #module (#key_ident) {
                    #(#idents -> #sql_types,)*
                }
            }
        }
        #[doc = concat!("The `", #table_lit, "` table: its columns for diesel's query builder.")]
        #vis use #table_mod::#module;

        #[doc = #doc_new]
        #[derive(Debug, Clone, PartialEq, ::bao::__private::serde::Serialize, ::bao::__private::serde::Deserialize)]
        #[serde(crate = "::bao::__private::serde")]
        #vis struct #new_name {
            #(#new_attrs pub #data_idents: #data_types,)*
        }

        #[automatically_derived]
        impl ::core::default::Default for #new_name {
            /// Every field at its `#[default(..)]`, or its type's default.
            fn default() -> Self {
                #new_name { #(#data_idents: #data_defaults,)* }
            }
        }

        #[doc = #doc_update]
        #[derive(Debug, Clone, Default, PartialEq)]
        #vis struct #update_name {
            #(pub #data_idents: ::core::option::Option<#data_types>,)*
        }

        const _: () = {
            use #d::prelude::*;
            use #d::Insertable as _;
            use #d::query_builder::AsChangeset as _;

            #[automatically_derived]
            impl<__ST, __DB> #d::Queryable<__ST, __DB> for #not_model_hint
            where
                __DB: #d::backend::Backend,
                (#(#stored,)*): #d::deserialize::FromStaticSqlRow<__ST, __DB>,
            {
                type Row = (#(#stored,)*);
                #[allow(unreachable_code)]
                fn build(row: Self::Row) -> #d::deserialize::Result<Self> {
                    let (#(#idents,)*) = row;
                    ::core::result::Result::Ok(#name {
                        #(#idents: ::bao::db::Storable::load(#idents)?,)*
                        #(#broken: ::core::unreachable!(),)*
                    })
                }
            }

            #[automatically_derived]
            impl<__DB: #d::backend::Backend> #d::Selectable<__DB> for #name {
                type SelectExpression = (#(#module::#idents,)*);
                fn construct_selection() -> Self::SelectExpression {
                    (#(#module::#idents,)*)
                }
            }

            #[automatically_derived]
            impl #d::associations::HasTable for #name {
                type Table = #module::table;
                fn table() -> Self::Table {
                    #module::table
                }
            }

            #[automatically_derived]
            impl<'__a> #d::Identifiable for &'__a #name {
                type Id = &'__a #key_ty;
                fn id(self) -> Self::Id {
                    &self.#key_ident
                }
            }

            #[automatically_derived]
            impl #d::Insertable<#module::table> for #new_name {
                type Values = <(
                    #(#d::dsl::Eq<#module::#data_idents, #data_stored>,)*
                    #(#d::dsl::Eq<#module::#stamp_idents, <#stamp_types as ::bao::db::Storable>::Stored>,)*
                ) as #d::Insertable<#module::table>>::Values;
                fn values(self) -> Self::Values {
                    let __now = ::bao::db::now_utc();
                    (
                        #(#module::#data_idents.eq(::bao::db::Storable::store(self.#data_idents)),)*
                        #(#module::#stamp_idents.eq(::bao::db::Storable::store(<#stamp_types as ::bao::db::Timestamp>::from_utc(__now))),)*
                    ).values()
                }
            }

            #[automatically_derived]
            impl #d::query_builder::AsChangeset for #update_name {
                type Target = #module::table;
                type Changeset = <(
                    #(::core::option::Option<#d::dsl::Eq<#module::#data_idents, #data_stored>>,)*
                    #(::core::option::Option<#d::dsl::Eq<#module::#updated_idents, <#updated_types as ::bao::db::Storable>::Stored>>,)*
                ) as #d::query_builder::AsChangeset>::Changeset;
                fn as_changeset(self) -> Self::Changeset {
                    (
                        #(self.#data_idents.map(|v| #module::#data_idents.eq(::bao::db::Storable::store(v))),)*
                        #(::core::option::Option::Some(#module::#updated_idents.eq(::bao::db::Storable::store(<#updated_types as ::bao::db::Timestamp>::from_utc(::bao::db::now_utc())))),)*
                    ).as_changeset()
                }
            }

            #[automatically_derived]
            impl ::bao::db::Model for #name {
                type Key = #key_ty;
                type New = #new_name;
                type Update = #update_name;
                const NAME: &'static str = #name_str;
                const TABLE: &'static str = #table_lit;
                const KEY: &'static str = #key_name;
                const COLUMNS: &'static [::bao::db::ColumnInfo] = &[#(#infos),*];
                const HAS_MANY: &'static [&'static str] = &[#(#children),*];
                fn key(&self) -> #key_ty {
                    self.#key_ident
                }
                fn is_empty_update(update: &#update_name) -> bool {
                    true #(&& update.#data_idents.is_none())*
                }
                fn full_update(&self) -> #update_name {
                    #update_name { #(#data_idents: ::core::option::Option::Some(::core::clone::Clone::clone(&self.#data_idents)),)* }
                }
                fn fake_key(
                    conn: &mut ::bao::db::DbConnection,
                    faker: &mut ::bao::db::factory::Faker,
                ) -> ::core::result::Result<#key_ty, ::bao::db::DbError> {
                    let new = <Self as ::bao::db::factory::Fake>::fake_new(conn, faker)?;
                    let row = <Self as ::bao::db::ModelQueries>::insert(conn, new)?;
                    ::core::result::Result::Ok(row.#key_ident)
                }
            }

            #[automatically_derived]
            impl ::bao::db::ModelQueries for #name {
                fn insert(conn: &mut ::bao::db::DbConnection, new: #new_name) -> #d::QueryResult<Self> {
                    #d::insert_into(#module::table)
                        .values(new)
                        .returning(#module::all_columns)
                        .get_result(conn)
                }
                fn select_by_key(conn: &mut ::bao::db::DbConnection, key: #key_ty) -> #d::QueryResult<Self> {
                    #module::table.find(key).first(conn)
                }
                fn select_all(conn: &mut ::bao::db::DbConnection) -> #d::QueryResult<::std::vec::Vec<Self>> {
                    #module::table.order(#module::#key_ident.asc()).load(conn)
                }
                fn count_rows(conn: &mut ::bao::db::DbConnection) -> #d::QueryResult<i64> {
                    #module::table.count().get_result(conn)
                }
                fn update_by_key(conn: &mut ::bao::db::DbConnection, key: #key_ty, update: #update_name) -> #d::QueryResult<Self> {
                    #d::update(#module::table.find(key))
                        .set(update)
                        .returning(#module::all_columns)
                        .get_result(conn)
                }
                fn lock_by_key(conn: &mut ::bao::db::DbConnection, key: #key_ty) -> #d::QueryResult<usize> {
                    #d::update(#module::table.find(key))
                        .set(#module::#key_ident.eq(#module::#key_ident))
                        .execute(conn)
                }
                fn delete_by_key(conn: &mut ::bao::db::DbConnection, key: #key_ty) -> #d::QueryResult<usize> {
                    #d::delete(#module::table.find(key)).execute(conn)
                }
            }

            #[automatically_derived]
            impl ::bao::db::factory::Fake for #name {
                #[allow(unused_variables)]
                fn fake_new(
                    conn: &mut ::bao::db::DbConnection,
                    faker: &mut ::bao::db::factory::Faker,
                ) -> ::core::result::Result<#new_name, ::bao::db::DbError> {
                    ::core::result::Result::Ok(#new_name { #(#data_idents: #fake_values,)* })
                }
            }

            impl #name {
                /// Rows of fake data for seeds and tests:
                /// `Self::factory().count(20).create(&db).await?` (see `bao::db::factory`).
                #vis fn factory() -> ::bao::db::Factory<Self> {
                    ::bao::db::Factory::new()
                }
            }
        };

        #access
    }
}

/// `<FieldType as ForeignKeyType<<Target as Model>::Key>>`, spanned at the
/// field's type. Every generated use of a foreign key as its parent's key
/// goes through it, so a field of another type than the key is one error
/// there, naming both types.
fn foreign_key_type(field_ty: &syn::Type, target: &syn::Path) -> TokenStream {
    quote_spanned! {field_ty.span()=>
        <#field_ty as ::bao::db::ForeignKeyType<<#target as ::bao::db::Model>::Key>>
    }
}

fn expand_relations(
    strukt: &ItemStruct,
    columns: &[Column],
    has_many: &[HasMany],
    scoped: bool,
) -> TokenStream {
    let d = quote!(::bao::__private::diesel);
    let name = &strukt.ident;
    let vis = field_vis(&strukt.vis);
    let module = format_ident!("{}", name.to_string().to_snake_case());
    let Some(key) = columns.iter().find(|c| c.key) else {
        return TokenStream::new();
    };
    let key_ident = &key.ident;
    let mut out = TokenStream::new();
    // Two keys to one parent (`author_id`, `editor_id`) each get a getter;
    // `#[has_many]` on the parent follows the first.
    let mut related: Vec<String> = Vec::new();
    for c in columns {
        let Some(b) = &c.belongs_to else { continue };
        let target = &b.target;
        let target_text = quote!(#target).to_string();
        let first_to_target = !related.contains(&target_text);
        related.push(target_text);
        let field = &c.ident;
        let field_name = field.to_string();
        let getter = format_ident!(
            "{}",
            field_name.strip_suffix("_id").unwrap_or(&field_name),
            span = field.span()
        );
        let doc = format!("The row `{field_name}` points at.");
        let field_ty = &c.ty;
        let fk = foreign_key_type(field_ty, target);
        // A tenant-scoped row reads its parent in its own tenant; the
        // bound is on the method (with a lifetime, so it is checked where
        // the getter is called, not here): a parent of the other kind
        // only fails a call of the getter.
        let (find, find_or_fail, bound) = if scoped {
            (
                quote!(::bao::db::scoped_ops::find::<#target>(db, ::bao::Tenant(self.tenant_id), k)),
                quote!(::bao::db::scoped_ops::find_or_fail::<#target>(db, ::bao::Tenant(self.tenant_id), k)),
                quote!(::bao::db::TenantScoped),
            )
        } else {
            (
                quote!(::bao::db::ops::find::<#target>(db, k)),
                quote!(::bao::db::ops::find_or_fail::<#target>(db, k)),
                quote!(::bao::db::Unscoped),
            )
        };
        let value = if c.nullable {
            quote!(match #fk::parent_key(&self.#field) { ::core::option::Option::Some(k) => #find.await, ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None) })
        } else {
            // A key that is not optional always points somewhere.
            quote!(match #fk::parent_key(&self.#field) { ::core::option::Option::Some(k) => #find_or_fail.await, ::core::option::Option::None => ::core::result::Result::Err(::bao::db::DbError::NotFound.into()) })
        };
        let ret = if c.nullable {
            quote!(::core::option::Option<#target>)
        } else {
            quote!(#target)
        };
        let parent_key = quote!(#fk::parent_key(&self.#field));
        let values = quote_spanned! {field_ty.span()=>
            {
                let mut values = ::std::vec::Vec::with_capacity(keys.len());
                for k in keys {
                    values.push(#fk::column_value(k));
                }
                values
            }
        };
        out.extend(quote_spanned! {target.span()=>
            impl #name {
                #[doc = #doc]
                #vis async fn #getter<'__bao>(&'__bao self, db: &::bao::db::DbPool) -> ::bao::Result<#ret>
                where
                    #target: #bound + '__bao,
                {
                    #value
                }
            }
        });
        if !first_to_target {
            continue;
        }
        out.extend(quote_spanned! {target.span()=>
            #[automatically_derived]
            impl ::bao::db::BelongsTo<#target> for #name {
                const FOREIGN_KEY: &'static str = #field_name;
                fn parent_key(&self) -> ::core::option::Option<<#target as ::bao::db::Model>::Key> {
                    #parent_key
                }
                fn children_of(
                    conn: &mut ::bao::db::DbConnection,
                    keys: ::std::vec::Vec<<#target as ::bao::db::Model>::Key>,
                ) -> #d::QueryResult<::std::vec::Vec<Self>> {
                    use #d::prelude::*;
                    #module::table
                        .filter(#module::#field.eq_any(#values))
                        .order(#module::#key_ident.asc())
                        .load(conn)
                }
            }
        });
    }
    for h in has_many {
        let target = &h.target;
        let Some(last) = target.segments.last() else {
            continue;
        };
        let plural = pluralize(&last.ident.unraw().to_string().to_snake_case());
        let getter = format_ident!("{}", plural, span = last.ident.span());
        let eager = format_ident!("with_{}", plural, span = last.ident.span());
        let doc = format!("The `{}` rows that point at this one.", last.ident);
        let doc_eager = format!(
            "Each row with its `{}` rows, in two queries however many rows (no N+1).",
            last.ident
        );
        out.extend(quote_spanned! {target.span()=>
            impl #name {
                #[doc = #doc]
                #vis async fn #getter(&self, db: &::bao::db::DbPool) -> ::bao::Result<::std::vec::Vec<#target>> {
                    ::bao::db::ops::children::<#name, #target>(db, ::std::vec![self.#key_ident]).await
                }

                #[doc = #doc_eager]
                #vis async fn #eager(
                    db: &::bao::db::DbPool,
                    rows: ::std::vec::Vec<Self>,
                ) -> ::bao::Result<::std::vec::Vec<(Self, ::std::vec::Vec<#target>)>> {
                    ::bao::db::ops::with_children::<#name, #target>(db, rows).await
                }
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluralizes_table_names() {
        assert_eq!(pluralize("post"), "posts");
        assert_eq!(pluralize("category"), "categories");
        assert_eq!(pluralize("day"), "days");
        assert_eq!(pluralize("box"), "boxes");
        assert_eq!(pluralize("blog_post"), "blog_posts");
        // One inflector for tables, relation getters and generated URLs.
        assert_eq!(pluralize("person"), "people");
        assert_eq!(pluralize("child"), "children");
        assert_eq!(pluralize("line_item"), "line_items");
        assert_eq!(pluralize("status"), "statuses");
    }

    #[test]
    fn expands_a_model() {
        let out = expand(
            quote!(table = "posts"),
            quote! {
                pub struct Post {
                    #[key]
                    pub id: i64,
                    pub title: String,
                    pub body: Option<String>,
                }
            },
            CrateLayout::default(),
        );
        let file: syn::File = syn::parse2(out).expect("parses");
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }

    #[test]
    fn reports_unsupported_types_missing_keys_and_unknown_args() {
        let out = expand(
            quote!(tabel = "x"),
            quote!(
                pub struct P {
                    pub id: i64,
                    pub at: Instant,
                }
            ),
            CrateLayout::default(),
        )
        .to_string();
        assert!(out.contains("Did you mean `table`"), "{out}");
        assert!(
            out.contains("`Instant`") && out.contains("cannot store"),
            "{out}"
        );
        let out = expand(
            quote!(),
            quote!(
                pub struct P {
                    pub title: String,
                }
            ),
            CrateLayout::default(),
        )
        .to_string();
        assert!(out.contains("has no primary key"), "{out}");
        let layout = CrateLayout { has_diesel: false };
        let out = expand(
            quote!(),
            quote!(
                pub struct P {
                    pub id: i64,
                    pub t: String,
                }
            ),
            layout,
        )
        .to_string();
        assert!(out.contains("need `diesel` as a dependency"), "{out}");
    }

    #[test]
    fn finds_dependencies_in_manifests() {
        assert!(manifest_depends_on(
            "[dependencies]\ndiesel = \"2\"\n",
            "diesel"
        ));
        assert!(manifest_depends_on("diesel.workspace = true", "diesel"));
        assert!(manifest_depends_on(
            "[dependencies.diesel]\nversion = \"2\"",
            "diesel"
        ));
        assert!(!manifest_depends_on("diesel_migrations = \"2\"", "diesel"));
    }
}
