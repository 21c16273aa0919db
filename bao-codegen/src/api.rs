//! `#[api("/api/v1/notes", model = Note, ..)]` on a unit struct: a JSON
//! resource over a model. Expands into a `Controller` (so `bao::app!` routes
//! it and checks clashes) whose handlers call `bao::api::{index, show,
//! create, update, delete}`, and an `ApiResource` for the OpenAPI document.

use crate::diag::{closest, failing_const, Diagnostics};
use crate::route_path;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ItemStruct, Lit, LitStr, Meta, Path};

/// The actions a resource can serve (as `only(..)` names them).
pub const ACTIONS: &[&str] = &["index", "show", "create", "update", "delete"];
/// The options `#[api]` takes after the path.
const OPTIONS: &[&str] = &[
    "model",
    "requires_login",
    "requires_role",
    "only",
    "filter",
    "sort",
    "per_page",
    "max_per_page",
    "owned_by",
];

struct Args {
    path: LitStr,
    model: Path,
    access: Option<String>,
    actions: Vec<String>,
    filters: Vec<syn::Ident>,
    sorts: Vec<syn::Ident>,
    filter_span: Span,
    sort_span: Span,
    per_page: i64,
    max_per_page: i64,
    /// `owned_by = user_id`.
    owner: Option<syn::Ident>,
}

/// Expands `#[api(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Ok(item_impl) = syn::parse2::<syn::ItemImpl>(item.clone()) {
        return expand_impl(args, item_impl);
    }
    let mut diag = Diagnostics::new();
    let strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            diag.error_span(
                Span::call_site(),
                "#[bao::api] goes on a unit struct naming the resource: `#[bao::api(\"/api/v1/notes\", model = Note)] pub struct NotesApi;`",
            );
            let errors = diag.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    if !matches!(strukt.fields, syn::Fields::Unit) {
        diag.error_at(
            &strukt.fields,
            "an API resource is a unit struct (`pub struct NotesApi;`): its fields come from the model",
        );
    }
    let parsed = parse_args(args, &mut diag);
    let errors = diag.to_compile_errors();
    match parsed {
        Some(args) if !diag.has_errors() => {
            let ident = &strukt.ident;
            let self_ty: syn::Type = syn::parse_quote!(#ident);
            let generated = expand_resource(&self_ty, &ident.to_string(), &args, &[]);
            quote!(#errors #strukt #generated)
        }
        _ => {
            let ident = &strukt.ident;
            let skeleton = crate::controller::skeleton(&syn::parse_quote!(#ident));
            quote!(#errors #strukt #skeleton)
        }
    }
}

fn idents_of(meta: &Meta, diag: &mut Diagnostics) -> Vec<syn::Ident> {
    let Meta::List(list) = meta else {
        diag.error_at(meta, "expected a list: `only(index, show)`");
        return Vec::new();
    };
    match list.parse_args_with(
        syn::punctuated::Punctuated::<syn::Ident, syn::Token![,]>::parse_terminated,
    ) {
        Ok(items) => items.into_iter().collect(),
        Err(_) => {
            diag.error_at(
                meta,
                "expected field or action names separated by commas: `filter(status, owner_id)`",
            );
            Vec::new()
        }
    }
}

fn int_of(meta: &Meta, diag: &mut Diagnostics) -> Option<i64> {
    if let Meta::NameValue(nv) = meta {
        if let Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) = &nv.value
        {
            if let Ok(n) = i.base10_parse::<i64>() {
                return Some(n);
            }
        }
    }
    let key = meta
        .path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    let example = if key == "max_per_page" { 100 } else { 20 };
    diag.error_at(
        meta,
        crate::diag::wrong_value(
            meta,
            &format!("`{key}` is a whole number of rows"),
            &format!("{key} = {example}"),
        ),
    );
    None
}

fn parse_args(args: TokenStream, diag: &mut Diagnostics) -> Option<Args> {
    let Ok((path, options)) = route_path::parse_path_and_options(args.clone()) else {
        let at = if args.is_empty() { quote!() } else { args };
        let message = "expected the resource's path, then options: #[bao::api(\"/api/v1/notes\", model = Note)]";
        if at.is_empty() {
            diag.error_span(Span::call_site(), message);
        } else {
            diag.error_at(at, message);
        }
        return None;
    };
    match route_path::parse(&path.value()) {
        Ok(p) if !p.params.is_empty() => diag.error_at(
            &path,
            "an API path has no parameters: Bao adds `/{id}` for show, update and delete",
        ),
        Ok(_) if path.value() == "/" => diag.error_at(
            &path,
            "give the API a path of its own, like \"/api/v1/notes\"",
        ),
        Ok(_) => {}
        Err(message) => diag.error_at(&path, format!("API path {message}")),
    }
    let mut model = None;
    let mut access = None;
    let mut actions: Vec<String> = ACTIONS.iter().map(|a| a.to_string()).collect();
    let (mut filters, mut sorts) = (Vec::new(), Vec::new());
    let (mut filter_span, mut sort_span) = (Span::call_site(), Span::call_site());
    let (mut per_page, mut max_per_page) = (20, 100);
    let (mut per_page_at, mut max_per_page_at): (Option<Meta>, Option<Meta>) = (None, None);
    let mut owner = None;
    for option in &options {
        let name = option
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match name.as_str() {
            "model" => match option {
                Meta::NameValue(nv) => match &nv.value {
                    Expr::Path(p) => model = Some(p.path.clone()),
                    other => diag.error_at(
                        other,
                        "`model =` names a #[bao::model] struct: `model = Note`",
                    ),
                },
                _ => diag.error_at(option, "write `model = Note`"),
            },
            "requires_login" => access = Some("login".to_string()),
            "requires_role" => match option {
                Meta::List(list) => match list.parse_args::<LitStr>() {
                    Ok(role) if !role.value().is_empty() => {
                        access = Some(format!("role:{}", role.value()))
                    }
                    _ => diag.error_at(
                        option,
                        "`requires_role` takes one role name: requires_role(\"admin\")",
                    ),
                },
                _ => diag.error_at(
                    option,
                    "`requires_role` takes one role name: requires_role(\"admin\")",
                ),
            },
            "only" => {
                let mut chosen = Vec::new();
                for ident in idents_of(option, diag) {
                    let action = ident.to_string();
                    if !ACTIONS.contains(&action.as_str()) {
                        let hint = closest(&action, ACTIONS)
                            .map(|a| format!("; did you mean `{a}`?"))
                            .unwrap_or_default();
                        diag.error_at(
                            &ident,
                            format!(
                                "unknown action `{action}`: an API serves {}{hint}",
                                ACTIONS.join(", ")
                            ),
                        );
                    } else if !chosen.contains(&action) {
                        chosen.push(action);
                    }
                }
                if chosen.is_empty() {
                    diag.error_at(option, "`only(..)` must name at least one action");
                }
                actions = ACTIONS
                    .iter()
                    .filter(|a| chosen.iter().any(|c| c == *a))
                    .map(|a| a.to_string())
                    .collect();
            }
            "filter" => {
                filter_span = option.span();
                filters = idents_of(option, diag);
            }
            "sort" => {
                sort_span = option.span();
                sorts = idents_of(option, diag);
            }
            "owned_by" => match option {
                Meta::NameValue(nv) => match &nv.value {
                    Expr::Path(p) if p.path.get_ident().is_some() => {
                        owner = p.path.get_ident().cloned();
                    }
                    other => diag.error_at(
                        other,
                        "`owned_by` names the model's field holding the owner's user id: `owned_by = user_id`",
                    ),
                },
                _ => diag.error_at(option, "write `owned_by = user_id`"),
            },
            "per_page" => {
                per_page = int_of(option, diag).unwrap_or(per_page);
                per_page_at = Some(option.clone());
            }
            "max_per_page" => {
                max_per_page = int_of(option, diag).unwrap_or(max_per_page);
                max_per_page_at = Some(option.clone());
            }
            other => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    option,
                    format!(
                        "unknown #[bao::api] option `{other}`: expected one of {}{hint}",
                        OPTIONS.join(", ")
                    ),
                );
            }
        }
    }
    if !(1..=1000).contains(&max_per_page) {
        let why = "`max_per_page` is the largest page a client may ask for, 1 to 1000";
        match &max_per_page_at {
            Some(at) => diag.error_at(at, crate::diag::wrong_value(at, why, "max_per_page = 100")),
            None => diag.error_span(Span::call_site(), why),
        }
    }
    if !(1..=max_per_page).contains(&per_page) {
        let why = format!("`per_page` is the page size when the client gives none, 1 to max_per_page ({max_per_page})");
        let write = format!("per_page = {}", 20.min(max_per_page.max(1)));
        match &per_page_at {
            Some(at) => diag.error_at(at, crate::diag::wrong_value(at, &why, &write)),
            None => diag.error_span(Span::call_site(), why),
        }
    }
    let Some(model) = model else {
        diag.error_at(
            &path,
            "#[bao::api] needs the model it serves: add `model = Note`",
        );
        return None;
    };
    Some(Args {
        path,
        model,
        access,
        actions,
        filters,
        sorts,
        filter_span,
        sort_span,
        per_page,
        max_per_page,
        owner,
    })
}

/// `#[bao::api(..)] impl NotesApi { async fn create(..) }`: the struct is
/// declared elsewhere; each function named after an action replaces the
/// generated handler of that action (its routes, its arguments checked like
/// a controller's, its own `#[requires_login]`, `#[public]`, ...).
fn expand_impl(args: TokenStream, mut item: syn::ItemImpl) -> TokenStream {
    let mut diag = Diagnostics::new();
    let parsed = parse_args(args, &mut diag);
    let self_ty = (*item.self_ty).clone();
    let name = match &self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
    .unwrap_or_default();
    let mut overrides = Vec::new();
    if let Some(args) = &parsed {
        let path = args.path.value();
        let item_path = format!("{path}/{{id}}");
        let resource_access = match args.access.as_deref() {
            Some("login") => crate::controller::Access::Login,
            Some(role) => match role.strip_prefix("role:") {
                Some(r) => crate::controller::Access::Role(r.to_string()),
                None => crate::controller::Access::Public,
            },
            None => crate::controller::Access::Public,
        };
        for impl_item in &mut item.items {
            let syn::ImplItem::Fn(func) = impl_item else {
                continue;
            };
            let action = func.sig.ident.to_string();
            if !args.actions.contains(&action) {
                let served = args.actions.join(", ");
                let hint = closest(&action, ACTIONS)
                    .map(|a| format!("; did you mean `{a}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    &func.sig.ident,
                    format!(
                        "`{action}` is not an action this API serves: an override is named after one of {served}{hint}; put helpers in another `impl` block"
                    ),
                );
                continue;
            }
            let attrs = crate::controller::take_action_attrs(func, &mut diag);
            let (access, csrf_exempt) = (attrs.access, attrs.csrf_exempt);
            let routes: &[(&str, &str)] = match action.as_str() {
                "index" => &[("GET", path.as_str())],
                "create" => &[("POST", path.as_str())],
                "show" => &[("GET", item_path.as_str())],
                "update" => &[("PATCH", item_path.as_str()), ("PUT", item_path.as_str())],
                _ => &[("DELETE", item_path.as_str())],
            };
            for (method, pattern) in routes {
                let lit = LitStr::new(pattern, func.sig.ident.span());
                let Ok(parsed_path) = route_path::parse(pattern) else {
                    continue;
                };
                if let Some(mut route) =
                    crate::controller::check_handler(func, method, &lit, &parsed_path, &mut diag)
                {
                    route.access = access.clone().unwrap_or_else(|| resource_access.clone());
                    route.csrf_exempt = csrf_exempt;
                    route.api = true;
                    overrides.push(route);
                }
            }
        }
    }
    let errors = diag.to_compile_errors();
    match parsed {
        Some(args) if !diag.has_errors() => {
            let generated = expand_resource(&self_ty, &name, &args, &overrides);
            quote!(#errors #item #generated)
        }
        _ => {
            let skeleton = crate::controller::skeleton(&self_ty);
            quote!(#errors #item #skeleton)
        }
    }
}

fn expand_resource(
    ident: &syn::Type,
    name: &str,
    args: &Args,
    overrides: &[crate::controller::Route],
) -> TokenStream {
    let name = name.to_string();
    let model = &args.model;
    let path = args.path.value();
    let item_path = format!("{path}/{{id}}");
    let actions = &args.actions;
    let filters: Vec<String> = args.filters.iter().map(ToString::to_string).collect();
    let sorts: Vec<String> = args.sorts.iter().map(ToString::to_string).collect();
    let (per_page, max_per_page) = (args.per_page, args.max_per_page);
    let model_span = model.span();
    // The one place the model is named: a `model = X` that is not a model is
    // one error, at `X`.
    let model_type = quote_spanned!(model_span=> type Model = #model;);
    // A tenant-scoped model needs a signed-in user even when the API does
    // not say so: the route table says so too.
    let access = match &args.access {
        Some(a) => quote!(#a),
        // Owned rows need to know whose they are.
        None if args.owner.is_some() => quote!("login"),
        None => quote!(::bao::api::default_access::<Self>()),
    };
    let columns = quote!(::bao::api::resource_columns::<#ident>());
    let filter_check = failing_const(
        args.filter_span,
        quote!(::bao::api::check_columns(#name, "filter", &[#(#filters),*], #columns)),
    );
    let owner_check = args.owner.as_ref().map(|owner| {
        let field = owner.to_string();
        failing_const(
            owner.span(),
            quote!(::bao::api::check_columns(#name, "owned_by", &[#field], #columns)),
        )
    });
    let owner = match &args.owner {
        Some(owner) => {
            let field = owner.to_string();
            quote!(::core::option::Option::Some(#field))
        }
        None => quote!(::core::option::Option::None),
    };
    let sort_check = failing_const(
        args.sort_span,
        quote!(::bao::api::check_columns(#name, "sort", &[#(#sorts),*], #columns)),
    );
    let mut overridden: Vec<(String, String)> = Vec::new();
    for route in overrides {
        let action = route.handler.to_string();
        if !overridden.iter().any(|(a, _)| *a == action) {
            overridden.push((action, route.access.label()));
        }
    }
    let action_names: Vec<&String> = overridden.iter().map(|(a, _)| a).collect();
    let action_accesses: Vec<&String> = overridden.iter().map(|(_, a)| a).collect();
    let mut infos = Vec::new();
    let mut routes = Vec::new();
    for (i, route) in overrides.iter().enumerate() {
        let method = &route.method;
        let pattern = &route.pattern;
        let handler = route.handler.to_string();
        let summary = &route.doc;
        let access = route.access.label();
        infos.push(quote! {
            ::bao::RouteInfo {
                method: #method,
                path: #pattern,
                controller: #name,
                handler: #handler,
                summary: #summary,
                access: #access,
            }
        });
        routes.push(crate::controller::expand_handler(ident, i, route));
    }
    let mut add = |action: &str,
                   method: &str,
                   pattern: &str,
                   summary: String,
                   body: TokenStream| {
        if overrides
            .iter()
            .any(|r| r.method == method && r.pattern == pattern)
        {
            return;
        }
        let wrapper = format_ident!("__bao_api_{}", action);
        let method_ident = format_ident!("{}", method);
        infos.push(quote! {
            ::bao::RouteInfo {
                method: #method,
                path: #pattern,
                controller: #name,
                handler: #action,
                summary: #summary,
                access: <#ident as ::bao::api::ApiResource>::CONFIG.access,
            }
        });
        let csrf = (method != "GET").then(|| {
            quote! {
                if let ::core::result::Result::Err(response) =
                    ::bao::__private::csrf_guard_api(&__bao_req, &mut __bao_payload).await
                {
                    return response;
                }
            }
        });
        routes.push(quote! {
            #[allow(unused_mut)]
            async fn #wrapper(
                __bao_req: ::bao::__private::HttpRequest,
                __bao_body: ::bao::__private::web::Payload,
            ) -> ::bao::__private::HttpResponse {
                let mut __bao_payload = __bao_body.into_inner();
                #csrf
                #body
            }
            ::bao::__private::route(__bao_cfg, ::bao::__private::Method::#method_ident, #pattern, #wrapper);
        });
    };
    let model_name = model
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    if actions.iter().any(|a| a == "index") {
        add(
            "index",
            "GET",
            &path,
            format!("List {model_name} rows"),
            quote! {
                ::bao::api::resource_index::<#ident>(&__bao_req).await
            },
        );
    }
    if actions.iter().any(|a| a == "create") {
        add(
            "create",
            "POST",
            &path,
            format!("Create a {model_name}"),
            quote! {
                ::bao::api::resource_create::<#ident>(&__bao_req, &mut __bao_payload).await
            },
        );
    }
    if actions.iter().any(|a| a == "show") {
        add(
            "show",
            "GET",
            &item_path,
            format!("One {model_name}"),
            quote! {
                ::bao::api::resource_show::<#ident>(&__bao_req).await
            },
        );
    }
    if actions.iter().any(|a| a == "update") {
        add(
            "update",
            "PATCH",
            &item_path,
            format!("Change some fields of a {model_name}"),
            quote! {
                ::bao::api::resource_update::<#ident>(&__bao_req, &mut __bao_payload, false).await
            },
        );
        add(
            "replace",
            "PUT",
            &item_path,
            format!("Replace a {model_name}"),
            quote! {
                ::bao::api::resource_update::<#ident>(&__bao_req, &mut __bao_payload, true).await
            },
        );
    }
    if actions.iter().any(|a| a == "delete") {
        add(
            "delete",
            "DELETE",
            &item_path,
            format!("Delete a {model_name}"),
            quote! {
                ::bao::api::resource_delete::<#ident>(&__bao_req).await
            },
        );
    }
    let indices = 0..routes.len();
    quote! {
        #filter_check
        #sort_check
        #owner_check

        #[automatically_derived]
        impl ::bao::api::ApiResource for #ident {
            #model_type
            const CONFIG: ::bao::api::ApiConfig = ::bao::api::ApiConfig {
                name: #name,
                path: #path,
                actions: &[#(#actions),*],
                access: #access,
                filters: &[#(#filters),*],
                sorts: &[#(#sorts),*],
                per_page: #per_page,
                max_per_page: #max_per_page,
                action_access: &[#((#action_names, #action_accesses)),*],
                owner: #owner,
            };
        }

        #[automatically_derived]
        impl ::bao::__private::Controller for #ident {
            const NAME: &'static str = #name;
            const BASE: &'static str = #path;
            const ROUTES: &'static [::bao::RouteInfo] = &[#(#infos),*];

            fn configure(__bao_cfg: &mut ::bao::__private::web::ServiceConfig, __bao_route: usize) {
                match __bao_route {
                    #(#indices => { #routes })*
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_unknown_actions_and_options() {
        let out = expand(
            quote!(
                "/api/v1/notes",
                model = Note,
                only(index, shw),
                sortt(title)
            ),
            quote!(
                pub struct NotesApi;
            ),
        )
        .to_string();
        assert!(out.contains("unknown action `shw`"), "{out}");
        assert!(out.contains("did you mean `show`"), "{out}");
        assert!(out.contains("did you mean `sort`"), "{out}");
    }

    #[test]
    fn page_sizes_out_of_range_say_what_to_write() {
        let out = expand(
            quote!(
                "/api/v1/notes",
                model = Note,
                per_page = 500,
                max_per_page = "9"
            ),
            quote!(
                pub struct NotesApi;
            ),
        )
        .to_string();
        assert!(out.contains("`per_page = 500` is wrong"), "{out}");
        assert!(out.contains("write `per_page = 20`"), "{out}");
        assert!(
            out.contains(
                "`max_per_page = \\\"9\\\"` is wrong: `max_per_page` is a whole number of rows"
            ),
            "{out}"
        );
    }

    #[test]
    fn needs_a_model_and_a_plain_path() {
        let out = expand(
            quote!("/api/v1/notes/{id}"),
            quote!(
                pub struct NotesApi;
            ),
        )
        .to_string();
        assert!(out.contains("has no parameters"), "{out}");
        assert!(out.contains("add `model = Note`"), "{out}");
    }

    #[test]
    fn expands_the_routes_it_serves() {
        let out = expand(
            quote!(
                "/api/v1/notes",
                model = Note,
                only(index, show),
                filter(done),
                sort(title)
            ),
            quote!(
                pub struct NotesApi;
            ),
        )
        .to_string();
        assert!(
            out.contains("__bao_api_index") && out.contains("__bao_api_show"),
            "{out}"
        );
        assert!(!out.contains("__bao_api_create"), "{out}");
        assert!(out.contains("check_columns"), "{out}");
    }
}
