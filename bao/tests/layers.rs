//! Bao's modules depend on each other one way only: a module may use the
//! ones in lower layers and its own, never a higher one. ARCHITECTURE.md
//! shows the same table. `lib.rs` and `error.rs` are the crate's root (the
//! re-exports and `bao::Error`, which names each subsystem's error) and are
//! not checked. A file's unit tests (its `#[cfg(test)] mod tests`) may use
//! any module, `crate::testing` included: they are not part of the library.

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest first; modules in one entry are peers and may use each other.
const LAYERS: &[&[&str]] = &[
    &["support"],
    &["config"],
    &["db"],
    &["obs"],
    &["http"],
    &["subsystem"],
    &["auth"],
    &["view"],
    &["channel"],
    &["fault"],
    &["ai", "api", "forms", "memory", "rag", "workflow"],
    &["task", "agent"],
    &["admin", "mcp"],
    &["app", "plugin"],
    &["testing", "cli", "script"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("bao/src is readable")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names as `crate::NAME`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // `$crate::` in macros counts too; skip text inside line comments.
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..at].trim_start().starts_with("//") {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if rest[name.len()..].starts_with("::") || rest[name.len()..].starts_with('{') {
            used.insert(name);
        }
    }
    used
}

#[test]
fn modules_depend_on_lower_layers_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative
            .iter()
            .next()
            .and_then(|c| c.to_str())
            .unwrap_or("");
        let module = first.trim_end_matches(".rs");
        if matches!(module, "lib" | "error" | "bin") {
            continue;
        }
        let Some(own) = layer_of(module) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer of LAYERS",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let text = match text.find("\n#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => &text[..],
        };
        for used in used_modules(text) {
            match layer_of(&used) {
                Some(layer) if layer > own => problems.push(format!(
                    "{}: `{module}` uses `crate::{used}`, a higher layer",
                    relative.display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken (see LAYERS in bao/tests/layers.rs and ARCHITECTURE.md):\n{}",
        problems.join("\n")
    );
}
