//! `bao::app! { name: "My App", controllers: [Home, Posts] }`: the one place
//! where an app's parts meet, and where checks across them happen.

use crate::diag::{closest, Diagnostics};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{bracketed, Ident, LitStr, Path, Token};

const KEYS: &[&str] = &[
    "name",
    "controllers",
    "apis",
    "models",
    "workflows",
    "tasks",
    "schedules",
    "agents",
    "channels",
    "plugins",
    "auth",
    "setup",
];

struct Entry {
    key: Ident,
    value: Value,
}

enum Value {
    Str(LitStr),
    List(Punctuated<Path, Token![,]>),
    Path(Path),
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let value = if input.peek(syn::token::Bracket) {
            let content;
            bracketed!(content in input);
            Value::List(content.parse_terminated(Path::parse, Token![,])?)
        } else if input.peek(LitStr) {
            Value::Str(input.parse()?)
        } else {
            Value::Path(input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected a string, a list like `[Home, Posts]` or a function path after `{key}:`"),
                )
            })?)
        };
        Ok(Entry { key, value })
    }
}

struct AppInput {
    entries: Punctuated<Entry, Token![,]>,
}

impl Parse for AppInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(AppInput {
            entries: input.parse_terminated(Entry::parse, Token![,])?,
        })
    }
}

/// What the macro found in the crate being compiled.
#[derive(Debug, Clone, Default)]
pub struct AppLayout {
    /// The `.html` files directly under `views/admin/`, with their text:
    /// the app's templates for admin console pages.
    pub admin_templates: Vec<(String, String)>,
    /// The crate has an `askama.toml`.
    pub has_askama_config: bool,
    /// The crate has a `views/error.html`: its page for Bao's error answers.
    pub has_error_template: bool,
}

/// The app's `views/error.html`, compiled as a view whose context is one of
/// Bao's error answers (`status`, `title`, `detail`) and registered with
/// the app, so 404s and 500s carry the app's layout.
fn error_page(layout: &AppLayout, diag: &mut Diagnostics) -> Option<(TokenStream, TokenStream)> {
    if !layout.has_error_template {
        return None;
    }
    if !layout.has_askama_config {
        diag.error_span(
            Span::call_site(),
            "this app has a `views/error.html` but no `askama.toml` telling the template engine to look in `views/`: \
             add `askama.toml` beside Cargo.toml with `[general]` and `dirs = [\"views\"]`",
        );
        return None;
    }
    Some((
        quote! {
            #[doc(hidden)]
            mod views_error_html {
                /// The context of `views/error.html`: one of Bao's error answers.
                #[::bao::view("error.html")]
                pub(super) struct ErrorPage {
                    pub status: u16,
                    pub title: ::std::string::String,
                    pub detail: ::std::string::String,
                }
                pub(super) fn page() -> ::bao::view::ErrorPage {
                    ::bao::view::ErrorPage::new(|info, ctx| {
                        ::bao::view::Page::render_page(
                            &ErrorPage {
                                status: info.status,
                                title: info.title.clone(),
                                detail: info.detail.clone(),
                            },
                            ctx,
                        )
                    })
                }
            }
        },
        quote!(.error_page(views_error_html::page())),
    ))
}

/// The admin console's pages: template file under `views/admin/`, and the
/// page type in `bao::admin::pages`.
const ADMIN_PAGES: &[(&str, &str)] = &[
    ("overview.html", "OverviewPage"),
    ("runs.html", "RunsPage"),
    ("approvals.html", "ApprovalsPage"),
    ("dead_letters.html", "DeadLettersPage"),
    ("tasks.html", "TasksPage"),
    ("audit.html", "AuditPage"),
];

/// Registers each of the app's admin page templates, rendered through a
/// wrapper that derefs to Bao's page type, so the template sees the page's
/// fields and methods and a wrong variable is a compile error here.
fn admin_shadows(layout: &AppLayout, diag: &mut Diagnostics) -> Vec<(TokenStream, TokenStream)> {
    let mut out = Vec::new();
    if !layout.admin_templates.is_empty() && !layout.has_askama_config {
        diag.error_span(
            Span::call_site(),
            "this app has templates under `views/admin/` but no `askama.toml` telling the template engine to look in `views/`: \
             add `askama.toml` beside Cargo.toml with `[general]` and `dirs = [\"views\"]`",
        );
        return out;
    }
    let has_base = layout.admin_templates.iter().any(|(f, _)| f == "base.html");
    for (file, text) in &layout.admin_templates {
        if file == "base.html" {
            continue;
        }
        let Some((_, page)) = ADMIN_PAGES.iter().find(|(f, _)| f == file) else {
            let files: Vec<&str> = ADMIN_PAGES.iter().map(|(f, _)| *f).collect();
            let hint = match closest(file, &files) {
                Some(near) => format!(" (did you mean `{near}`?)"),
                None => String::new(),
            };
            diag.error_span(
                Span::call_site(),
                format!(
                    "`views/admin/{file}` is not an admin console page{hint}: the files there replace Bao's pages \
                     ({}) and `base.html`; put partials they include in a subfolder such as `views/admin/parts/`",
                    files.join(", ")
                ),
            );
            continue;
        };
        if !has_base && text.contains("\"admin/base.html\"") {
            diag.error_span(
                Span::call_site(),
                format!(
                    "`views/admin/{file}` extends \"admin/base.html\", which is not under `views/admin/`: \
                     run `bao admin:eject base` to copy Bao's, or extend a layout of your own"
                ),
            );
            continue;
        }
        let path = format!("admin/{file}");
        let page = Ident::new(page, Span::call_site());
        // The module's name is what rustc shows of a wrong variable:
        // "no field `x` on type `&views_admin_tasks_html::TasksPage`".
        let module = Ident::new(
            &format!(
                "views_admin_{}",
                file.trim_end_matches(".html").replace(['-', '.'], "_") + "_html"
            ),
            Span::call_site(),
        );
        out.push((
            quote! {
                #[doc(hidden)]
                mod #module {
                    #[derive(::bao::__private::askama::Template)]
                    #[template(path = #path, askama = ::bao::__private::askama)]
                    pub(super) struct #page<'__bao> {
                        __bao_page: &'__bao ::bao::admin::pages::#page,
                    }
                    impl ::core::ops::Deref for #page<'_> {
                        type Target = ::bao::admin::pages::#page;
                        fn deref(&self) -> &Self::Target {
                            self.__bao_page
                        }
                    }
                    pub(super) fn shadow() -> ::bao::admin::pages::Shadow {
                        ::bao::admin::pages::Shadow::of::<::bao::admin::pages::#page>(|page| {
                            ::bao::__private::askama::Template::render(&#page { __bao_page: page })
                        })
                    }
                }
            },
            quote!(.admin_template(#module::shadow())),
        ));
    }
    out
}

/// Expands `bao::app! { .. }`.
pub fn expand(input: TokenStream, layout: &AppLayout) -> TokenStream {
    let parsed: AppInput = match syn::parse2(input) {
        Ok(p) => p,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#err #SKELETON_MARKER);
        }
    };
    let mut diag = Diagnostics::new();
    let mut name: Option<LitStr> = None;
    let mut controllers: Vec<Path> = Vec::new();
    let mut setup: Option<Path> = None;
    let mut auth: Option<Path> = None;
    let mut apis: Vec<Path> = Vec::new();
    let mut workflows: Vec<Path> = Vec::new();
    let mut tasks: Vec<Path> = Vec::new();
    let mut schedules: Vec<Path> = Vec::new();
    let mut agents: Vec<Path> = Vec::new();
    let mut channels: Vec<Path> = Vec::new();
    let mut plugins: Vec<Path> = Vec::new();
    let mut models: Vec<Path> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for entry in parsed.entries {
        let key = entry.key.to_string();
        if seen.contains(&key) {
            diag.error_at(
                &entry.key,
                format!("`{key}` is given twice: merge the two lists"),
            );
            continue;
        }
        seen.push(key.clone());
        match (key.as_str(), entry.value) {
            ("name", Value::Str(lit)) => name = Some(lit),
            ("controllers", Value::List(list)) => {
                push_unique(&mut controllers, list, "controller", &mut diag)
            }
            ("setup", Value::Path(path)) => setup = Some(path),
            ("auth", Value::Path(path)) => auth = Some(path),
            ("apis", Value::List(list)) => push_unique(&mut apis, list, "API", &mut diag),
            ("workflows", Value::List(list)) => {
                push_unique(&mut workflows, list, "workflow", &mut diag)
            }
            ("tasks", Value::List(list)) => push_unique(&mut tasks, list, "task", &mut diag),
            ("schedules", Value::List(list)) => {
                push_unique(&mut schedules, list, "schedule", &mut diag)
            }
            ("agents", Value::List(list)) => push_unique(&mut agents, list, "agent", &mut diag),
            ("channels", Value::List(list)) => {
                push_unique(&mut channels, list, "channel", &mut diag)
            }
            ("plugins", Value::List(list)) => push_unique(&mut plugins, list, "plugin", &mut diag),
            ("plugins", _) => diag.error_at(
                &entry.key,
                "`plugins` is a list of types implementing bao::Plugin: `plugins: [Stripe]`",
            ),
            ("channels", _) => diag.error_at(
                &entry.key,
                "`channels` is a list of #[bao::channel] and #[bao::ws] functions: `channels: [may_watch_order]`",
            ),
            ("agents", _) => diag.error_at(
                &entry.key,
                "`agents` is a list of #[bao::agent] types: `agents: [ResearchBot]`",
            ),
            ("schedules", _) => diag.error_at(
                &entry.key,
                "`schedules` is a list of #[bao::every] functions: `schedules: [heartbeat]`",
            ),
            ("tasks", _) => diag.error_at(
                &entry.key,
                "`tasks` is a list of #[bao::task] functions: `tasks: [send_receipt]`",
            ),
            ("workflows", _) => diag.error_at(
                &entry.key,
                "`workflows` is a list of #[bao::workflow] functions: `workflows: [onboard]`",
            ),
            ("apis", _) => diag.error_at(
                &entry.key,
                "`apis` is a list of #[bao::api] types: `apis: [NotesApi]`",
            ),
            ("auth", _) => diag.error_at(
                &entry.key,
                "`auth` names the user model: `auth: User` (`bao make:auth` generates it)",
            ),
            ("models", Value::List(list)) => push_unique(&mut models, list, "model", &mut diag),
            ("models", _) => diag.error_at(
                &entry.key,
                "`models` is a list of #[bao::model] types: `models: [User, Post]`",
            ),
            ("setup", _) => diag.error_at(
                &entry.key,
                "`setup` is a function `fn(bao::App) -> bao::App`: `setup: configure_app`",
            ),
            ("name", _) => diag.error_at(&entry.key, "`name` is a string: `name: \"My App\"`"),
            ("controllers", _) => diag.error_at(
                &entry.key,
                "`controllers` is a list of controller types: `controllers: [Home, Posts]`",
            ),
            (other, _) => {
                let hint = closest(other, KEYS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    &entry.key,
                    format!(
                        "unknown key `{other}` in bao::app!: expected one of {}{hint}",
                        KEYS.join(", ")
                    ),
                );
            }
        }
    }
    let (admin_modules, admin_shadows): (Vec<_>, Vec<_>) = admin_shadows(layout, &mut diag)
        .into_iter()
        .chain(error_page(layout, &mut diag))
        .unzip();
    let errors = diag.to_compile_errors();
    let name = match &name {
        Some(lit) => quote!(#lit),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let api_docs = apis.iter().map(|a| {
        quote_spanned! {a.span()=>
            {
                let (writable, required) = <#a as ::bao::api::ApiResource>::fields();
                ::bao::api::ApiDoc {
                    config: <#a as ::bao::api::ApiResource>::CONFIG,
                    model: <#a as ::bao::api::ApiResource>::model(),
                    writable,
                    required,
                }
            }
        }
    });
    let openapi_name = name.clone();
    let documented_lists: Vec<TokenStream> = controllers
        .iter()
        .map(|c| quote_spanned! {c.span()=> <#c as ::bao::__private::Controller>::DOCUMENTED })
        .collect();
    let has_apis = !apis.is_empty();
    controllers.extend(apis.iter().cloned());
    let tables = controllers.iter().map(|c| {
        quote_spanned! {c.span()=> <#c as ::bao::__private::Controller>::ROUTES }
    });
    let registrations = controllers.iter().map(|c| {
        quote_spanned! {c.span()=>
            .register(
                <#c as ::bao::__private::Controller>::ROUTES,
                <#c as ::bao::__private::Controller>::configure,
            )
        }
    });
    let setup = setup
        .map(|path| {
            quote_spanned! {path.span()=>
                let app: fn(::bao::App) -> ::bao::App = #path;
                app(built)
            }
        })
        .unwrap_or_else(|| quote!(built));
    // Each item of a list is checked in a `const` of its own, spanned at
    // it: a clash is reported at the later of the two items.
    let clash_check = located_checks(
        &controllers,
        |i| quote!(::bao::__private::route_clash_at(ROUTES, #i)),
    );
    let model_infos = models.iter().map(|m| {
        quote_spanned! {m.span()=>
            ::bao::db::ModelInfo {
                name: <#m as ::bao::db::Model>::NAME,
                table: <#m as ::bao::db::Model>::TABLE,
                columns: <#m as ::bao::db::Model>::COLUMNS,
                has_many: <#m as ::bao::db::Model>::HAS_MANY,
            }
        }
    });
    let table_check = located_checks(
        &models,
        |i| quote!(::bao::__private::table_clash_at(MODELS, #i)),
    );
    let workflow_names: Vec<TokenStream> = workflows
        .iter()
        .map(|w| quote_spanned! {w.span()=> #w::NAME })
        .chain(agents.iter().map(|a| {
            quote_spanned! {a.span()=> <#a as ::bao::agent::Agent>::DEFINITION.workflow }
        }))
        .collect();
    let named: Vec<Path> = workflows.iter().chain(agents.iter()).cloned().collect();
    let workflow_check = located_checks(
        &named,
        |i| quote!(::bao::__private::workflow_name_clash_at(&[#(#workflow_names),*], #i)),
    );
    let workflow_registrations = workflows
        .iter()
        .map(|w| quote_spanned! {w.span()=> .workflow(#w::definition()) });
    let agent_registrations = agents
        .iter()
        .map(|a| quote_spanned! {a.span()=> .agent::<#a>() });
    let channel_registrations = channels
        .iter()
        .map(|c| quote_spanned! {c.span()=> .channel(#c::definition()) });
    let channel_kinds: Vec<TokenStream> = channels
        .iter()
        .map(|c| quote_spanned! {c.span()=> #c::KIND })
        .collect();
    let channel_check = located_checks(
        &channels,
        |i| quote!(::bao::channel::channel_kind_problem_at(&[#(#channel_kinds),*], #i)),
    );
    let plugin_checks = plugins
        .iter()
        .map(|p| crate::diag::failing_const(p.span(), quote!(::bao::plugin::problem::<#p>())));
    let plugin_controllers: Vec<TokenStream> = plugins
        .iter()
        .map(|p| quote_spanned! {p.span()=> <#p as ::bao::plugin::Plugin>::CONTROLLERS })
        .collect();
    let plugin_route_check = located_checks(
        &plugins,
        |i| quote!(::bao::plugin::route_clash_at(ROUTES, &[#(#plugin_controllers),*], #i)),
    );
    let plugin_registrations = plugins
        .iter()
        .map(|p| quote_spanned! {p.span()=> .plugin(<#p as ::core::default::Default>::default()) });
    let task_names: Vec<TokenStream> = tasks
        .iter()
        .map(|t| quote_spanned! {t.span()=> #t::NAME })
        .collect();
    let task_check = located_checks(
        &tasks,
        |i| quote!(::bao::__private::task_name_clash_at(&[#(#task_names),*], #i)),
    );
    let task_registrations = tasks
        .iter()
        .map(|t| quote_spanned! {t.span()=> .task(#t::definition()) });
    let schedule_registrations = schedules
        .iter()
        .map(|t| quote_spanned! {t.span()=> .schedule(#t::definition()) });
    // An app serves a document when it has APIs or `#[openapi]` routes.
    let documented_count = quote!(0 #(+ #documented_lists.len())*);
    let (auth_check, auth_registration) = match &auth {
        Some(model) => (
            crate::diag::failing_const(
                model.span(),
                quote_spanned! {model.span()=>
                    ::bao::__private::auth_model_problem(
                        <#model as ::bao::db::Model>::NAME,
                        <#model as ::bao::db::Model>::COLUMNS,
                    )
                },
            ),
            quote_spanned! {model.span()=> .auth::<#model>() },
        ),
        None => (
            located_checks(
                &controllers,
                |i| quote!(::bao::__private::login_without_auth_at(ROUTES, #i)),
            ),
            quote!(),
        ),
    };
    quote! {
        #errors

        /// The route tables of every controller of this app, in registration order.
        pub const ROUTES: &[&[::bao::RouteInfo]] = &[#(#tables),*];

        #clash_check

        /// Every model of this app, with its table and columns.
        pub const MODELS: &[::bao::db::ModelInfo] = &[#(#model_infos),*];

        #table_check

        #auth_check

        #workflow_check

        #task_check

        #channel_check

        #(#plugin_checks)*

        #plugin_route_check

        #(#admin_modules)*

        /// The OpenAPI 3.1 document of this app's `#[bao::api]` resources
        /// (what `/openapi.json` serves and `bao openapi` writes).
        pub fn openapi() -> ::bao::api::OpenApi {
            ::bao::api::document(
                #openapi_name,
                ::core::env!("CARGO_PKG_VERSION"),
                &[#(#api_docs),*],
                &[#(#documented_lists),*],
            )
        }

        /// This app: its controllers, routes and framework services, ready to serve,
        /// test or describe.
        pub fn app() -> ::bao::App {
            let built = ::bao::App::new(#name, ::core::env!("CARGO_PKG_VERSION"))
                .models(MODELS)
                .source_dir(::core::env!("CARGO_MANIFEST_DIR"))
                #auth_registration
                #(#workflow_registrations)*
                #(#agent_registrations)*
                #(#channel_registrations)*
                #(#task_registrations)*
                #(#schedule_registrations)*
                #(#registrations)*
                #(#plugin_registrations)*
                #(#admin_shadows)*;
            let built = if #has_apis || #documented_count > 0 {
                built.openapi(openapi)
            } else {
                built
            };
            #setup
        }
    }
}

/// Adds each path of `list` once, reporting repeats.
fn push_unique(
    into: &mut Vec<Path>,
    list: Punctuated<Path, Token![,]>,
    kind: &str,
    diag: &mut Diagnostics,
) {
    for path in list {
        let text = quote!(#path).to_string();
        if into.iter().any(|p| quote!(#p).to_string() == text) {
            diag.error_at(&path, format!("{kind} `{text}` is listed twice"));
        } else {
            into.push(path);
        }
    }
}

/// What `bao::app!` emits when its input does not parse, so uses of `app()`
/// do not add errors of their own.
struct SkeletonMarker;
const SKELETON_MARKER: SkeletonMarker = SkeletonMarker;

impl quote::ToTokens for SkeletonMarker {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(quote! {
            pub const ROUTES: &[&[::bao::RouteInfo]] = &[];
            pub const MODELS: &[::bao::db::ModelInfo] = &[];
            pub fn app() -> ::bao::App {
                ::bao::App::new(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"))
            }
        });
    }
}

/// One `const` per item of a list, spanned at the item, that fails the
/// build with the message `check(i)` returns for the `i`-th item: the error
/// points at the item at fault and shows no framework code.
fn located_checks(items: &[Path], check: impl Fn(usize) -> TokenStream) -> TokenStream {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| crate::diag::failing_const(item.span(), check(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> TokenStream {
        super::expand(input, &AppLayout::default())
    }

    fn with_admin(files: &[(&str, &str)], askama: bool) -> String {
        let layout = AppLayout {
            admin_templates: files
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect(),
            has_askama_config: askama,
            has_error_template: false,
        };
        super::expand(quote!(controllers: [Home]), &layout).to_string()
    }

    #[test]
    fn an_error_template_is_registered_as_the_error_page() {
        let layout = AppLayout {
            has_askama_config: true,
            has_error_template: true,
            ..AppLayout::default()
        };
        let out = super::expand(quote!(controllers: [Home]), &layout).to_string();
        assert!(out.contains("mod views_error_html"), "{out}");
        assert!(out.contains("bao :: view (\"error.html\")"), "{out}");
        assert!(
            out.contains(". error_page (views_error_html :: page ())"),
            "{out}"
        );
        let layout = AppLayout {
            has_error_template: true,
            ..AppLayout::default()
        };
        let out = super::expand(quote!(controllers: [Home]), &layout).to_string();
        assert!(
            out.contains("views/error.html` but no `askama.toml`"),
            "{out}"
        );
    }

    #[test]
    fn admin_templates_are_compiled_against_their_page() {
        let out = with_admin(
            &[
                ("base.html", ""),
                ("runs.html", "{% extends \"admin/base.html\" %}"),
            ],
            true,
        );
        assert!(out.contains("mod views_admin_runs_html"), "{out}");
        assert!(
            out.contains(":: bao :: admin :: pages :: RunsPage"),
            "{out}"
        );
        assert!(
            out.contains("admin_template (views_admin_runs_html :: shadow ())"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn an_admin_template_of_no_page_is_an_error_with_a_suggestion() {
        let out = with_admin(&[("overveiw.html", "")], true);
        assert!(out.contains("`views/admin/overveiw.html` is not an admin console page (did you mean `overview.html`?)"), "{out}");
        assert!(out.contains("views/admin/parts/"), "{out}");
    }

    #[test]
    fn an_admin_template_extending_a_missing_base_says_how_to_get_it() {
        let out = with_admin(&[("audit.html", "{% extends \"admin/base.html\" %}")], true);
        assert!(out.contains("run `bao admin:eject base`"), "{out}");
        let standalone = with_admin(&[("audit.html", "<h1>{{ frame.app_name }}</h1>")], true);
        assert!(!standalone.contains("compile_error"), "{standalone}");
    }

    #[test]
    fn admin_templates_need_askama_to_look_in_views() {
        let out = with_admin(&[("audit.html", "")], false);
        assert!(out.contains("no `askama.toml`"), "{out}");
    }

    #[test]
    fn expands_route_table_and_builder() {
        let out =
            expand(quote!(name: "Shop", controllers: [Home, admin::Orders], setup: configure));
        let file: syn::File = syn::parse2(out).expect("parses");
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let out = expand(quote!(controlers: [Home])).to_string();
        assert!(out.contains("did you mean `controllers`"), "{out}");
    }

    #[test]
    fn duplicate_controllers_are_reported() {
        let out = expand(quote!(controllers: [Home, Home])).to_string();
        assert!(out.contains("listed twice"), "{out}");
    }
}
