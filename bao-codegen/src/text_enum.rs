//! `#[derive(TextEnum)]`: a Rust enum stored as text (snake-case variant
//! names), with serde, `Display` and `FromStr` in the same words.

use crate::diag::Diagnostics;
use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

/// Expands `#[derive(TextEnum)]`.
pub fn expand(input: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::new();
    let input: DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        diag.error_at(name, "#[derive(bao::TextEnum)] goes on an enum of unit variants, like `enum Status { Open, Closed }`");
        return diag.to_compile_errors();
    };
    if data.variants.is_empty() {
        diag.error_at(name, "a text enum needs at least one variant");
    }
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            diag.error_at(
                &v.ident,
                format!(
                    "variant `{}` carries data: a text enum stores unit variants only",
                    v.ident
                ),
            );
        }
    }
    if diag.has_errors() {
        return diag.to_compile_errors();
    }
    let variants: Vec<&syn::Ident> = data.variants.iter().map(|v| &v.ident).collect();
    let texts: Vec<String> = variants
        .iter()
        .map(|v| v.to_string().to_snake_case())
        .collect();
    let first = variants[0];
    let allowed = texts.join(", ");
    let s = quote!(::bao::__private::serde);
    let d = quote!(::bao::__private::diesel);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::bao::db::TextEnum for #name {
                const VALUES: &'static [&'static str] = &[#(#texts),*];
                fn as_text(&self) -> &'static str {
                    match self { #(#name::#variants => #texts,)* }
                }
                fn from_text(text: &str) -> ::core::option::Option<Self> {
                    match text { #(#texts => ::core::option::Option::Some(#name::#variants),)* _ => ::core::option::Option::None }
                }
            }

            #[automatically_derived]
            impl ::bao::db::Storable for #name {
                type Stored = ::std::string::String;
                fn store(self) -> ::std::string::String {
                    ::std::string::ToString::to_string(<Self as ::bao::db::TextEnum>::as_text(&self))
                }
                fn load(stored: ::std::string::String) -> ::core::result::Result<Self, ::std::string::String> {
                    <Self as ::bao::db::TextEnum>::from_text(&stored)
                        .ok_or_else(|| ::std::format!("`{}` is not one of {}", stored, #allowed))
                }
            }

            // Usable in diesel filters as its text: `post::status.eq(Status::Open)`.
            #[automatically_derived]
            impl #d::expression::AsExpression<#d::sql_types::Text> for #name {
                type Expression = <::std::string::String as #d::expression::AsExpression<#d::sql_types::Text>>::Expression;
                fn as_expression(self) -> Self::Expression {
                    <::std::string::String as #d::expression::AsExpression<#d::sql_types::Text>>::as_expression(
                        ::std::string::ToString::to_string(<Self as ::bao::db::TextEnum>::as_text(&self)),
                    )
                }
            }

            #[automatically_derived]
            impl<'__bao> #d::expression::AsExpression<#d::sql_types::Text> for &'__bao #name {
                type Expression = <::std::string::String as #d::expression::AsExpression<#d::sql_types::Text>>::Expression;
                fn as_expression(self) -> Self::Expression {
                    <::std::string::String as #d::expression::AsExpression<#d::sql_types::Text>>::as_expression(
                        ::std::string::ToString::to_string(<#name as ::bao::db::TextEnum>::as_text(self)),
                    )
                }
            }

            #[automatically_derived]
            impl #d::expression::AsExpression<#d::sql_types::Nullable<#d::sql_types::Text>> for #name {
                type Expression = <::std::string::String as #d::expression::AsExpression<#d::sql_types::Nullable<#d::sql_types::Text>>>::Expression;
                fn as_expression(self) -> Self::Expression {
                    <::std::string::String as #d::expression::AsExpression<#d::sql_types::Nullable<#d::sql_types::Text>>>::as_expression(
                        ::std::string::ToString::to_string(<Self as ::bao::db::TextEnum>::as_text(&self)),
                    )
                }
            }

            #[automatically_derived]
            impl ::core::default::Default for #name {
                fn default() -> Self {
                    #name::#first
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #name {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(<Self as ::bao::db::TextEnum>::as_text(self))
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #name {
                type Err = ::std::string::String;
                fn from_str(text: &str) -> ::core::result::Result<Self, Self::Err> {
                    <Self as ::bao::db::TextEnum>::from_text(text)
                        .ok_or_else(|| ::std::format!("`{}` is not one of {}", text, #allowed))
                }
            }

            #[automatically_derived]
            impl #s::Serialize for #name {
                fn serialize<__S: #s::Serializer>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    serializer.serialize_str(<Self as ::bao::db::TextEnum>::as_text(self))
                }
            }

            #[automatically_derived]
            impl<'de> #s::Deserialize<'de> for #name {
                fn deserialize<__D: #s::Deserializer<'de>>(deserializer: __D) -> ::core::result::Result<Self, __D::Error> {
                    let text = <::std::string::String as #s::Deserialize>::deserialize(deserializer)?;
                    <Self as ::bao::db::TextEnum>::from_text(&text).ok_or_else(|| {
                        <__D::Error as #s::de::Error>::custom(::std::format!("`{}` is not one of {}", text, #allowed))
                    })
                }
            }
        };
    }
}
