//! Route paths as users write them in `#[controller("/base")]` and `#[get("/{id}")]`.
//!
//! A path starts with `/`, its segments are literal text or one parameter
//! `{name}` / `{name:regex}`; parameter names are Rust identifiers and unique.

/// A validated route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// The path as actix-web matches it, e.g. `/posts/{id}`.
    pub pattern: String,
    /// Parameter names in order of appearance.
    pub params: Vec<String>,
}

/// Parses and validates a path; the error names the problem and the fix.
pub fn parse(path: &str) -> Result<RoutePath, String> {
    if let Some(c) = path
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '?' | '#'))
    {
        return Err(format!(
            "route path `{path}` contains `{}`: a path holds neither spaces, query strings nor fragments; use `Query<T>` for query parameters",
            c.escape_default()
        ));
    }
    let mut params = Vec::new();
    for segment in path.split('/') {
        if !segment.contains(['{', '}']) {
            continue;
        }
        let inner = segment
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .filter(|s| !s.contains(['{', '}']) || s.contains(':'));
        let Some(inner) = inner else {
            return Err(format!(
                "route path `{path}`: segment `{segment}` is malformed; a parameter fills a whole segment, like `/posts/{{id}}`"
            ));
        };
        let name = inner.split_once(':').map_or(inner, |(n, _)| n);
        if let Some((_, pattern)) = inner.split_once(':') {
            if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
                let why = match e {
                    regex_syntax::Error::Parse(e) => e.kind().to_string(),
                    regex_syntax::Error::Translate(e) => e.kind().to_string(),
                    other => other.to_string(),
                };
                return Err(format!(
                    "route path `{path}`: the pattern of `{{{name}}}`, `{pattern}`, is not a regular expression ({why}); write one like `{{{name}:\\d+}}` or `{{{name}:[a-z0-9-]+}}`"
                ));
            }
        }
        if name.is_empty() {
            return Err(format!(
                "route path `{path}` has an unnamed parameter `{segment}`: name it, like `{{id}}`"
            ));
        }
        if !is_identifier(name) {
            return Err(format!(
                "route path `{path}`: parameter name `{name}` is not a Rust identifier; use letters, digits and `_`, like `{{post_id}}`"
            ));
        }
        if params.iter().any(|p| p == name) {
            return Err(format!(
                "route path `{path}` uses the parameter `{{{name}}}` twice: give each parameter its own name"
            ));
        }
        params.push(name.to_string());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "route path `{path}` must start with `/`: write \"/{}\"",
            path.trim_start_matches('/')
        ));
    }
    if path.len() > 1 && path.contains("//") {
        return Err(format!(
            "route path `{path}` has an empty segment (`//`): remove the extra `/`"
        ));
    }
    Ok(RoutePath {
        pattern: path.to_string(),
        params,
    })
}

/// Joins a controller's base path and a route's path: `/posts` + `/` is `/posts`,
/// `/` + `/about` is `/about`, `/posts` + `/{id}` is `/posts/{id}`.
pub fn join(base: &str, route: &str) -> String {
    let base = base.trim_end_matches('/');
    match (base.is_empty(), route) {
        (true, _) => route.to_string(),
        (false, "/") => base.to_string(),
        (false, _) => format!("{base}{route}"),
    }
}

/// Whether two patterns match the same requests: literal segments equal and
/// parameters in the same places (parameter names do not matter).
/// Parses attribute arguments of the form `"/path", option, key = value, ..`
/// (`#[controller]`, `#[api]`).
pub fn parse_path_and_options(
    args: proc_macro2::TokenStream,
) -> syn::Result<(syn::LitStr, Vec<syn::Meta>)> {
    let parser = |input: syn::parse::ParseStream| {
        let lit: syn::LitStr = input.parse()?;
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<syn::Token![,]>()?;
            if input.is_empty() {
                break;
            }
            options.push(input.parse::<syn::Meta>()?);
        }
        Ok((lit, options))
    };
    syn::parse::Parser::parse2(parser, args)
}

pub fn same_shape(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('/').collect();
    let b: Vec<&str> = b.split('/').collect();
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let px = x.starts_with('{') && !x.contains(':');
            let py = y.starts_with('{') && !y.contains(':');
            (px && py) || x == y
        })
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && name != "_"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters_in_order() {
        let p = parse("/posts/{post_id}/comments/{id:\\d+}").unwrap();
        assert_eq!(p.params, vec!["post_id", "id"]);
    }

    #[test]
    fn parameter_patterns_must_be_regular_expressions() {
        let err = parse("/posts/{id:[0-9+}").unwrap_err();
        assert!(
            err.contains("`[0-9+`, is not a regular expression (unclosed character class)"),
            "{err}"
        );
        assert!(parse("/posts/{slug:[a-z0-9-]+}").is_ok());
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(parse("posts")
            .unwrap_err()
            .contains("must start with `/`: write \"/posts\""));
        assert!(parse("{id").unwrap_err().contains("malformed"));
        assert!(parse("/posts/{id").unwrap_err().contains("malformed"));
        assert!(parse("/posts/{}").unwrap_err().contains("unnamed"));
        assert!(parse("/posts/{1d}")
            .unwrap_err()
            .contains("not a Rust identifier"));
        assert!(parse("/a/{id}/b/{id}").unwrap_err().contains("twice"));
        assert!(parse("/a b").unwrap_err().contains("spaces"));
        assert!(parse("/a?x=1").unwrap_err().contains("Query<T>"));
        assert!(parse("/a//b").unwrap_err().contains("empty segment"));
        assert!(parse("/posts/x{id}").unwrap_err().contains("whole segment"));
    }

    #[test]
    fn joins_base_and_route() {
        assert_eq!(join("/posts", "/"), "/posts");
        assert_eq!(join("/", "/about"), "/about");
        assert_eq!(join("/", "/"), "/");
        assert_eq!(join("/posts/", "/{id}"), "/posts/{id}");
    }

    #[test]
    fn shapes_ignore_parameter_names() {
        assert!(same_shape("/posts/{id}", "/posts/{slug}"));
        assert!(!same_shape("/posts/{id}", "/posts/new"));
        assert!(!same_shape("/posts", "/posts/{id}"));
    }
}
