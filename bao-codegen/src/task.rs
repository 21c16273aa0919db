//! `#[task(kind = "io", max_concurrency = 8, retries = 3)]` on
//! `async fn send_receipt(order_id: i64) -> bao::Result<()>`: keeps the
//! function and adds a module of the same name with `enqueue`,
//! `enqueue_with` and its definition.

use crate::diag::{closest, int_in, wrong_value, Diagnostics};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Lit, Pat};

const OPTIONS: &[&str] = &["name", "kind", "max_concurrency", "retries"];

/// Expands `#[task(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match crate::diag::parse_fn_item(
        item,
        "#[bao::task] goes on an `async fn name(args..) -> bao::Result<()>`",
    ) {
        Ok(f) => f,
        Err(errors) => return errors,
    };
    let mut diag = Diagnostics::new();
    let ident = &func.sig.ident;
    let mut name = ident.to_string();
    let name_example = format!("name = \"{ident}\"");
    let mut kind = quote!(::bao::task::TaskKind::Io);
    let mut max_concurrency: usize = 8;
    let mut retries: u32 = 3;
    for crate::diag::AttrOption {
        key,
        value,
        meta: option,
    } in crate::diag::attr_options(args, &mut diag)
    {
        match (key.as_str(), value) {
            ("kind", Some(Lit::Str(s))) => match s.value().as_str() {
                "io" => kind = quote!(::bao::task::TaskKind::Io),
                "cpu" => kind = quote!(::bao::task::TaskKind::Cpu),
                _ => diag.error_at(
                    &s,
                    wrong_value(
                        &option,
                        "a task is \"io\" (async work) or \"cpu\" (runs on the blocking pool)",
                        "kind = \"cpu\"",
                    ),
                ),
            },
            ("max_concurrency", Some(Lit::Int(i))) => {
                max_concurrency = int_in(
                    &mut diag,
                    &option,
                    &i,
                    1..=10_000,
                    "`max_concurrency` is how many run at once in a process, 1 to 10000",
                    "max_concurrency = 8",
                )
                .unwrap_or(max_concurrency);
            }
            ("retries", Some(Lit::Int(i))) => {
                retries = int_in(
                    &mut diag,
                    &option,
                    &i,
                    0..=100,
                    "`retries` is how many times a failed task runs again, 0 to 100",
                    "retries = 3",
                )
                .unwrap_or(retries);
            }
            ("name", Some(Lit::Str(s))) => {
                let value = s.value();
                if value.is_empty()
                    || value.len() > 100
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
                {
                    diag.error_at(
                        &s,
                        wrong_value(
                            &option,
                            "a task name is 1 to 100 letters, digits and `_ - . :`",
                            &name_example,
                        ),
                    );
                } else if value.starts_with("every:") {
                    diag.error_at(&s, "task names starting `every:` are the ticks of #[bao::every] schedules: choose another name");
                } else {
                    name = value;
                }
            }
            (key @ ("kind" | "max_concurrency" | "retries" | "name"), _) => {
                let (why, write) = match key {
                    "kind" => ("`kind` is the text \"io\" or \"cpu\"", "kind = \"io\""),
                    "max_concurrency" => (
                        "`max_concurrency` is a whole number from 1 to 10000",
                        "max_concurrency = 8",
                    ),
                    "retries" => ("`retries` is a whole number from 0 to 100", "retries = 3"),
                    _ => (
                        "`name` is the text the task is stored under",
                        name_example.as_str(),
                    ),
                };
                diag.error_at(&option, wrong_value(&option, why, write));
            }
            (other, _) => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(&option, format!("unknown #[bao::task] option `{other}`: expected name, kind, max_concurrency or retries{hint}"));
            }
        }
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            format!("task `{ident}` must be `async`: write `async fn {ident}(..)`"),
        );
    }
    if !sig.generics.params.is_empty() {
        diag.error_at(
            &sig.generics,
            "a task cannot be generic: it is enqueued by name",
        );
    }
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => {
                    arg_names.push(pi.ident.clone());
                    arg_types.push((*pt.ty).clone());
                }
                other => diag.error_at(other, "task arguments are plain names: `order_id: i64`"),
            },
            FnArg::Receiver(r) => diag.error_at(r, "a task takes no `self`"),
        }
    }
    let errors = diag.to_compile_errors();
    if diag.has_errors() {
        return quote!(#errors #func);
    }
    let vis = &func.vis;
    // Each argument's type is checked to be storable once, at the type,
    // where its codec is made; the code below only calls the codecs.
    let codec_calls = arg_types.iter().map(|ty| {
        quote_spanned! {ty.span()=> ::bao::workflow::codec::<#ty>() }
    });
    let max_attempts = retries + 1;
    let arity = arg_names.len();
    let locals: Vec<_> = (0..arity)
        .map(|i| format_ident!("__bao_arg{}", i))
        .collect();
    let codecs: Vec<_> = (0..arity)
        .map(|i| format_ident!("__bao_codec{}", i))
        .collect();
    quote! {
        #func

        #[doc = concat!("The `", #name, "` task: enqueue it, and its definition for `bao::app!`.")]
        #[allow(non_snake_case)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            /// The task's name (its queue).
            pub const NAME: &str = #name;

            /// How each argument is stored.
            fn __codecs() -> (#(::bao::workflow::Codec<#arg_types>,)*) {
                (#(#codec_calls,)*)
            }

            /// The definition `bao::app! { tasks: [..] }` registers.
            pub fn definition() -> ::bao::task::TaskDef {
                ::bao::task::TaskDef {
                    name: NAME,
                    kind: #kind,
                    max_attempts: #max_attempts,
                    max_concurrency: #max_concurrency,
                    run: |args| {
                        ::std::boxed::Box::pin(async move {
                            let (#(#codecs,)*) = __codecs();
                            let [#(#locals),*] = ::bao::task::arguments::<#arity>(args)?;
                            #(
                                let #locals = (#codecs.decode)(#locals).map_err(|e| {
                                    ::bao::Error::BadRequest(format!("the task's arguments do not decode: {e}"))
                                })?;
                            )*
                            super::#ident(#(#locals),*).await
                        })
                    },
                }
            }

            /// Enqueues the task: stored in the database, run by a worker.
            pub async fn enqueue(
                db: &::bao::db::DbPool,
                #(#arg_names: #arg_types),*
            ) -> ::core::result::Result<::bao::task::TaskHandle, ::bao::task::TaskError> {
                enqueue_with(db, ::bao::task::Enqueue::default(), #(#arg_names),*).await
            }

            /// Enqueues the task with a priority, a delay or a dedup key.
            pub async fn enqueue_with(
                db: &::bao::db::DbPool,
                options: ::bao::task::Enqueue,
                #(#arg_names: #arg_types),*
            ) -> ::core::result::Result<::bao::task::TaskHandle, ::bao::task::TaskError> {
                let (#(#codecs,)*) = __codecs();
                let args = ::bao::__private::serde_json::Value::Array(::std::vec![#(
                    (#codecs.encode)(&#arg_names)
                        .map_err(|e| ::bao::task::TaskError::Encode(e.to_string()))?
                ),*]);
                ::bao::task::enqueue(db, NAME, #max_attempts, &args, options).await
            }
        }
    }
}
