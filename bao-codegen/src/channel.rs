//! `#[bao::channel("orders")]` on `async fn may_watch(user: CurrentUser,
//! id: i64, db: Db) -> bao::Result<bool>`: who may listen to a channel
//! kind; and `#[bao::ws("echo")]` on `async fn echo(socket: Socket, id:
//! String, ..) -> bao::Result<()>`: a two-way socket. Each keeps the
//! function and adds a module of the same name with the kind and the
//! definition `bao::app! { channels: [..] }` registers.
//!
//! Arguments: the one named `id` is the channel id from the URL (any type
//! that parses from text; a bad one is 404); a `Socket` is the socket; the
//! others are request extractors (`CurrentUser`, `Db`, `Tenant`, ...), run
//! before the socket is upgraded, so a missing sign-in is a plain 401.

use crate::diag::Diagnostics;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, Pat, ReturnType, Type};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `#[bao::channel]`: decides who listens.
    Authorize,
    /// `#[bao::ws]`: a two-way socket.
    Socket,
}

impl Flavor {
    fn attr(self) -> &'static str {
        match self {
            Flavor::Authorize => "#[bao::channel]",
            Flavor::Socket => "#[bao::ws]",
        }
    }
}

/// Bao's own kinds, which an app cannot declare.
const BUILT_IN: &[&str] = &["workflow", "agent_stream"];

/// Expands `#[bao::channel("kind")]` or `#[bao::ws("kind")]`.
pub fn expand(flavor: Flavor, args: TokenStream, item: TokenStream) -> TokenStream {
    let usage = match flavor {
        Flavor::Authorize => "#[bao::channel(\"kind\")] goes on an `async fn name(user: CurrentUser, id: i64, ..) -> bao::Result<bool>`",
        Flavor::Socket => "#[bao::ws(\"kind\")] goes on an `async fn name(socket: bao::channels::Socket, id: String, ..) -> bao::Result<()>`",
    };
    let func = match crate::diag::parse_fn_item(item, usage) {
        Ok(f) => f,
        Err(errors) => return errors,
    };
    let mut diag = Diagnostics::new();
    let ident = func.sig.ident.clone();
    let attr = flavor.attr();
    let kind = match syn::parse2::<LitStr>(args.clone()) {
        Ok(lit) => {
            let kind = lit.value();
            if !valid_kind(&kind) {
                diag.error_at(
                    &lit,
                    format!("channel kind `{kind}`: use 1 to 100 of a-z, 0-9, `_`, `-`, `.` (it is part of the URL /_bao/channels/{{kind}}/{{id}})"),
                );
            } else if BUILT_IN.contains(&kind.as_str()) {
                diag.error_at(
                    &lit,
                    format!("`{kind}` is one of Bao's own channel kinds (workflow, agent_stream): give this one another name"),
                );
            }
            kind
        }
        Err(_) => {
            let example = match flavor {
                Flavor::Authorize => "#[bao::channel(\"orders\")]",
                Flavor::Socket => "#[bao::ws(\"echo\")]",
            };
            let message = format!(
                "{attr} takes the channel kind as a string: `{example}` (it is part of the URL /_bao/channels/{{kind}}/{{id}})"
            );
            if args.is_empty() {
                diag.error_at(quote!(#ident), message);
            } else {
                diag.error_at(args, message);
            }
            ident.to_string()
        }
    };
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            format!("`{ident}` must be `async`: write `async fn {ident}(..)`"),
        );
    }
    if !sig.generics.params.is_empty() {
        diag.error_at(
            &sig.generics,
            format!("a {attr} function cannot be generic"),
        );
    }
    check_return(flavor, &sig.output, &ident, &mut diag);
    let mut lets = Vec::new();
    let mut call_args = Vec::new();
    let mut has_socket = false;
    for (i, input) in sig.inputs.iter().enumerate() {
        let pt = match input {
            FnArg::Typed(pt) => pt,
            FnArg::Receiver(r) => {
                diag.error_at(r, format!("a {attr} function takes no `self`"));
                continue;
            }
        };
        let Pat::Ident(pi) = &*pt.pat else {
            diag.error_at(
                &pt.pat,
                "arguments are plain names: `id: i64`, `user: CurrentUser`",
            );
            continue;
        };
        let local = format_ident!("__bao_arg{}", i);
        let ty = &pt.ty;
        if is_socket(ty) {
            if flavor == Flavor::Authorize {
                diag.error_at(
                    ty,
                    "a `Socket` belongs to a two-way #[bao::ws(\"kind\")] function; #[bao::channel] only decides who may listen",
                );
            }
            has_socket = true;
            call_args.push(quote!(__bao_socket));
        } else if pi.ident == "id" {
            lets.push(quote_spanned! {ty.span()=>
                let #local: #ty = ::bao::channel::parse_id(&__bao_id)?;
            });
            call_args.push(quote!(#local));
        } else {
            lets.push(quote_spanned! {ty.span()=>
                let #local: #ty = ::bao::channel::extract::<#ty>(&__bao_req).await?;
            });
            call_args.push(quote!(#local));
        }
    }
    if flavor == Flavor::Socket && !has_socket {
        diag.error_at(
            &sig.ident,
            format!("`{ident}` has no socket to talk on: add an argument `socket: bao::channels::Socket`"),
        );
    }
    let errors = diag.to_compile_errors();
    let vis = &func.vis;
    let wrapper = format_ident!("__bao_channel_{}", ident);
    let doc = format!("The `{kind}` channel kind: its definition for `bao::app!`.");
    let skeleton = |definition: TokenStream| {
        quote! {
            #[doc = #doc]
            #[allow(non_snake_case)]
            #vis mod #ident {
                /// The channel kind, as in `/_bao/channels/{kind}/{id}`.
                pub const KIND: &str = #kind;

                /// The definition `bao::app! { channels: [..] }` registers.
                pub fn definition() -> ::bao::channel::ChannelDef {
                    #definition
                }
            }
        }
    };
    if diag.has_errors() {
        // The module still exists, so `bao::app!` and other uses of it add
        // no errors of their own; it refuses every listener.
        let module = skeleton(quote! {
            ::bao::channel::ChannelDef::authorized(
                KIND,
                ::std::sync::Arc::new(|_, _| ::std::boxed::Box::pin(async { Ok(false) })),
            )
        });
        return quote!(#errors #func #module);
    }
    let (body, definition) = match flavor {
        Flavor::Authorize => (
            quote! {
                ::std::boxed::Box::pin(async move {
                    #(#lets)*
                    #ident(#(#call_args),*)
                        .await
                        .map_err(::core::convert::Into::<::bao::__private::ActixError>::into)
                })
            },
            quote!(::bao::channel::ChannelDef::authorized(KIND, ::std::sync::Arc::new(super::#wrapper))),
        ),
        Flavor::Socket => (
            quote! {
                ::std::boxed::Box::pin(async move {
                    #(#lets)*
                    let run: ::bao::channel::SocketRun = ::std::boxed::Box::new(
                        move |__bao_socket: ::bao::channel::Socket| {
                            ::std::boxed::Box::pin(#ident(#(#call_args),*))
                                as ::bao::__private::LocalBoxFuture<'static, ::bao::Result<()>>
                        },
                    );
                    Ok(run)
                })
            },
            quote!(::bao::channel::ChannelDef::socket(KIND, ::std::sync::Arc::new(super::#wrapper))),
        ),
    };
    let output = match flavor {
        Flavor::Authorize => quote!(::bao::channel::AuthorizeResult),
        Flavor::Socket => {
            quote!(::core::result::Result<::bao::channel::SocketRun, ::bao::__private::ActixError>)
        }
    };
    let module = skeleton(definition);
    quote! {
        #func

        #[doc(hidden)]
        #[allow(non_snake_case, unused_variables)]
        fn #wrapper(
            __bao_req: ::bao::__private::HttpRequest,
            __bao_id: ::std::string::String,
        ) -> ::bao::__private::LocalBoxFuture<'static, #output> {
            #body
        }

        #module
    }
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 100
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
}

fn is_socket(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Socket"),
        _ => false,
    }
}

/// `bao::Result<bool>` for an authorize function, `bao::Result<()>` for a
/// socket: checked by shape, so a plain `bool` gets this message rather
/// than a trait error.
fn check_return(flavor: Flavor, output: &ReturnType, ident: &syn::Ident, diag: &mut Diagnostics) {
    let (want, example) = match flavor {
        Flavor::Authorize => ("bool", "bao::Result<bool>` (true lets the request listen"),
        Flavor::Socket => (
            "()",
            "bao::Result<()>` (Ok when the conversation ended well",
        ),
    };
    let ok = match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| {
                s.ident == "Result"
                    && match &s.arguments {
                        syn::PathArguments::AngleBracketed(a) => match a.args.first() {
                            Some(syn::GenericArgument::Type(t)) => {
                                quote!(#t).to_string().replace(' ', "") == want
                            }
                            _ => false,
                        },
                        _ => false,
                    }
            }),
            _ => false,
        },
        ReturnType::Default => false,
    };
    if !ok {
        let at: TokenStream = match output {
            ReturnType::Type(_, ty) => quote!(#ty),
            ReturnType::Default => quote!(#ident),
        };
        diag.error_at(at, format!("`{ident}` must return `{example})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorize_function_gets_a_module_and_a_wrapper() {
        let out = expand(
            Flavor::Authorize,
            quote!("orders"),
            quote!(
                async fn may_watch(user: CurrentUser, id: i64) -> bao::Result<bool> {
                    Ok(true)
                }
            ),
        )
        .to_string();
        assert!(out.contains("mod may_watch"), "{out}");
        assert!(out.contains("parse_id"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn a_built_in_kind_and_a_bad_return_are_explained() {
        let out = expand(
            Flavor::Authorize,
            quote!("workflow"),
            quote!(
                async fn w(id: String) -> bool {
                    true
                }
            ),
        )
        .to_string();
        assert!(out.contains("one of Bao's own"), "{out}");
        assert!(out.contains("must return"), "{out}");
        assert!(out.contains("mod w"), "the skeleton is still there: {out}");
    }
}
