//! `#[view("home/index.html")]` on a struct: an askama template whose context is
//! the struct, found in the app's `views/` folder.

use crate::diag::Diagnostics;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{ItemStruct, LitStr};

/// What the macro found in the crate being compiled.
#[derive(Debug, Clone, Copy, Default)]
pub struct CrateLayout {
    /// The crate has a `views/` folder.
    pub has_views_dir: bool,
    /// The crate has an `askama.toml`.
    pub has_askama_config: bool,
}

/// Expands `#[view(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream, layout: CrateLayout) -> TokenStream {
    let mut diag = Diagnostics::new();
    if layout.has_views_dir && !layout.has_askama_config {
        diag.error_span(
            Span::call_site(),
            "this crate has a `views/` folder but no `askama.toml` telling the template engine to look there: \
             add `askama.toml` beside Cargo.toml with `[general]` and `dirs = [\"views\"]`",
        );
    }
    let path = match syn::parse2::<LitStr>(args.clone()) {
        Ok(lit) if lit.value().trim().is_empty() => {
            diag.error_at(&lit, "the view path is empty: write the template's path under `views/`, like #[bao::view(\"posts/index.html\")]");
            None
        }
        Ok(lit) if lit.value().starts_with('/') => {
            diag.error_at(
                &lit,
                format!(
                    "view paths are relative to `views/`: write \"{}\"",
                    lit.value().trim_start_matches('/')
                ),
            );
            None
        }
        Ok(lit) => Some(lit),
        Err(_) => {
            let at = if args.is_empty() { quote!() } else { args };
            if at.is_empty() {
                diag.error_span(Span::call_site(), "#[bao::view] needs the template's path under `views/`: write #[bao::view(\"home/index.html\")]");
            } else {
                diag.error_at(at, "expected the template's path as a string, like #[bao::view(\"home/index.html\")]");
            }
            None
        }
    };
    let strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            diag.error_span(
                Span::call_site(),
                "#[bao::view] goes on a struct whose fields are the template's variables",
            );
            let errors = diag.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    match path {
        Some(path) if !diag.has_errors() => expand_page(&strukt, &path),
        _ => {
            let errors = diag.to_compile_errors();
            quote!(#errors #strukt)
        }
    }
}

/// The user's struct stays as written. A wrapper of the same name, in a
/// `const _` block, derefs to it and adds the page context (`csrf_token`,
/// `csrf_field`, `flash`, `current_user`); askama renders the wrapper. Field access in the
/// template goes through `Deref`, so an unknown variable is reported as a
/// missing field, with the user's fields listed as the available ones.
fn expand_page(strukt: &ItemStruct, path: &LitStr) -> TokenStream {
    let ident = &strukt.ident;
    let alias = quote::format_ident!("__bao_view_{}", ident);
    let (impl_g, ty_g, where_c) = strukt.generics.split_for_impl();
    // The alias names the user's type inside the block, where the wrapper
    // shadows it; type aliases take their parameters without bounds.
    let mut alias_generics = strukt.generics.clone();
    alias_generics.where_clause = None;
    for param in &mut alias_generics.params {
        match param {
            syn::GenericParam::Type(t) => {
                t.bounds.clear();
                t.colon_token = None;
                t.default = None;
            }
            syn::GenericParam::Lifetime(l) => {
                l.bounds.clear();
                l.colon_token = None;
            }
            syn::GenericParam::Const(c) => c.default = None,
        }
    }
    let mut wrapper_generics = strukt.generics.clone();
    wrapper_generics.params.insert(0, syn::parse_quote!('__bao));
    wrapper_generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(#alias #ty_g: '__bao));
    let (w_impl, w_ty, w_where) = wrapper_generics.split_for_impl();
    quote! {
        #strukt

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        type #alias #alias_generics = #ident #ty_g;

        const _: () = {
            #[derive(::bao::__private::askama::Template)]
            #[template(path = #path, askama = ::bao::__private::askama)]
            struct #ident #w_impl #w_where {
                csrf_token: &'__bao str,
                csrf_field: ::bao::view::CsrfField<'__bao>,
                flash: &'__bao [::bao::auth::FlashMessage],
                current_user: ::core::option::Option<&'__bao ::bao::auth::CurrentUser>,
                __bao_page: &'__bao #alias #ty_g,
            }

            impl #w_impl #ident #w_ty #w_where {
                /// `{{ channel("orders", order.id) }}`: a channel's SSE URL.
                #[allow(dead_code)]
                fn channel(
                    &self,
                    kind: &str,
                    id: impl ::std::fmt::Display,
                ) -> ::std::string::String {
                    ::bao::channel::url(kind, id)
                }
            }

            impl #w_impl ::core::ops::Deref for #ident #w_ty #w_where {
                type Target = #alias #ty_g;
                fn deref(&self) -> &Self::Target {
                    self.__bao_page
                }
            }

            #[automatically_derived]
            impl #impl_g ::bao::view::Page for #alias #ty_g #where_c {
                fn render_page(
                    &self,
                    ctx: &::bao::view::PageContext,
                ) -> ::bao::__private::askama::Result<::std::string::String> {
                    ::bao::__private::askama::Template::render(&#ident {
                        csrf_token: &ctx.csrf_token,
                        csrf_field: ::bao::view::CsrfField(&ctx.csrf_token),
                        flash: &ctx.flash,
                        current_user: ctx.current_user.as_ref(),
                        __bao_page: self,
                    })
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_template() {
        let out = expand(
            quote!("home/index.html"),
            quote!(
                pub struct Home {
                    pub title: String,
                }
            ),
            CrateLayout::default(),
        )
        .to_string();
        assert!(out.contains("askama :: Template"), "{out}");
        assert!(out.contains("path = \"home/index.html\""), "{out}");
    }

    #[test]
    fn rejects_absolute_paths() {
        let out = expand(
            quote!("/home/index.html"),
            quote!(
                pub struct Home;
            ),
            CrateLayout::default(),
        )
        .to_string();
        assert!(out.contains("relative to `views/`"), "{out}");
    }

    #[test]
    fn a_views_folder_without_askama_config_is_explained() {
        let layout = CrateLayout {
            has_views_dir: true,
            has_askama_config: false,
        };
        let out = expand(
            quote!("home/index.html"),
            quote!(
                pub struct Home;
            ),
            layout,
        )
        .to_string();
        assert!(out.contains("no `askama.toml`"), "{out}");
    }
}
