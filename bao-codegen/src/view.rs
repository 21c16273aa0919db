//! `#[view("home/index.html")]` on a struct: an askama template whose context is
//! the struct, found in the app's `views/` folder.

use crate::diag::Diagnostics;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::{ItemStruct, LitStr};

/// What the macro found in the crate being compiled.
#[derive(Debug, Clone, Default)]
pub struct CrateLayout {
    /// The crate has a `views/` folder.
    pub has_views_dir: bool,
    /// The crate has an `askama.toml`.
    pub has_askama_config: bool,
    /// The folders templates are looked up in (`views/`, `templates/`):
    /// the template is read from there to check the variables it reads.
    pub template_dirs: Vec<std::path::PathBuf>,
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
        Some(path) if !diag.has_errors() => match unknown_variables(&strukt, &path, &layout) {
            Some(errors) => {
                let page = unrendered_page(&strukt);
                quote!(#errors #strukt #page)
            }
            None => expand_page(&strukt, &path),
        },
        _ => {
            let errors = diag.to_compile_errors();
            quote!(#errors #strukt)
        }
    }
}

/// What every page has besides its struct's fields.
const PAGE_CONTEXT: [&str; 4] = ["csrf_token", "csrf_field", "flash", "current_user"];

/// Errors for the variables the template reads that are not fields of the
/// struct (nor bound in the template, nor the page context), at the
/// template's path; `None` when there are none or the template could not be
/// checked (askama reports what is wrong then).
fn unknown_variables(
    strukt: &ItemStruct,
    path: &LitStr,
    layout: &CrateLayout,
) -> Option<TokenStream> {
    let file = layout
        .template_dirs
        .iter()
        .map(|d| d.join(path.value()))
        .find(|p| p.is_file())?;
    let fields: Vec<String> = strukt
        .fields
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .map(|i| i.unraw().to_string())
        .collect();
    let mut known = fields.clone();
    known.extend(PAGE_CONTEXT.iter().map(|s| s.to_string()));
    let unknown = crate::template_vars::unknown_reads(&file, &layout.template_dirs, &known)?;
    if unknown.is_empty() {
        return None;
    }
    let ident = &strukt.ident;
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let listed = if fields.is_empty() {
        format!("`{ident}` has no fields")
    } else {
        format!("its fields: {}", fields.join(", "))
    };
    let mut diag = Diagnostics::new();
    for read in unknown {
        let fix = match crate::diag::closest(&read.name, &field_refs) {
            Some(field) => {
                format!("did you mean `{field}`? Otherwise add the field or fix the template")
            }
            None => format!("add the field to `{ident}` or fix the template"),
        };
        diag.error_at(
            path,
            format!(
                "`{}` line {} reads `{}`, which is not a field of `{ident}` ({listed}; every \
                 page also has {}): {fix}",
                path.value(),
                read.line,
                read.name,
                PAGE_CONTEXT.join(", ")
            ),
        );
    }
    Some(diag.to_compile_errors())
}

/// `Page` for a struct whose template has a mistake: the build fails on
/// the mistake alone, and the handlers that render the page still compile.
fn unrendered_page(strukt: &ItemStruct) -> TokenStream {
    let ident = &strukt.ident;
    let (impl_g, ty_g, where_c) = strukt.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_g ::bao::view::Page for #ident #ty_g #where_c {
            fn render_page(
                &self,
                _: &::bao::view::PageContext,
            ) -> ::bao::__private::askama::Result<::std::string::String> {
                ::core::unreachable!("the template has a mistake, so this does not build")
            }
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
            template_dirs: Vec::new(),
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

    #[test]
    fn a_variable_that_is_not_a_field_is_named_with_its_line() {
        let dir = std::env::temp_dir().join(format!("bao-view-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("posts")).unwrap();
        std::fs::write(
            dir.join("layout.html"),
            "{% let site = \"Bao\" %}<title>{% block title %}{% endblock %}</title>",
        )
        .unwrap();
        std::fs::write(
            dir.join("posts/show.html"),
            "{% extends \"layout.html\" %}\n{% block title %}{{ site }}{% endblock %}\n\
             {% for c in comments %}{{ c.body }} {{ loop.index }}{% endfor %}\n\
             {% if let Some(n) = note %}{{ n }}{% endif %}{{ csrf_field }}\n\
             <h1>{{ titel|upper }}</h1>{{ post.title.len() }}{{ format_date(day) }}",
        )
        .unwrap();
        let layout = CrateLayout {
            has_views_dir: true,
            has_askama_config: true,
            template_dirs: vec![dir.clone()],
        };
        let out = expand(
            quote!("posts/show.html"),
            quote!(
                pub struct Show {
                    pub title: String,
                    pub comments: Vec<Comment>,
                    pub note: Option<String>,
                    pub post: Post,
                }
            ),
            layout.clone(),
        )
        .to_string();
        assert!(
            out.contains("`posts/show.html` line 5 reads `titel`, which is not a field of `Show` (its fields: title, comments, note, post; every page also has csrf_token, csrf_field, flash, current_user): did you mean `title`?"),
            "{out}"
        );
        assert!(out.contains("reads `day`"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(!out.contains("askama :: Template"), "{out}");
        assert!(out.contains("unreachable"), "{out}");
        // The same template with those fields is derived as usual.
        let out = expand(
            quote!("posts/show.html"),
            quote!(
                pub struct Show {
                    pub titel: String,
                    pub day: String,
                    pub comments: Vec<Comment>,
                    pub note: Option<String>,
                    pub post: Post,
                }
            ),
            layout,
        )
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("askama :: Template"), "{out}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
