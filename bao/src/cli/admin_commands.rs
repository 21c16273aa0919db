//! `bao admin:eject`: copies the admin console's templates into the app's
//! `views/admin/`, where `bao::app!` compiles them in place of Bao's.

use super::{fail, AdminEjectArgs};
use std::path::Path;
use std::process::ExitCode;

/// Bao's console templates, by file name under `views/admin/`.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/admin/base.html")),
    (
        "overview.html",
        include_str!("../../templates/admin/overview.html"),
    ),
    ("runs.html", include_str!("../../templates/admin/runs.html")),
    (
        "approvals.html",
        include_str!("../../templates/admin/approvals.html"),
    ),
    (
        "dead_letters.html",
        include_str!("../../templates/admin/dead_letters.html"),
    ),
    (
        "tasks.html",
        include_str!("../../templates/admin/tasks.html"),
    ),
    (
        "audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
];

/// `bao admin:eject [PAGE ...] [--force]`.
pub(super) fn eject(args: &AdminEjectArgs) -> ExitCode {
    let root = match super::project::find_app_root() {
        Ok(root) => root,
        Err(e) => return fail(e),
    };
    match eject_into(&root, &args.pages, args.force) {
        Ok(written) => {
            for file in &written {
                println!("wrote {file}");
            }
            if written.is_empty() {
                println!("nothing to write: every page asked for is already under views/admin/ (--force overwrites)");
            } else {
                println!(
                    "The console now renders these templates in place of Bao's; their variables are the fields and \
                     methods of bao::admin::pages (a wrong one fails `cargo build`)."
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Writes the templates of `pages` (every page when empty; `base.html`
/// with them when it is missing) under `root/views/admin/`; the files
/// written, relative to `root`.
pub(crate) fn eject_into(
    root: &Path,
    pages: &[String],
    force: bool,
) -> Result<Vec<String>, String> {
    let mut chosen: Vec<&(&str, &str)> = Vec::new();
    if pages.is_empty() {
        chosen.extend(TEMPLATES.iter());
    } else {
        for page in pages {
            let file = if page.ends_with(".html") {
                page.replace('-', "_")
            } else {
                format!("{}.html", page.replace('-', "_"))
            };
            let Some(found) = TEMPLATES.iter().find(|(f, _)| *f == file) else {
                let names: Vec<&str> = TEMPLATES
                    .iter()
                    .map(|(f, _)| f.trim_end_matches(".html"))
                    .collect();
                return Err(format!(
                    "there is no admin page `{page}`: the pages are {}",
                    names.join(", ")
                ));
            };
            if !chosen.contains(&found) {
                chosen.push(found);
            }
        }
    }
    let dir = root.join("views").join("admin");
    let base = dir.join("base.html");
    if !base.exists() && !chosen.iter().any(|(f, _)| *f == "base.html") {
        chosen.insert(0, &TEMPLATES[0]);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (file, text) in chosen {
        let path = dir.join(file);
        if path.exists() && !force {
            continue;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(format!("views/admin/{file}"));
    }
    if !root.join("askama.toml").exists() {
        std::fs::write(
            root.join("askama.toml"),
            "# Bao views live in `views/`; askama reads this file to find them.\n[general]\ndirs = [\"views\"]\n",
        )
        .map_err(|e| format!("cannot write askama.toml: {e}"))?;
        written.push("askama.toml".into());
    }
    if !written.is_empty() {
        touch_app_sources(root);
    }
    Ok(written)
}

/// Cargo rebuilds a crate when a file it read changed, and a new template
/// is not one of those yet: touching the crate's roots makes the next
/// build expand `bao::app!` again and find it.
pub(super) fn touch_app_sources(root: &Path) {
    let now = std::time::SystemTime::now();
    for file in ["src/lib.rs", "src/main.rs"] {
        if let Ok(f) = std::fs::File::options().append(true).open(root.join(file)) {
            let _ = f.set_modified(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejects_a_page_with_base_and_keeps_edits() {
        let dir = tempfile::tempdir().unwrap();
        let written = eject_into(dir.path(), &["overview".into()], false).unwrap();
        assert_eq!(
            written,
            [
                "views/admin/base.html",
                "views/admin/overview.html",
                "askama.toml"
            ]
        );
        std::fs::write(dir.path().join("views/admin/overview.html"), "mine").unwrap();
        let again = eject_into(
            dir.path(),
            &["overview".into(), "dead-letters".into()],
            false,
        )
        .unwrap();
        assert_eq!(again, ["views/admin/dead_letters.html"]);
        let kept = std::fs::read_to_string(dir.path().join("views/admin/overview.html")).unwrap();
        assert_eq!(kept, "mine");
        let forced = eject_into(dir.path(), &["overview".into()], true).unwrap();
        assert_eq!(forced, ["views/admin/overview.html"]);
    }

    #[test]
    fn an_unknown_page_names_the_pages() {
        let dir = tempfile::tempdir().unwrap();
        let error = eject_into(dir.path(), &["overveiw".into()], false).unwrap_err();
        assert!(
            error.contains("overview, runs, approvals, dead_letters, tasks, audit"),
            "{error}"
        );
        assert!(!dir.path().join("views").exists());
    }
}
