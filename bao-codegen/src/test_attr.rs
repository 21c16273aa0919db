//! `#[bao::test]`: an async test run on the same runtime as the server.

use crate::diag::Diagnostics;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

/// Expands `#[test] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::new();
    if !args.is_empty() {
        diag.error_at(args, "#[bao::test] takes no arguments");
    }
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            diag.error_span(Span::call_site(), "#[bao::test] goes on an `async fn`");
            let errors = diag.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    if func.sig.asyncness.is_none() {
        diag.error_at(
            func.sig.fn_token,
            "#[bao::test] runs an async test: write `async fn`, or use #[test] for a plain one",
        );
    }
    if !func.sig.inputs.is_empty() {
        diag.error_at(&func.sig.inputs, "a test takes no arguments");
    }
    let errors = diag.to_compile_errors();
    if diag.has_errors() {
        return quote!(#errors #[test] #[allow(unused)] fn __bao_invalid_test() {} );
    }
    func.sig.asyncness = None;
    let body = &func.block;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis #sig {
            ::bao::__private::block_on(async move #body)
        }
    }
}
