//! Names of a new app: the display name, the package and the crate.

use heck::{ToKebabCase, ToSnakeCase};

/// The names derived from what the user typed (`"My App"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppNames {
    /// As typed: `My App`.
    pub display: String,
    /// The package and folder: `my-app`.
    pub package: String,
    /// The crate as code refers to it: `my_app`.
    pub crate_name: String,
}

/// A name that cannot become a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

/// Names a new app may not take: they clash with Rust or the crates it uses.
const RESERVED: &[&str] = &[
    "bao",
    "bao_macros",
    "bao_codegen",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "self",
    "super",
    "crate",
    "serde",
    "actix_web",
    "askama",
    "tokio",
    "build",
    "deps",
    "examples",
    "incremental",
    "target",
];

/// Rust's keywords, which cannot name a crate, a field or a function.
pub(super) const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "union",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

impl AppNames {
    /// Derives the package and crate names from a display name.
    pub fn from_display(display: &str) -> Result<AppNames, NameError> {
        let display = display.trim();
        if display.is_empty() {
            return Err(NameError(
                "the app name is empty: pass --name \"My App\"".into(),
            ));
        }
        let ascii: String = display
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
            .collect();
        let package = ascii.to_kebab_case();
        let crate_name = package.to_snake_case();
        if package.is_empty() {
            return Err(NameError(format!(
                "`{display}` has no letters or digits to name a package with: use a name like \"My App\""
            )));
        }
        if crate_name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(NameError(format!(
                "`{display}` would make the crate `{crate_name}`, which starts with a digit: start the name with a letter"
            )));
        }
        if RESERVED.contains(&crate_name.as_str()) || KEYWORDS.contains(&crate_name.as_str()) {
            return Err(NameError(format!(
                "`{crate_name}` is reserved (a Rust keyword or a crate Bao uses): choose another name, like \"{display} App\""
            )));
        }
        Ok(AppNames {
            display: display.to_string(),
            package,
            crate_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_package_and_crate() {
        let n = AppNames::from_display("My App").unwrap();
        assert_eq!(
            (n.package.as_str(), n.crate_name.as_str()),
            ("my-app", "my_app")
        );
        let n = AppNames::from_display("  Shop 2 Go! ").unwrap();
        assert_eq!(n.package, "shop-2-go");
    }

    #[test]
    fn rejects_unusable_names() {
        assert!(AppNames::from_display("").unwrap_err().0.contains("empty"));
        assert!(AppNames::from_display("!!!")
            .unwrap_err()
            .0
            .contains("no letters"));
        assert!(AppNames::from_display("2fast")
            .unwrap_err()
            .0
            .contains("digit"));
        assert!(AppNames::from_display("std")
            .unwrap_err()
            .0
            .contains("reserved"));
        assert!(AppNames::from_display("async")
            .unwrap_err()
            .0
            .contains("reserved"));
    }
}
