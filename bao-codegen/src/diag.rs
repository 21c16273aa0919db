//! Error collection: every check reports what it finds, and the caller gets all
//! the errors at once, each at the user's token.

use proc_macro2::TokenStream;
use std::fmt::Display;

/// Collects `syn::Error`s so a macro reports every mistake in one build.
#[derive(Default)]
pub struct Diagnostics {
    errors: Option<syn::Error>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error at the span of `tokens`.
    pub fn error_at<T: quote::ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub fn error_span<M: Display>(&mut self, span: proc_macro2::Span, message: M) {
        self.push(syn::Error::new(span, message));
    }

    pub fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(existing) => existing.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.errors.is_some()
    }

    /// `Ok(())` when nothing was reported, otherwise every error combined.
    pub fn finish(self) -> syn::Result<()> {
        match self.errors {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The `compile_error!` invocations for everything reported so far.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.errors
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}

/// A `const` spanned at `span` that fails the build with the message
/// `call` returns (an `Option<bao::__private::Message>`): the error points
/// at the user's token and shows no framework code.
pub fn failing_const(span: proc_macro2::Span, call: TokenStream) -> TokenStream {
    quote::quote_spanned! {span=>
        const _: () = if let ::core::option::Option::Some(message) = #call {
            ::core::panic!("{}", message.as_str())
        };
    }
}

/// A type as a user writes it: `Vec<String>`, not `Vec < String >`.
pub fn type_text<T: quote::ToTokens>(ty: &T) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// The closest candidate to `input` by edit distance, for "did you mean" hints.
pub fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&input, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(input.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edits (insert, delete, substitute, or swap two neighbours: `titel` is
/// one edit from `title`) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back, one back, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

/// Parses the item under a function attribute; anything else is an error
/// (`usage` says what the attribute goes on) returned with the item as it
/// was, so the rest of the crate still sees it.
pub fn parse_fn_item(item: TokenStream, usage: &str) -> Result<syn::ItemFn, TokenStream> {
    syn::parse2(item.clone()).map_err(|_| {
        let error = syn::Error::new(proc_macro2::Span::call_site(), usage).to_compile_error();
        quote::quote!(#error #item)
    })
}

/// One option of an attribute: `"30s"` (no key), `retries = 3`, or a bare
/// `flag`.
pub struct LitOption {
    /// The key, when it has one.
    pub key: Option<String>,
    /// The literal value, when it has one.
    pub value: Option<syn::Lit>,
    /// The whole option, to point errors at.
    pub tokens: proc_macro2::TokenStream,
}

impl syn::parse::Parse for LitOption {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        if input.peek(syn::Lit) {
            let lit: syn::Lit = input.parse()?;
            return Ok(LitOption {
                key: None,
                tokens: quote::quote!(#lit),
                value: Some(lit),
            });
        }
        let meta: syn::Meta = input.parse()?;
        let key = meta.path().get_ident().map(ToString::to_string);
        let value = match &meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value: syn::Expr::Lit(syn::ExprLit { lit, .. }),
                ..
            }) => Some(lit.clone()),
            _ => None,
        };
        Ok(LitOption {
            key: Some(key.unwrap_or_else(|| quote::quote!(#meta).to_string())),
            value,
            tokens: quote::quote!(#meta),
        })
    }
}

/// Parses an attribute's comma-separated options, reporting syntax errors.
pub fn literal_options(args: proc_macro2::TokenStream, diag: &mut Diagnostics) -> Vec<LitOption> {
    match syn::parse::Parser::parse2(
        syn::punctuated::Punctuated::<LitOption, syn::Token![,]>::parse_terminated,
        args,
    ) {
        Ok(options) => options.into_iter().collect(),
        Err(e) => {
            diag.push(e);
            Vec::new()
        }
    }
}

/// The message for an option whose value is wrong, in one form: what was
/// written, why it is wrong, and what to write instead.
pub fn wrong_value(written: &impl quote::ToTokens, why: &str, write: &str) -> String {
    let written = written
        .to_token_stream()
        .to_string()
        .replace("- ", "-")
        .replace(" . ", ".");
    format!("`{written}` is wrong: {why}; write `{write}`")
}

/// The whole number `lit` of `option` when it lies in `range`; otherwise
/// the error, in [`wrong_value`]'s form, at the number.
pub fn int_in<T>(
    diag: &mut Diagnostics,
    option: &impl quote::ToTokens,
    lit: &syn::LitInt,
    range: std::ops::RangeInclusive<T>,
    why: &str,
    write: &str,
) -> Option<T>
where
    T: std::str::FromStr + PartialOrd,
    T::Err: std::fmt::Display,
{
    match lit.base10_parse::<T>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            diag.error_at(lit, wrong_value(option, why, write));
            None
        }
    }
}

/// The value of a `name = ".."` option that names stored runs (see
/// [`is_stored_name`]); when it cannot, also the error, in
/// [`wrong_value`]'s form, at the text. `what` is the item ("a workflow").
pub fn stored_name(
    diag: &mut Diagnostics,
    option: &impl quote::ToTokens,
    lit: &syn::LitStr,
    what: &str,
    example: &str,
) -> String {
    let name = lit.value();
    if !is_stored_name(&name) {
        diag.error_at(
            lit,
            wrong_value(
                option,
                &format!("{what} name is letters, digits, `_`, `-` and `.`"),
                example,
            ),
        );
    }
    name
}

/// One option of an attribute: `key = literal`, or a bare `key` (then
/// `value` is None), with the option itself for error spans.
pub struct AttrOption {
    /// The option's name.
    pub key: String,
    /// Its literal value, when it has one.
    pub value: Option<syn::Lit>,
    /// The whole option.
    pub meta: syn::Meta,
}

/// The comma-separated options of an attribute's arguments; a syntax error
/// goes to `diag` (and no options come back).
pub fn attr_options(args: TokenStream, diag: &mut Diagnostics) -> Vec<AttrOption> {
    let parsed = syn::parse::Parser::parse2(
        syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
        args,
    );
    match parsed {
        Ok(options) => options
            .into_iter()
            .map(|meta| {
                let key = meta
                    .path()
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let value = match &meta {
                    syn::Meta::NameValue(nv) => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit { lit, .. }) => Some(lit.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                AttrOption { key, value, meta }
            })
            .collect(),
        Err(e) => {
            diag.push(e);
            Vec::new()
        }
    }
}

/// Whether `name` can name stored runs (workflows, agents): letters,
/// digits, `_`, `-` and `.`, not empty.
pub fn is_stored_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_values_say_what_why_and_what_to_write() {
        let option: syn::Meta = syn::parse_quote!(retries = -1);
        assert_eq!(
            wrong_value(&option, "`retries` is a whole number from 0 to 100", "retries = 3"),
            "`retries = -1` is wrong: `retries` is a whole number from 0 to 100; write `retries = 3`"
        );
    }

    #[test]
    fn types_read_as_written() {
        let ty: syn::Type = syn::parse_quote!(Vec<Option<std::string::String>>);
        assert_eq!(type_text(&ty), "Vec<Option<std::string::String>>");
        let ty: syn::Type = syn::parse_quote!(&'static str);
        assert_eq!(type_text(&ty), "&'static str");
    }

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("gett", &["get", "post", "put"]), Some("get"));
        assert_eq!(closest("POST", &["get", "post", "put"]), Some("post"));
        assert_eq!(closest("frobnicate", &["get", "post", "put"]), None);
        assert_eq!(closest("fetch", &["get", "post", "patch"]), None);
    }
}
