//! `#[controller("/base")]` on an `impl` block: parse the route attributes on its
//! functions, check them, and expand them into a `Controller` impl with a const
//! route table and one actix-web handler per route.

use crate::diag::{closest, Diagnostics};
use crate::route_path::{self, RoutePath};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type};

/// HTTP methods a route attribute may name.
pub const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Expands `#[controller(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::new();
    let mut item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            diag.error_span(
                Span::call_site(),
                "#[bao::controller] goes on an `impl` block: write `pub struct Posts;` and \
                 `#[bao::controller(\"/posts\")] impl Posts { #[get(\"/\")] async fn index() -> .. }`",
            );
            let errors = diag.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let args = parse_args(args, &mut diag);
    let controller = parse_impl(&mut item_impl, &args, &mut diag);
    let errors = diag.to_compile_errors();
    let generated = match controller {
        Some(c) if !diag.has_errors() => expand_controller(&c),
        Some(c) => skeleton(&c.self_ty),
        None => TokenStream::new(),
    };
    quote! {
        #errors
        #item_impl
        #generated
    }
}

struct Controller {
    self_ty: Type,
    name: String,
    base: String,
    routes: Vec<Route>,
}

/// Who may call a route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Access {
    #[default]
    Public,
    Login,
    Role(String),
}

impl Access {
    /// How `RouteInfo::access` spells it.
    pub(crate) fn label(&self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::Login => "login".into(),
            Access::Role(role) => format!("role:{role}"),
        }
    }
}

/// What the controller attribute says besides the base path.
#[derive(Default)]
struct ControllerArgs {
    base: Option<LitStr>,
    access: Access,
}

/// Attributes an action may carry besides its route.
const ACTION_ATTRS: &[&str] = &[
    "requires_login",
    "requires_role",
    "public",
    "csrf_exempt",
    "openapi",
];

pub(crate) struct Route {
    pub(crate) method: String,
    pub(crate) pattern: String,
    pub(crate) handler: syn::Ident,
    pub(crate) doc: String,
    args: Vec<HandlerArg>,
    output_span: Span,
    pub(crate) access: Access,
    pub(crate) csrf_exempt: bool,
    /// An API action: a request without a session cookie needs no CSRF token.
    pub(crate) api: bool,
    /// Documented in the OpenAPI document (`#[openapi]`).
    pub(crate) documented: bool,
}

enum HandlerArg {
    PathParam { name: String, ty: Box<Type> },
    Extractor { ty: Box<Type> },
}

fn parse_args(args: TokenStream, diag: &mut Diagnostics) -> ControllerArgs {
    if args.is_empty() {
        diag.error_span(
            Span::call_site(),
            "#[bao::controller] needs a base path: write #[bao::controller(\"/posts\")] \
             (or \"/\" for the site root)",
        );
        return ControllerArgs::default();
    }
    match route_path::parse_path_and_options(args.clone()) {
        Ok((lit, options)) => {
            if let Err(message) = route_path::parse(&lit.value()) {
                diag.error_at(&lit, format!("controller base {message}"));
            }
            let mut access = Access::Public;
            for option in options {
                match parse_access(&option, diag) {
                    Some(a) if access == Access::Public => access = a,
                    Some(_) => diag.error_at(
                        &option,
                        "give a controller one of `requires_login` or `requires_role(\"..\")`, not both",
                    ),
                    None => {}
                }
            }
            ControllerArgs {
                base: Some(lit),
                access,
            }
        }
        Err(_) => {
            diag.error_at(
                args,
                "expected the controller's base path as a string, then options: \
                 #[bao::controller(\"/posts\")] or #[bao::controller(\"/posts\", requires_login)]",
            );
            ControllerArgs::default()
        }
    }
}

/// `requires_login` or `requires_role("admin")`; anything else is reported.
fn parse_access(meta: &syn::Meta, diag: &mut Diagnostics) -> Option<Access> {
    let name = meta
        .path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    match (name.as_str(), meta) {
        ("requires_login", syn::Meta::Path(_)) => Some(Access::Login),
        ("requires_role", syn::Meta::List(list)) => match list.parse_args::<LitStr>() {
            Ok(role) if is_role_name(&role.value()) => Some(Access::Role(role.value())),
            _ => {
                diag.error_at(
                    meta,
                    "`requires_role` takes one role name: requires_role(\"admin\")",
                );
                None
            }
        },
        ("requires_role", _) => {
            diag.error_at(
                meta,
                "`requires_role` takes one role name: requires_role(\"admin\")",
            );
            None
        }
        ("requires_login", _) => {
            diag.error_at(meta, "`requires_login` takes no arguments");
            None
        }
        (other, _) => {
            let hint = closest(other, &["requires_login", "requires_role"])
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            diag.error_at(
                meta,
                format!("unknown controller option `{other}`: expected `requires_login` or `requires_role(\"..\")`{hint}"),
            );
            None
        }
    }
}

fn is_role_name(role: &str) -> bool {
    !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What an action's own attributes say.
pub(crate) struct ActionAttrs {
    /// `#[requires_login]`, `#[requires_role(..)]` or `#[public]`.
    pub(crate) access: Option<Access>,
    /// `#[csrf_exempt]`.
    pub(crate) csrf_exempt: bool,
    /// `#[openapi]`: list the route in the OpenAPI document.
    pub(crate) openapi: bool,
}

/// Removes the action-level attributes of `func` and returns what they say.
pub(crate) fn take_action_attrs(func: &mut ImplItemFn, diag: &mut Diagnostics) -> ActionAttrs {
    let mut access = None;
    let mut exempt = false;
    let mut openapi = false;
    func.attrs.retain(|attr| {
        let Some(ident) = attr.path().get_ident() else { return true };
        let name = ident.to_string();
        match name.as_str() {
            "public" => {
                access = Some(Access::Public);
                false
            }
            "csrf_exempt" => {
                exempt = true;
                false
            }
            "openapi" => {
                openapi = true;
                false
            }
            "requires_login" | "requires_role" => {
                if let Some(a) = parse_access(&attr.meta, diag) {
                    access = Some(a);
                }
                false
            }
            _ => {
                let looks_like_access =
                    ["login", "role", "csrf", "auth"].iter().any(|w| name.contains(w));
                if looks_like_access {
                    let hint = closest(&name, ACTION_ATTRS)
                        .map(|k| format!("; did you mean #[{k}]?"))
                        .unwrap_or_default();
                    diag.error_at(
                        ident,
                        format!(
                            "unknown action attribute #[{name}]: Bao knows #[requires_login], #[requires_role(\"..\")], #[public], #[csrf_exempt] and #[openapi]{hint}"
                        ),
                    );
                    return false;
                }
                true
            }
        }
    });
    ActionAttrs {
        access,
        csrf_exempt: exempt,
        openapi,
    }
}

fn parse_impl(
    item: &mut ItemImpl,
    args: &ControllerArgs,
    diag: &mut Diagnostics,
) -> Option<Controller> {
    let base = args.base.as_ref();
    if let Some((_, path, _)) = &item.trait_ {
        diag.error_at(
            path,
            "#[bao::controller] goes on an inherent `impl` block, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        diag.error_at(
            &item.generics,
            "a controller cannot be generic: route handlers are registered once per app",
        );
    }
    let name = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let Some(name) = name else {
        diag.error_at(
            &item.self_ty,
            "a controller is a named type: write `pub struct Posts;` and `impl Posts`",
        );
        strip_route_attrs(item);
        return None;
    };
    let base_path = base.map(LitStr::value).unwrap_or_else(|| "/".into());
    let mut routes: Vec<Route> = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(func) = impl_item else {
            continue;
        };
        let route_attrs = take_route_attrs(func, diag);
        let attrs = take_action_attrs(func, diag);
        let access = attrs.access.clone().unwrap_or_else(|| args.access.clone());
        for (method, lit) in route_attrs {
            let Ok(path) = route_path::parse(&lit.value()).map_err(|m| diag.error_at(&lit, m))
            else {
                continue;
            };
            let full = RoutePath {
                pattern: route_path::join(&base_path, &path.pattern),
                params: route_params(&base_path, &path),
            };
            if let Some(mut route) = check_handler(func, &method, &lit, &full, diag) {
                route.access = access.clone();
                route.csrf_exempt = attrs.csrf_exempt;
                route.documented = attrs.openapi;
                if let Some(other) = routes.iter().find(|r| {
                    r.method == route.method && route_path::same_shape(&r.pattern, &route.pattern)
                }) {
                    diag.error_at(
                        &lit,
                        format!(
                            "route `{} {}` is already handled by `{}`: each method and path maps to one handler; change the path or the method",
                            route.method, route.pattern, other.handler
                        ),
                    );
                    continue;
                }
                routes.push(route);
            }
        }
    }
    Some(Controller {
        self_ty: (*item.self_ty).clone(),
        name,
        base: base_path,
        routes,
    })
}

/// Parameters of the base path followed by those of the route's own path.
fn route_params(base: &str, path: &RoutePath) -> Vec<String> {
    let mut params = route_path::parse(base)
        .map(|p| p.params)
        .unwrap_or_default();
    params.extend(path.params.iter().cloned());
    params
}

/// Removes the route attributes of `func` and returns them; reports unknown
/// HTTP-method attributes and malformed arguments.
fn take_route_attrs(func: &mut ImplItemFn, diag: &mut Diagnostics) -> Vec<(String, LitStr)> {
    let mut found = Vec::new();
    func.attrs.retain(|attr| {
        let Some(ident) = attr.path().get_ident() else { return true };
        let name = ident.to_string();
        if METHODS.contains(&name.as_str()) {
            match attr.parse_args::<LitStr>() {
                Ok(lit) => found.push((name.to_uppercase(), lit)),
                Err(_) => diag.error_at(
                    attr,
                    format!("expected a path string: write #[{name}(\"/\")] or #[{name}(\"/{{id}}\")]"),
                ),
            }
            return false;
        }
        if looks_like_route(attr) {
            let hint = closest(&name, METHODS)
                .map(|m| format!("; did you mean #[{m}]?"))
                .unwrap_or_default();
            diag.error_at(
                ident,
                format!(
                    "unsupported HTTP method attribute #[{name}]: Bao routes use #[get], #[post], #[put], #[patch], #[delete], #[head] or #[options]{hint}"
                ),
            );
            return false;
        }
        true
    });
    found
}

/// An attribute whose only argument is a string starting with `/`: a route
/// attribute, whatever its name.
fn looks_like_route(attr: &Attribute) -> bool {
    attr.parse_args::<LitStr>()
        .map(|lit| lit.value().starts_with('/'))
        .unwrap_or(false)
}

fn strip_route_attrs(item: &mut ItemImpl) {
    for impl_item in &mut item.items {
        if let ImplItem::Fn(func) = impl_item {
            func.attrs.retain(|attr| {
                let is_method = attr
                    .path()
                    .get_ident()
                    .is_some_and(|i| METHODS.contains(&i.to_string().as_str()));
                !is_method && !looks_like_route(attr)
            });
        }
    }
}

/// Types that can only come from a path segment: an argument of one of these
/// types must be named after a `{param}` of the route.
const SCALARS: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32",
    "f64", "bool", "char", "String", "Uuid",
];

fn is_scalar(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|s| {
            s.arguments.is_none() && SCALARS.contains(&s.ident.to_string().as_str())
        }),
        _ => false,
    }
}

pub(crate) fn check_handler(
    func: &ImplItemFn,
    method: &str,
    lit: &LitStr,
    path: &RoutePath,
    diag: &mut Diagnostics,
) -> Option<Route> {
    let sig = &func.sig;
    let name = &sig.ident;
    let mut local = Diagnostics::new();
    if sig.asyncness.is_none() {
        local.error_at(
            sig.fn_token,
            format!("handler `{name}` must be `async`: write `async fn {name}(..)`"),
        );
    }
    if !sig.generics.params.is_empty() {
        local.error_at(
            &sig.generics,
            format!("handler `{name}` cannot be generic: each route calls one concrete function"),
        );
    }
    let mut args = Vec::new();
    let mut bound = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => local.error_at(
                r,
                format!("handler `{name}` takes no `self`: handlers are associated functions; remove `{}`", r.to_token_stream()),
            ),
            FnArg::Typed(pt) => {
                let ident = match &*pt.pat {
                    Pat::Ident(pi) => Some(pi.ident.to_string()),
                    _ => None,
                };
                match ident {
                    Some(id) if path.params.contains(&id) => {
                        bound.push(id.clone());
                        args.push(HandlerArg::PathParam { name: id, ty: pt.ty.clone() });
                    }
                    Some(id) if is_scalar(&pt.ty) => local.error_at(
                        &pt.pat,
                        format!(
                            "handler argument `{id}: {}` has no `{{{id}}}` in the route path `{}`: add `{{{id}}}` to the path, or take it from the query string with `Query<T>`",
                            crate::diag::type_text(&pt.ty),
                            path.pattern
                        ),
                    ),
                    _ => args.push(HandlerArg::Extractor { ty: pt.ty.clone() }),
                }
            }
        }
    }
    for param in &path.params {
        if !bound.contains(param) {
            local.error_at(
                lit,
                format!(
                    "route path `{}` has a parameter `{{{param}}}` but handler `{name}` has no argument named `{param}`: add `{param}: i64` (or the type it holds) to `{name}`",
                    path.pattern
                ),
            );
        }
    }
    let failed = local.has_errors();
    if let Err(e) = local.finish() {
        diag.push(e);
    }
    if failed {
        return None;
    }
    let output_span = match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    Some(Route {
        method: method.to_string(),
        pattern: path.pattern.clone(),
        handler: name.clone(),
        doc: doc_summary(&func.attrs),
        args,
        output_span,
        access: Access::Public,
        csrf_exempt: false,
        api: false,
        documented: false,
    })
}

/// The first line of a function's doc comment.
fn doc_summary(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .find_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default()
}

fn expand_controller(c: &Controller) -> TokenStream {
    let self_ty = &c.self_ty;
    let name = &c.name;
    let base = &c.base;
    let infos = c.routes.iter().map(|r| {
        let method = &r.method;
        let pattern = &r.pattern;
        let handler = r.handler.to_string();
        let doc = &r.doc;
        let access = r.access.label();
        quote! {
            ::bao::RouteInfo {
                method: #method,
                path: #pattern,
                controller: #name,
                handler: #handler,
                summary: #doc,
                access: #access,
            }
        }
    });
    let documented = c
        .routes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.documented)
        .map(|(i, r)| {
            let params = r.args.iter().filter_map(|a| match a {
                HandlerArg::PathParam { name, ty } => {
                    let ty = crate::diag::type_text(ty);
                    Some(quote!((#name, #ty)))
                }
                HandlerArg::Extractor { .. } => None,
            });
            quote! {
                ::bao::api::DocumentedRoute {
                    route: <Self as ::bao::__private::Controller>::ROUTES[#i],
                    params: &[#(#params),*],
                }
            }
        });
    let handlers = c
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| expand_handler(self_ty, i, r));
    let indices = 0..c.routes.len();
    quote! {
        #[automatically_derived]
        impl ::bao::__private::Controller for #self_ty {
            const NAME: &'static str = #name;
            const BASE: &'static str = #base;
            const ROUTES: &'static [::bao::RouteInfo] = &[#(#infos),*];
            const DOCUMENTED: &'static [::bao::api::DocumentedRoute] = &[#(#documented),*];

            fn configure(__bao_cfg: &mut ::bao::__private::web::ServiceConfig, __bao_route: usize) {
                match __bao_route {
                    #(#indices => { #handlers })*
                    _ => {}
                }
            }
        }
    }
}

pub(crate) fn expand_handler(self_ty: &Type, index: usize, r: &Route) -> TokenStream {
    let wrapper = format_ident!("__bao_route_{}", index);
    let pattern = &r.pattern;
    let method = format_ident!("{}", r.method);
    let handler = &r.handler;
    let mut lets = Vec::new();
    let mut call_args = Vec::new();
    for (i, arg) in r.args.iter().enumerate() {
        let var = format_ident!("__bao_arg{}", i);
        lets.push(match arg {
            HandlerArg::PathParam { name, ty } => quote_spanned! {ty.span()=>
                let #var: #ty = match ::bao::__private::path_param::<#ty>(&__bao_req, #name) {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(response) => return response,
                };
            },
            HandlerArg::Extractor { ty } => quote_spanned! {ty.span()=>
                let #var: #ty = match ::bao::__private::extract::<#ty>(&__bao_req, &mut __bao_payload).await {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(response) => return response,
                };
            },
        });
        call_args.push(var);
    }
    let respond = quote_spanned! {r.output_span=>
        ::bao::__private::respond(&__bao_req, __bao_out)
    };
    let unsafe_method = !matches!(r.method.as_str(), "GET" | "HEAD" | "OPTIONS");
    let guard_fn = if r.api {
        quote!(::bao::__private::csrf_guard_api)
    } else {
        quote!(::bao::__private::csrf_guard)
    };
    let csrf = (unsafe_method && !r.csrf_exempt).then(|| {
        quote! {
            if let ::core::result::Result::Err(response) =
                #guard_fn(&__bao_req, &mut __bao_payload).await
            {
                return response;
            }
        }
    });
    let role = match &r.access {
        Access::Public => None,
        Access::Login => Some(quote!(::core::option::Option::None)),
        Access::Role(role) => Some(quote!(::core::option::Option::Some(#role))),
    };
    let guard = role.map(|role| {
        quote! {
            if let ::core::result::Result::Err(response) =
                ::bao::__private::require(&__bao_req, #role).await
            {
                return response;
            }
        }
    });
    quote! {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        async fn #wrapper(
            __bao_req: ::bao::__private::HttpRequest,
            __bao_body: ::bao::__private::web::Payload,
        ) -> ::bao::__private::HttpResponse {
            let mut __bao_payload = __bao_body.into_inner();
            #csrf
            #guard
            #(#lets)*
            let __bao_out = <#self_ty>::#handler(#(#call_args),*).await;
            #respond
        }
        ::bao::__private::route(__bao_cfg, ::bao::__private::Method::#method, #pattern, #wrapper);
    }
}

/// What a controller with errors still provides, so that `bao::app!` and other
/// code using it do not report follow-on errors.
pub(crate) fn skeleton(self_ty: &Type) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl ::bao::__private::Controller for #self_ty {
            const NAME: &'static str = "";
            const BASE: &'static str = "/";
            const ROUTES: &'static [::bao::RouteInfo] = &[];
            fn configure(_: &mut ::bao::__private::web::ServiceConfig, _: usize) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(tokens: TokenStream) -> String {
        let file: syn::File = syn::parse2(tokens).expect("expansion parses as a file");
        prettyplease::unparse(&file)
    }

    #[test]
    fn expands_routes_and_handlers() {
        let out = expand(
            quote!("/posts"),
            quote! {
                impl Posts {
                    /// Lists posts.
                    #[get("/")]
                    async fn index() -> String { String::new() }
                    #[post("/{id}")]
                    async fn update(id: i64, form: Form<Edit>) -> HttpResponse { todo() }
                    fn helper() {}
                }
            },
        );
        insta::assert_snapshot!(pretty(out));
    }

    #[test]
    fn reports_every_error_at_once() {
        let out = expand(
            quote!("/posts"),
            quote! {
                impl Posts {
                    #[get("/{id}")]
                    fn show() -> String { String::new() }
                    #[gett("/")]
                    async fn index() -> String { String::new() }
                    #[get("/list")]
                    async fn list(page: u32) -> String { String::new() }
                }
            },
        )
        .to_string();
        assert!(out.contains("must be `async`"), "{out}");
        assert!(out.contains("no argument named `id`"), "{out}");
        assert!(out.contains("did you mean #[get]"), "{out}");
        assert!(out.contains("has no `{page}`"), "{out}");
        // The user's impl survives so that nothing else breaks.
        assert!(
            out.contains("fn helper") || out.contains("impl Posts"),
            "{out}"
        );
    }

    #[test]
    fn rejects_duplicate_routes_within_a_controller() {
        let out = expand(
            quote!("/"),
            quote! {
                impl Home {
                    #[get("/{id}")] async fn a(id: i64) -> String { String::new() }
                    #[get("/{slug}")] async fn b(slug: String) -> String { String::new() }
                }
            },
        )
        .to_string();
        assert!(out.contains("already handled by `a`"), "{out}");
    }
}
