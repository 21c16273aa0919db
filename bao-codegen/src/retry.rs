//! `#[retry(attempts = 3, backoff = "500ms", max_backoff = "30s",
//! jitter = true, when = is_transient)]` on an `async fn` that returns a
//! `Result`: the body becomes an inner function called through
//! `bao::fault::Retry`.

use crate::diag::{closest, literal_options, Diagnostics};
use crate::schedule::parse_duration_ms;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Lit, Pat, ReturnType};

const OPTIONS: &[&str] = &["attempts", "backoff", "max_backoff", "jitter", "when"];

/// Expands `#[retry(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match crate::diag::parse_fn_item(
        item,
        "#[bao::retry] goes on an `async fn` that returns a `Result`",
    ) {
        Ok(f) => f,
        Err(errors) => return errors,
    };
    let mut diag = Diagnostics::new();
    let ident = &func.sig.ident;
    let mut attempts: u32 = 3;
    let mut backoff_ms: u64 = 200;
    let mut max_ms: u64 = 60_000;
    let mut jitter = true;
    let mut when: Option<Expr> = None;
    for option in literal_options(args, &mut diag) {
        match (option.key.as_deref(), &option.value) {
            (Some("attempts"), Some(Lit::Int(i))) => match i.base10_parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => attempts = n,
                Ok(0) => diag.error_at(
                    i,
                    "`attempts = 0` would never call the function: attempts count the first call too, so write at least `attempts = 1` (1 means no retry)",
                ),
                _ => diag.error_at(
                    i,
                    crate::diag::wrong_value(
                        &option.tokens,
                        "`attempts` counts the calls, the first one included, 1 to 100",
                        "attempts = 3",
                    ),
                ),
            },
            (Some(key @ ("backoff" | "max_backoff")), Some(Lit::Str(s))) => {
                match parse_duration_ms(&s.value()) {
                    Ok(ms) if key == "backoff" => backoff_ms = ms,
                    Ok(ms) => max_ms = ms,
                    Err(why) => diag.error_at(
                        s,
                        crate::diag::wrong_value(
                            &option.tokens,
                            &why,
                            &format!("{key} = \"500ms\""),
                        ),
                    ),
                }
            }
            (Some("jitter"), Some(Lit::Bool(b))) => jitter = b.value,
            (Some("when"), _) => match syn::parse2::<syn::MetaNameValue>(option.tokens.clone()) {
                Ok(nv) => when = Some(nv.value),
                Err(_) => diag.error_at(
                    &option.tokens,
                    "write `when = is_retryable`, naming a `fn(&E) -> bool` that says which errors are worth retrying",
                ),
            },
            (Some(key @ ("attempts" | "backoff" | "max_backoff" | "jitter")), _) => {
                let (why, write) = match key {
                    "attempts" => ("`attempts` is a whole number from 1 to 100", "attempts = 3"),
                    "backoff" => ("`backoff` is a duration in text", "backoff = \"500ms\""),
                    "max_backoff" => ("`max_backoff` is a duration in text", "max_backoff = \"30s\""),
                    _ => ("`jitter` is true or false", "jitter = false"),
                };
                diag.error_at(
                    &option.tokens,
                    crate::diag::wrong_value(&option.tokens, why, write),
                );
            }
            (Some(other), _) => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    &option.tokens,
                    format!("unknown #[bao::retry] option `{other}`: expected attempts, backoff, max_backoff, jitter or when{hint}"),
                );
            }
            (None, _) => diag.error_at(
                &option.tokens,
                "#[bao::retry] takes named options: attempts = 3, backoff = \"500ms\"",
            ),
        }
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            format!("#[bao::retry] needs an async function: write `async fn {ident}(..)`"),
        );
    }
    if matches!(sig.output, ReturnType::Default) {
        diag.error_at(
            ident,
            format!("`{ident}` returns nothing, so it cannot fail: #[bao::retry] needs a function returning a `Result`"),
        );
    }
    let mut names = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    names.push(pi.ident.clone())
                }
                other => diag.error_at(
                    other,
                    "#[bao::retry] needs plain argument names (`id: i64`): each attempt gets a clone of the arguments",
                ),
            },
            FnArg::Receiver(r) => diag.error_at(
                r,
                "#[bao::retry] goes on free functions; in a method, call `bao::fault::Retry::exponential(3, backoff).run(|| ..)`",
            ),
        }
    }
    let errors = diag.to_compile_errors();
    if diag.has_errors() {
        return quote!(#errors #func);
    }
    let attrs = &func.attrs;
    let vis = &func.vis;
    let block = &func.block;
    let inner = format_ident!("__bao_attempt_{}", ident);
    let mut inner_sig = sig.clone();
    inner_sig.ident = inner.clone();
    // Arguments bound `mut` by the user stay `mut` in the inner function
    // only.
    let mut outer_sig = sig.clone();
    for input in outer_sig.inputs.iter_mut() {
        if let FnArg::Typed(pt) = input {
            if let Pat::Ident(pi) = &mut *pt.pat {
                pi.mutability = None;
            }
        }
    }
    let output_ty = match &sig.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    let fallible = quote_spanned! {sig.output.span()=>
        let _ = ::bao::fault::assert_fallible::<#output_ty>;
    };
    let predicate = match &when {
        Some(expr) => quote_spanned! {expr.span()=> #expr },
        None => quote!(|_| true),
    };
    let label = ident.to_string();
    let clones = names
        .iter()
        .map(|n| quote_spanned! {n.span()=> ::core::clone::Clone::clone(&#n) });
    quote! {
        #(#attrs)*
        #vis #outer_sig {
            #fallible
            #[allow(clippy::too_many_arguments)]
            #inner_sig #block
            ::bao::fault::Retry::exponential(#attempts, ::core::time::Duration::from_millis(#backoff_ms))
                .max_delay(::core::time::Duration::from_millis(#max_ms))
                .jitter(#jitter)
                .run_if(#label, #predicate, || #inner(#(#clones),*))
                .await
        }
    }
}
