//! `#[workflow(name = "onboard", retries = 3, version = 1)]` on
//! `async fn onboard(ctx: WorkflowCtx, input: Signup) -> bao::Result<Welcome>`:
//! keeps the function and adds a module of the same name with its
//! definition, `start` and `start_with_id`.

use crate::diag::{closest, Diagnostics};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Lit, ReturnType, Type};

const OPTIONS: &[&str] = &["name", "retries", "version"];

/// Expands `#[workflow(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match crate::diag::parse_fn_item(item, "#[bao::workflow] goes on an `async fn name(ctx: WorkflowCtx, input: Input) -> bao::Result<Output>`") {
        Ok(f) => f,
        Err(errors) => return errors,
    };
    let mut diag = Diagnostics::new();
    let ident = &func.sig.ident;
    let mut name = ident.to_string();
    let name_example = format!("name = \"{ident}\"");
    let mut retries: i64 = 0;
    let mut version: i64 = 1;
    for crate::diag::AttrOption {
        key,
        value,
        meta: option,
    } in crate::diag::attr_options(args, &mut diag)
    {
        match (key.as_str(), value) {
            ("name", Some(Lit::Str(s))) => {
                name =
                    crate::diag::stored_name(&mut diag, &option, &s, "a workflow", &name_example);
            }
            ("retries", Some(Lit::Int(i))) => {
                retries = crate::diag::int_in(
                    &mut diag,
                    &option,
                    &i,
                    0..=100,
                    "`retries` is how many times a failed run starts again, 0 to 100",
                    "retries = 3",
                )
                .unwrap_or(retries);
            }
            ("version", Some(Lit::Int(i))) => {
                version = crate::diag::int_in(
                    &mut diag,
                    &option,
                    &i,
                    1..=i64::from(i32::MAX),
                    "`version` is a whole number from 1, raised when the steps change",
                    "version = 2",
                )
                .unwrap_or(version);
            }
            (key @ ("name" | "retries" | "version"), _) => {
                let (why, write) = match key {
                    "name" => (
                        "`name` is the text runs are stored under",
                        name_example.as_str(),
                    ),
                    "retries" => ("`retries` is a whole number from 0 to 100", "retries = 3"),
                    _ => ("`version` is a whole number from 1", "version = 2"),
                };
                diag.error_at(&option, crate::diag::wrong_value(&option, why, write));
            }
            (other, _) => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(&option, format!("unknown #[bao::workflow] option `{other}`: expected name, retries or version{hint}"));
            }
        }
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            format!("workflow `{ident}` must be `async`: write `async fn {ident}(..)`"),
        );
    }
    if !sig.generics.params.is_empty() {
        diag.error_at(
            &sig.generics,
            "a workflow cannot be generic: its runs are stored by name",
        );
    }
    let inputs: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let is_ctx = |ty: &Type| matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "WorkflowCtx"));
    let input_ty = match inputs.as_slice() {
        [ctx, input] if is_ctx(&ctx.ty) => Some((*input.ty).clone()),
        [first, ..] if !is_ctx(&first.ty) => {
            diag.error_at(&first.ty, format!("the first argument of workflow `{ident}` is its context: write `ctx: WorkflowCtx`"));
            None
        }
        _ => {
            diag.error_at(
                &sig.inputs,
                format!("workflow `{ident}` takes its context and one input: `async fn {ident}(ctx: WorkflowCtx, input: Input)`"),
            );
            None
        }
    };
    let output_ty = match &sig.output {
        ReturnType::Type(_, ty) => result_ok_type(ty),
        ReturnType::Default => None,
    };
    if output_ty.is_none() {
        diag.error_at(
            &sig.ident,
            format!(
                "workflow `{ident}` returns `bao::Result<Output>` (use `bao::Result<()>` for none)"
            ),
        );
    }
    let errors = diag.to_compile_errors();
    let (Some(input_ty), Some(output_ty)) = (input_ty, output_ty) else {
        return quote!(#errors #func);
    };
    if diag.has_errors() {
        return quote!(#errors #func);
    }
    let vis = &func.vis;
    let version = i32::try_from(version).unwrap_or(1);
    let retries = u32::try_from(retries).unwrap_or(0);
    // The input and output types are checked to be storable once, at the
    // type, where their codecs are made; the code below only calls them.
    let input_codec = quote_spanned! {input_ty.span()=> ::bao::workflow::codec::<#input_ty>() };
    let output_codec = quote_spanned! {output_ty.span()=> ::bao::workflow::codec::<#output_ty>() };
    quote! {
        #func

        #[doc = concat!("Runs of the `", #name, "` workflow: start them, and its definition for `bao::app!`.")]
        #[allow(non_snake_case)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            /// The workflow's name.
            pub const NAME: &str = #name;
            /// The workflow's version.
            pub const VERSION: i32 = #version;

            /// How the input and the output are stored.
            fn __codecs() -> (::bao::workflow::Codec<#input_ty>, ::bao::workflow::Codec<#output_ty>) {
                (#input_codec, #output_codec)
            }

            /// The definition `bao::app! { workflows: [..] }` registers.
            pub fn definition() -> ::bao::workflow::WorkflowDef {
                ::bao::workflow::WorkflowDef {
                    name: NAME,
                    version: VERSION,
                    retries: #retries,
                    run: |ctx, input| {
                        ::std::boxed::Box::pin(async move {
                            let (input_codec, output_codec) = __codecs();
                            let input: #input_ty = (input_codec.decode)(input)
                                .map_err(|e| ::bao::Error::Workflow(::bao::workflow::WorkflowError::Encode(e.to_string())))?;
                            let output: #output_ty = super::#ident(ctx, input).await?;
                            (output_codec.encode)(&output)
                                .map_err(|e| ::bao::Error::Workflow(::bao::workflow::WorkflowError::Encode(e.to_string())))
                        })
                    },
                }
            }

            /// Starts a run with a new id.
            pub async fn start(db: &::bao::db::DbPool, input: #input_ty) -> ::bao::Result<::bao::workflow::RunHandle> {
                start_run(db, input, ::core::option::Option::None).await
            }

            /// Starts a run with this id, or returns the run that has it
            /// (an idempotency key).
            pub async fn start_with_id(
                db: &::bao::db::DbPool,
                id: &str,
                input: #input_ty,
            ) -> ::bao::Result<::bao::workflow::RunHandle> {
                start_run(db, input, ::core::option::Option::Some(id)).await
            }

            async fn start_run(
                db: &::bao::db::DbPool,
                input: #input_ty,
                id: ::core::option::Option<&str>,
            ) -> ::bao::Result<::bao::workflow::RunHandle> {
                let input = (__codecs().0.encode)(&input)
                    .map_err(|e| ::bao::Error::BadRequest(e.to_string()))?;
                ::bao::workflow::start(db, NAME, VERSION, &input, id).await
            }
        }
    }
}

/// `T` of `bao::Result<T>` / `Result<T, E>`.
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => match a.args.first()? {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_signature_and_options() {
        let out = expand(
            quote!(retries = 0, versoin = 2),
            quote!(
                fn onboard(input: Signup) -> bao::Result<Welcome> {
                    todo!()
                }
            ),
        )
        .to_string();
        assert!(out.contains("must be `async`"), "{out}");
        assert!(out.contains("did you mean `version`"), "{out}");
        assert!(out.contains("ctx: WorkflowCtx"), "{out}");
        let ok = expand(
            quote!(name = "onboard", retries = 3),
            quote!(
                async fn onboard(ctx: WorkflowCtx, input: Signup) -> bao::Result<Welcome> {
                    todo!()
                }
            ),
        )
        .to_string();
        assert!(ok.contains("pub const NAME"), "{ok}");
        assert!(expand(
            quote!(retries = 1000),
            quote!(
                async fn w(ctx: WorkflowCtx, i: u8) -> bao::Result<()> {
                    todo!()
                }
            )
        )
        .to_string()
        .contains("0 to 100"));
    }
}
