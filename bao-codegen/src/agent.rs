//! `#[agent(name = "research", max_steps = 10, ..)]` on an `impl` block:
//! its `#[tool]` methods become the agent's tools (doc comments as
//! descriptions, argument types as JSON schemas), and the type implements
//! `bao::agent::Agent` with `run`, `start` and `resume`.

use crate::diag::{closest, Diagnostics};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, ImplItem, ItemImpl, Lit, Meta, Pat, ReturnType, Type};

const OPTIONS: &[&str] = &[
    "name",
    "max_steps",
    "max_tokens",
    "max_cost_usd",
    "rag",
    "approval_timeout",
];
const TOOL_OPTIONS: &[&str] = &["requires_approval", "scope"];

const USAGE: &str = "#[bao::agent] goes on an `impl` block of the agent's type, whose `#[tool] async fn name(&self, ..) -> bao::Result<String>` methods are its tools";

struct Tool {
    ident: syn::Ident,
    name: String,
    description: String,
    requires_approval: bool,
    scope: Option<String>,
    params: Vec<(syn::Ident, Type)>,
}

fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_string()
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Expands `#[agent(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut block: ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(e) => {
            let error = syn::Error::new(e.span(), USAGE).to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut diag = Diagnostics::new();
    let self_ty = (*block.self_ty).clone();
    let type_name = match &self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    if block.trait_.is_some() {
        diag.error_at(&block.self_ty, USAGE);
    }
    if !block.generics.params.is_empty() {
        diag.error_at(
            &block.generics,
            "an agent cannot be generic: its runs are stored by name",
        );
    }
    let mut name = snake(type_name.trim_end_matches("Agent"));
    let name_example = format!("name = \"{name}\"");
    let mut max_steps: u32 = 10;
    let mut max_tokens: Option<u64> = None;
    let mut max_cost_usd: Option<f64> = None;
    let mut rag = false;
    let mut approval_timeout_ms: u64 = 24 * 3_600_000;
    for crate::diag::AttrOption {
        key,
        value,
        meta: option,
    } in crate::diag::attr_options(args, &mut diag)
    {
        match (key.as_str(), value) {
            ("name", Some(Lit::Str(s))) => {
                name = crate::diag::stored_name(&mut diag, &option, &s, "an agent", &name_example);
            }
            ("max_steps", Some(Lit::Int(i))) => {
                max_steps = crate::diag::int_in(
                    &mut diag,
                    &option,
                    &i,
                    1..=1000,
                    "`max_steps` is the most model turns of one run, 1 to 1000",
                    "max_steps = 10",
                )
                .unwrap_or(max_steps);
            }
            ("max_tokens", Some(Lit::Int(i))) => {
                max_tokens = crate::diag::int_in(
                    &mut diag,
                    &option,
                    &i,
                    1..=u64::MAX,
                    "`max_tokens` is the most tokens of one run, more than 0",
                    "max_tokens = 5000",
                )
                .or(max_tokens);
            }
            ("max_cost_usd", Some(Lit::Float(f))) => match f.base10_parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => max_cost_usd = Some(n),
                _ => diag.error_at(
                    &f,
                    crate::diag::wrong_value(
                        &option,
                        "`max_cost_usd` is the most dollars one run may cost, more than 0",
                        "max_cost_usd = 0.50",
                    ),
                ),
            },
            ("max_cost_usd", Some(Lit::Int(i))) => {
                max_cost_usd = crate::diag::int_in(
                    &mut diag,
                    &option,
                    &i,
                    1..=u64::MAX,
                    "`max_cost_usd` is the most dollars one run may cost, more than 0",
                    "max_cost_usd = 0.50",
                )
                .map(|n| n as f64)
                .or(max_cost_usd);
            }
            ("rag", Some(Lit::Bool(b))) => rag = b.value,
            ("approval_timeout", Some(Lit::Str(s))) => match crate::schedule::parse_duration_ms(
                &s.value(),
            ) {
                Ok(ms) if ms > 0 => approval_timeout_ms = ms,
                _ => diag.error_at(
                    &s,
                    crate::diag::wrong_value(
                        &option,
                        "`approval_timeout` is a duration longer than zero, like \"30m\" or \"7d\"",
                        "approval_timeout = \"24h\"",
                    ),
                ),
            },
            (
                key @ ("name" | "max_steps" | "max_tokens" | "max_cost_usd" | "rag"
                | "approval_timeout"),
                _,
            ) => {
                let (why, write) = match key {
                    "name" => (
                        "`name` is the text the agent's runs are stored under",
                        name_example.as_str(),
                    ),
                    "max_steps" => (
                        "`max_steps` is a whole number from 1 to 1000",
                        "max_steps = 10",
                    ),
                    "max_tokens" => ("`max_tokens` is a whole number", "max_tokens = 5000"),
                    "max_cost_usd" => (
                        "`max_cost_usd` is a number of dollars",
                        "max_cost_usd = 0.50",
                    ),
                    "rag" => ("`rag` is true or false", "rag = true"),
                    _ => (
                        "`approval_timeout` is a duration in text",
                        "approval_timeout = \"24h\"",
                    ),
                };
                diag.error_at(&option, crate::diag::wrong_value(&option, why, write));
            }
            (other, _) => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(&option, format!("unknown #[bao::agent] option `{other}`: expected name, max_steps, max_tokens, max_cost_usd, rag or approval_timeout{hint}"));
            }
        }
    }

    let mut tools: Vec<Tool> = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(at) = method.attrs.iter().position(|a| a.path().is_ident("tool")) else {
            continue;
        };
        let attr = method.attrs.remove(at);
        let ident = method.sig.ident.clone();
        let mut tool = Tool {
            name: ident.to_string(),
            description: doc_text(&method.attrs),
            ident: ident.clone(),
            requires_approval: false,
            scope: None,
            params: Vec::new(),
        };
        if let Meta::List(list) = &attr.meta {
            let parsed = list.parse_args_with(
                syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
            );
            match parsed {
                Ok(options) => {
                    for option in options {
                        let key = option
                            .path()
                            .get_ident()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        match (&option, key.as_str()) {
                            (Meta::Path(_), "requires_approval") => tool.requires_approval = true,
                            (Meta::NameValue(nv), "scope") => match &nv.value {
                                Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => tool.scope = Some(s.value()),
                                _ => diag.error_at(&nv.value, "`scope` is a label like \"write\""),
                            },
                            (_, "requires_approval" | "scope") => diag.error_at(
                                &option,
                                "write `#[tool(requires_approval)]` or `#[tool(scope = \"write\")]`",
                            ),
                            (_, other) => {
                                let hint = closest(other, TOOL_OPTIONS)
                                    .map(|k| format!("; did you mean `{k}`?"))
                                    .unwrap_or_default();
                                diag.error_at(&option, format!("unknown #[tool] option `{other}`: expected requires_approval or scope{hint}"));
                            }
                        }
                    }
                }
                Err(e) => diag.push(e),
            }
        }
        let sig = &method.sig;
        if sig.asyncness.is_none() {
            diag.error_at(
                sig.fn_token,
                format!("tool `{ident}` must be `async`: write `async fn {ident}(&self, ..)`"),
            );
        }
        if !sig.generics.params.is_empty() {
            diag.error_at(
                &sig.generics,
                format!("tool `{ident}` cannot be generic: the model calls it with JSON"),
            );
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            _ => diag.error_at(
                &sig.ident,
                format!("tool `{ident}` takes `&self` first: `async fn {ident}(&self, ..)`"),
            ),
        }
        for input in inputs {
            match input {
                FnArg::Typed(t) => match &*t.pat {
                    Pat::Ident(p) => tool.params.push((p.ident.clone(), (*t.ty).clone())),
                    other => diag.error_at(other, "tool arguments are plain names (`q: String`): the model passes them by name"),
                },
                FnArg::Receiver(r) => diag.error_at(r, "`self` comes first"),
            }
        }
        match &sig.output {
            ReturnType::Type(_, ty) if is_result(ty) => {}
            _ => diag.error_at(
                &sig.ident,
                format!("tool `{ident}` returns `bao::Result<String>` (or any `Result<T, E>` with `T: Serialize`, `E: Display`): its output goes back to the model"),
            ),
        }
        tools.push(tool);
    }
    let errors = diag.to_compile_errors();
    if diag.has_errors() {
        // The type still implements `Agent`, so `bao::app!` and callers of
        // `run` report nothing more than the mistake above.
        return quote! {
            #errors
            #block
            impl ::bao::agent::Agent for #self_ty {
                const DEFINITION: ::bao::agent::AgentDef = ::bao::agent::AgentDef {
                    name: #name, workflow: ::core::concat!("agent:", #name), instructions: "",
                    max_steps: 1, max_tokens: ::core::option::Option::None,
                    max_cost_usd: ::core::option::Option::None, rag: false,
                    approval_timeout: ::core::time::Duration::from_secs(1), tools: &[],
                };
                fn create() -> Self { ::bao::agent::__create::<Self>() }
                fn call_tool<'a>(&'a self, _: &'a str, _: ::bao::serde_json::Value)
                    -> ::bao::__private::BoxFuture<'a, ::core::result::Result<::std::string::String, ::std::string::String>> {
                    ::std::boxed::Box::pin(async {
                        ::core::result::Result::Err(::std::string::String::from("this agent has no tools: its #[bao::agent] did not compile"))
                    })
                }
            }
        };
    }

    let instructions = doc_text(&block.attrs);
    let workflow = format!("agent:{name}");
    let max_tokens = match max_tokens {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let max_cost = match max_cost_usd {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let params_fns = tools.iter().map(|t| {
        let f = format_ident!("__bao_tool_params_{}", t.ident);
        let entries = t.params.iter().map(|(n, ty)| {
            let pname = n.to_string();
            quote_spanned! {ty.span()=>
                ::bao::agent::ParamDef {
                    name: #pname,
                    schema: <#ty as ::bao::agent::ToolParam>::schema(),
                    required: <#ty as ::bao::agent::ToolParam>::REQUIRED,
                }
            }
        });
        quote! {
            #[doc(hidden)]
            fn #f() -> ::std::vec::Vec<::bao::agent::ParamDef> {
                ::std::vec![#(#entries),*]
            }
        }
    });
    let tool_defs = tools.iter().map(|t| {
        let f = format_ident!("__bao_tool_params_{}", t.ident);
        let (tname, desc, approval) = (&t.name, &t.description, t.requires_approval);
        let scope = match &t.scope {
            Some(s) => quote!(::core::option::Option::Some(#s)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::bao::agent::ToolDef {
                name: #tname,
                description: #desc,
                requires_approval: #approval,
                scope: #scope,
                params: <#self_ty>::#f,
            }
        }
    });
    let arms = tools.iter().map(|t| {
        let (ident, tname) = (&t.ident, &t.name);
        let fields = t.params.iter().map(|(n, ty)| quote!(#n: #ty));
        let args = t.params.iter().map(|(n, _)| quote!(__args.#n));
        quote! {
            #tname => {
                #[derive(::bao::__private::serde::Deserialize)]
                #[serde(crate = "::bao::__private::serde")]
                #[allow(non_camel_case_types)]
                struct __BaoToolArgs { #(#fields),* }
                let __args: __BaoToolArgs = ::bao::serde_json::from_value(arguments).map_err(|e| {
                    ::std::format!("invalid arguments for `{}`: {}", #tname, e)
                })?;
                match self.#ident(#(#args),*).await {
                    ::core::result::Result::Ok(value) => ::core::result::Result::Ok(::bao::agent::tool_output(&value)),
                    ::core::result::Result::Err(error) => ::core::result::Result::Err(::std::string::ToString::to_string(&error)),
                }
            }
        }
    });
    quote! {
        #block

        impl #self_ty {
            #(#params_fns)*

            /// Starts a run of this agent with `message` and carries it on
            /// here until it completes or waits for an approval.
            pub async fn run(db: &::bao::db::DbPool, message: &str) -> ::bao::Result<::bao::agent::AgentRun> {
                ::bao::agent::run::<Self>(db, message).await
            }

            /// Starts a run of this agent; a worker carries it on. Returns its id.
            pub async fn start(db: &::bao::db::DbPool, message: &str) -> ::bao::Result<::std::string::String> {
                ::bao::agent::start::<Self>(db, message).await
            }

            /// Starts a run of this agent under the id `run_id` (an idempotency
            /// key: starting twice leaves the first run); a worker carries it on.
            pub async fn start_with_id(db: &::bao::db::DbPool, run_id: &str, message: &str) -> ::bao::Result<::std::string::String> {
                ::bao::agent::start_with_id::<Self>(db, run_id, message).await
            }

            /// Carries run `run_id` on here (after an approval) and reports where it stands.
            pub async fn resume(db: &::bao::db::DbPool, run_id: &str) -> ::bao::Result<::bao::agent::AgentRun> {
                ::bao::agent::resume::<Self>(db, run_id).await
            }
        }

        impl ::bao::agent::Agent for #self_ty {
            const DEFINITION: ::bao::agent::AgentDef = ::bao::agent::AgentDef {
                name: #name,
                workflow: #workflow,
                instructions: #instructions,
                max_steps: #max_steps,
                max_tokens: #max_tokens,
                max_cost_usd: #max_cost,
                rag: #rag,
                approval_timeout: ::core::time::Duration::from_millis(#approval_timeout_ms),
                tools: &[#(#tool_defs),*],
            };

            fn create() -> Self {
                ::bao::agent::__create::<Self>()
            }

            fn call_tool<'a>(
                &'a self,
                name: &'a str,
                arguments: ::bao::serde_json::Value,
            ) -> ::bao::__private::BoxFuture<'a, ::core::result::Result<::std::string::String, ::std::string::String>> {
                ::std::boxed::Box::pin(async move {
                    match name {
                        #(#arms)*
                        other => ::core::result::Result::Err(::std::format!("there is no tool `{}`", other)),
                    }
                })
            }
        }
    }
}

fn is_result(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result"))
}

/// `#[bao::tool]` outside an agent's impl block.
pub fn stray_tool(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[tool] goes on a method inside an `impl` block marked #[bao::agent(..)]: put `#[bao::agent(name = \"..\")]` on the impl block",
    )
    .to_compile_error();
    quote!(#error #item)
}
