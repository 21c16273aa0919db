//! Source templates behind `bao init` (and, later, `bao make:*`): data embedded
//! in the binary, filled in with names, never requiring the app to compile.

mod api;
mod auth;
mod crud;
mod extras;
mod names;
mod task;

pub use api::{api_files, find_model, ModelSource};
pub use auth::{
    add_module, add_to_app_list, app_has_auth, auth_files, layout_add_account, layout_add_nav_link,
    register_auth,
};
pub use crud::{
    check_model_name, crud_files, label, label_field, parse_fields, CrudAccess, CrudNames,
    FieldKind, FieldSpec, FIELD_TYPES,
};
pub use extras::{
    check_controller_name, check_script_name, controller_files, docker_files, parse_actions,
    script_file,
};

pub use names::{AppNames, NameError};
pub use task::{check_task, task_files, TaskSchedule};

/// A file to write, relative to the app's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the app root, with `/` separators.
    pub path: String,
    /// The file's content.
    pub contents: String,
}

/// How the new app depends on `bao`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaoDependency {
    /// A path to a checkout of the `bao` crate.
    Path(String),
    /// A version requirement from the registry.
    Version(String),
}

impl BaoDependency {
    fn to_toml(&self) -> String {
        match self {
            BaoDependency::Path(path) => format!("bao = {{ path = {} }}", toml_string(path)),
            BaoDependency::Version(v) => format!("bao = {}", toml_string(v)),
        }
    }
}

const INIT_TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/init/Cargo.toml.tmpl"),
    ),
    (
        "askama.toml",
        include_str!("../../templates/init/askama.toml.tmpl"),
    ),
    (
        ".env.example",
        include_str!("../../templates/init/env.example.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/init/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/init/README.md.tmpl"),
    ),
    (
        "src/main.rs",
        include_str!("../../templates/init/src/main.rs.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/init/src/lib.rs.tmpl"),
    ),
    (
        "src/controllers/mod.rs",
        include_str!("../../templates/init/src/controllers/mod.rs.tmpl"),
    ),
    (
        "src/controllers/home.rs",
        include_str!("../../templates/init/src/controllers/home.rs.tmpl"),
    ),
    (
        "views/layout.html",
        include_str!("../../templates/init/views/layout.html.tmpl"),
    ),
    (
        "views/error.html",
        include_str!("../../templates/init/views/error.html.tmpl"),
    ),
    (
        "static/app.css",
        include_str!("../../templates/init/static/app.css.tmpl"),
    ),
    (
        "views/home/index.html",
        include_str!("../../templates/init/views/home/index.html.tmpl"),
    ),
    (
        "tests/home.rs",
        include_str!("../../templates/init/tests/home.rs.tmpl"),
    ),
];

/// The files of a new app.
pub fn init_files(names: &AppNames, bao: &BaoDependency) -> Vec<GeneratedFile> {
    INIT_TEMPLATES
        .iter()
        .map(|(path, template)| GeneratedFile {
            path: path.to_string(),
            contents: fill(template, names, bao, path),
        })
        .collect()
}

fn fill(template: &str, names: &AppNames, bao: &BaoDependency, path: &str) -> String {
    // The display name lands in Rust strings, TOML, HTML and Markdown: escape it
    // for where it goes.
    let display = if path.ends_with(".rs") {
        names.display.replace('\\', "\\\\").replace('"', "\\\"")
    } else if path.ends_with(".html") {
        html_escape(&names.display)
    } else {
        names.display.clone()
    };
    template
        .replace("__BAO_DEP__", &bao.to_toml())
        .replace("__APP_NAME__", &display)
        .replace("__PACKAGE__", &names.package)
        .replace("__CRATE__", &names.crate_name)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rust_file_parses() {
        let names = AppNames::from_display("My App").unwrap();
        let files = init_files(&names, &BaoDependency::Version("0.1".into()));
        for file in files.iter().filter(|f| f.path.ends_with(".rs")) {
            syn::parse_file(&file.contents).unwrap_or_else(|e| panic!("{}: {e}", file.path));
        }
        let cargo = files.iter().find(|f| f.path == "Cargo.toml").unwrap();
        assert!(cargo.contents.contains("name = \"my-app\""));
        assert!(cargo.contents.contains("bao = \"0.1\""));
        let main = files.iter().find(|f| f.path == "src/main.rs").unwrap();
        assert!(main.contents.contains("my_app::app()"));
    }

    #[test]
    fn the_home_controller_is_stable() {
        let names = AppNames::from_display("My App").unwrap();
        let files = init_files(&names, &BaoDependency::Path("/src/bao".into()));
        let home = files
            .iter()
            .find(|f| f.path == "src/controllers/home.rs")
            .unwrap();
        insta::assert_snapshot!(home.contents);
    }

    #[test]
    fn names_are_escaped_where_they_land() {
        let names = AppNames::from_display("Tom's \"<Shop>\"").unwrap();
        let files = init_files(&names, &BaoDependency::Version("0.1".into()));
        let lib = files.iter().find(|f| f.path == "src/lib.rs").unwrap();
        syn::parse_file(&lib.contents).unwrap();
        let layout = files
            .iter()
            .find(|f| f.path == "views/layout.html")
            .unwrap();
        assert!(layout.contents.contains("&lt;Shop&gt;"));
    }

    #[test]
    fn the_new_app_has_no_placeholders_and_a_layout_the_generators_grow() {
        let names = AppNames::from_display("Shop").unwrap();
        let files = init_files(&names, &BaoDependency::Version("0.1".into()));
        let readme = files.iter().find(|f| f.path == "README.md").unwrap();
        assert!(
            !readme.contents.contains("example.")
                && !readme.contents.contains("](http")
                && !readme.contents.contains("__"),
            "{}",
            readme.contents
        );
        let layout = files
            .iter()
            .find(|f| f.path == "views/layout.html")
            .unwrap();
        assert!(layout_add_nav_link(&layout.contents, "/posts", "Posts").is_some());
        assert!(layout_add_account(&layout.contents).is_some());
        assert!(layout.contents.contains("bao::assets::JS_URL"));
    }
}
