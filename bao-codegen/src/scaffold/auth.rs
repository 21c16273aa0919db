//! `bao make:auth`: the files it writes and the edits it makes to the app's
//! `src/lib.rs` and module lists. Pure text in, text out: the CLI does the I/O.

use super::GeneratedFile;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "src/models/user.rs",
        include_str!("../../templates/auth/user.rs.tmpl"),
    ),
    (
        "src/controllers/auth.rs",
        include_str!("../../templates/auth/controller.rs.tmpl"),
    ),
    (
        "views/auth/login.html",
        include_str!("../../templates/auth/views/login.html.tmpl"),
    ),
    (
        "views/auth/register.html",
        include_str!("../../templates/auth/views/register.html.tmpl"),
    ),
    (
        "tests/auth.rs",
        include_str!("../../templates/auth/tests.rs.tmpl"),
    ),
];

/// The new files of `make:auth` for the crate `crate_name`.
pub fn auth_files(crate_name: &str) -> Vec<GeneratedFile> {
    TEMPLATES
        .iter()
        .map(|(path, template)| GeneratedFile {
            path: path.to_string(),
            contents: template.replace("__CRATE__", crate_name),
        })
        .collect()
}

/// `module_list` (a `mod.rs` or `lib.rs`) with `pub mod name;` added after its
/// last `mod` line, unless it is there already.
pub fn add_module(module_list: &str, name: &str) -> String {
    let declared = module_list.lines().any(|l| {
        let l = l.trim();
        l == format!("pub mod {name};") || l == format!("mod {name};")
    });
    if declared {
        return module_list.to_string();
    }
    let lines: Vec<&str> = module_list.lines().collect();
    let last_mod = lines.iter().rposition(|l| {
        let l = l.trim_start();
        (l.starts_with("pub mod ") || l.starts_with("mod ")) && l.ends_with(';')
    });
    let insert_at = match last_mod {
        Some(i) => i + 1,
        // After the leading doc comments and blank lines.
        None => lines
            .iter()
            .position(|l| !(l.starts_with("//!") || l.trim().is_empty()))
            .unwrap_or(lines.len()),
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut block = Vec::new();
    let after_docs = last_mod.is_none() && insert_at > 0;
    if after_docs && !lines[insert_at - 1].trim().is_empty() {
        block.push(String::new());
    }
    block.push(format!("pub mod {name};"));
    if after_docs && insert_at < lines.len() {
        block.push(String::new());
    }
    for (k, line) in block.into_iter().enumerate() {
        out.insert(insert_at + k, line);
    }
    sort_module_block(&mut out, insert_at);
    let mut text = out.join("\n");
    if module_list.ends_with('\n') || !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Sorts the run of `pub mod x;` lines around `at`, as rustfmt does.
fn sort_module_block(lines: &mut [String], at: usize) {
    let is_mod = |l: &String| l.starts_with("pub mod ") && l.ends_with(';');
    if !lines.get(at).is_some_and(is_mod) {
        return;
    }
    let mut start = at;
    while start > 0 && is_mod(&lines[start - 1]) {
        start -= 1;
    }
    let mut end = at + 1;
    while end < lines.len() && is_mod(&lines[end]) {
        end += 1;
    }
    lines[start..end].sort();
}

/// `lib_rs` with the user model and the account controller registered in
/// its `bao::app!`: `auth: models::user::User`, the model added to `models`,
/// the controller to `controllers`. Everything else is left as written.
pub fn register_auth(lib_rs: &str) -> Result<String, String> {
    let (open, close) = app_macro_body(lib_rs)?;
    let body = &lib_rs[open..close];
    if has_key(body, "auth") {
        return Err(
            "src/lib.rs already names a user model (`auth:` in bao::app!): auth is set up".into(),
        );
    }
    let mut body = body.to_string();
    body = add_to_list(&body, "controllers", "controllers::auth::Sessions");
    body = add_to_list(&body, "models", "models::user::User");
    let indent = entry_indent(&body);
    let trimmed = body.trim_end();
    let separator = if trimmed.ends_with(',') || trimmed.ends_with('{') || trimmed.is_empty() {
        ""
    } else {
        ","
    };
    body = format!("{trimmed}{separator}\n{indent}auth: models::user::User,\n");
    Ok(format!("{}{}{}", &lib_rs[..open], body, &lib_rs[close..]))
}

/// `lib_rs` with `item` added to the list `key: [..]` of its `bao::app!`
/// (the key is added when missing; an item already listed is left alone).
pub fn add_to_app_list(lib_rs: &str, key: &str, item: &str) -> Result<String, String> {
    let (open, close) = app_macro_body(lib_rs)?;
    let body = add_to_list(&lib_rs[open..close], key, item);
    Ok(format!("{}{}{}", &lib_rs[..open], body, &lib_rs[close..]))
}

/// Whether the `bao::app!` of `lib_rs` names a user model (`auth:`).
pub fn app_has_auth(lib_rs: &str) -> bool {
    app_macro_body(lib_rs).is_ok_and(|(open, close)| has_key(&lib_rs[open..close], "auth"))
}

/// Byte range of the body of the `bao::app! { .. }` invocation (inside the
/// braces).
fn app_macro_body(text: &str) -> Result<(usize, usize), String> {
    let start = text.find("bao::app!").ok_or(
        "src/lib.rs has no `bao::app! { .. }`: add it (see `bao init`), then run make:auth again",
    )?;
    let rest = &text[start..];
    let brace = rest
        .find(['{', '('])
        .ok_or("`bao::app!` in src/lib.rs has no body")?;
    let (open_char, close_char) = if rest.as_bytes()[brace] == b'{' {
        ('{', '}')
    } else {
        ('(', ')')
    };
    let open = start + brace + 1;
    let mut depth = 1;
    for (i, c) in text[open..].char_indices() {
        if c == open_char {
            depth += 1;
        } else if c == close_char {
            depth -= 1;
            if depth == 0 {
                return Ok((open, open + i));
            }
        }
    }
    Err("`bao::app!` in src/lib.rs is not closed".into())
}

fn key_position(body: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = body[from..].find(key) {
        let at = from + found;
        let before_ok = at == 0
            || !body[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let after = body[at + key.len()..].trim_start();
        if before_ok && after.starts_with(':') && !after.starts_with("::") {
            return Some(at);
        }
        from = at + key.len();
    }
    None
}

fn has_key(body: &str, key: &str) -> bool {
    key_position(body, key).is_some()
}

/// The indentation of the first entry of the macro body.
fn entry_indent(body: &str) -> String {
    body.lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l[..l.len() - l.trim_start().len()].to_string())
        .unwrap_or_else(|| "    ".into())
}

/// Adds `item` to the list `key: [..]`, or adds the key with it.
fn add_to_list(body: &str, key: &str, item: &str) -> String {
    let Some(at) = key_position(body, key) else {
        let indent = entry_indent(body);
        let trimmed = body.trim_end();
        let separator = if trimmed.ends_with(',') || trimmed.is_empty() {
            ""
        } else {
            ","
        };
        return format!("{trimmed}{separator}\n{indent}{key}: [{item}],\n");
    };
    let Some(open) = body[at..].find('[').map(|i| at + i) else {
        return body.to_string();
    };
    let Some(close) = body[open..].find(']').map(|i| open + i) else {
        return body.to_string();
    };
    let inside = &body[open + 1..close];
    if inside.split(',').any(|p| p.trim() == item) {
        return body.to_string();
    }
    let new_inside = if inside.contains('\n') {
        // One item per line: add a line in the same style.
        let indent = inside
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| l[..l.len() - l.trim_start().len()].to_string())
            .unwrap_or_default();
        let trimmed = inside.trim_end();
        let separator = if trimmed.ends_with(',') { "" } else { "," };
        let closing_indent = &inside[inside.rfind('\n').map_or(0, |i| i + 1)..];
        format!("{trimmed}{separator}\n{indent}{item},\n{closing_indent}")
    } else if inside.trim().is_empty() {
        item.to_string()
    } else {
        format!("{}, {item}", inside.trim_end().trim_end_matches(','))
    };
    format!("{}{}{}", &body[..open + 1], new_inside, &body[close..])
}

/// The line of `views/layout.html` above which `make:crud` adds its links.
const NAV_MARKER: &str = "{# bao:nav";
/// The line of `views/layout.html` that `make:auth` replaces with the
/// signed-in user, a log-out button and log-in/register links.
const ACCOUNT_MARKER: &str = "{# bao:account";

/// Where a marker line is in `layout`: its start, end (after the newline)
/// and indentation.
fn marker_line<'a>(layout: &'a str, marker: &str) -> Option<(usize, usize, &'a str)> {
    let at = layout.find(marker)?;
    let start = layout[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &layout[start..at];
    if !indent.trim().is_empty() {
        return None;
    }
    let end = layout[at..].find('\n').map_or(layout.len(), |i| at + i + 1);
    Some((start, end, indent))
}

/// `layout` with a nav link to `href` added above its `{# bao:nav .. #}`
/// line; `None` when the layout has no such line (the user moved it).
pub fn layout_add_nav_link(layout: &str, href: &str, text: &str) -> Option<String> {
    let (start, _, indent) = marker_line(layout, NAV_MARKER)?;
    let link = format!("<a href=\"{href}\">{text}</a>");
    if layout.contains(&link) {
        return Some(layout.to_string());
    }
    Some(format!(
        "{}{indent}{link}\n{}",
        &layout[..start],
        &layout[start..]
    ))
}

/// `layout` with its `{# bao:account .. #}` line replaced by who is signed
/// in and a log-out button (a POST with the CSRF field), or log-in and
/// register links; `None` when the layout has no such line.
pub fn layout_add_account(layout: &str) -> Option<String> {
    let (start, end, indent) = marker_line(layout, ACCOUNT_MARKER)?;
    let block = [
        "<span class=\"bao-account\">",
        "  {% if let Some(user) = current_user %}",
        "  <span class=\"bao-muted\">{{ user.email }}</span>",
        "  <form method=\"post\" action=\"/logout\">{{ csrf_field }}<button type=\"submit\" class=\"bao-link\">Sign out</button></form>",
        "  {% else %}",
        "  <a href=\"/login\">Sign in</a>",
        "  <a href=\"/register\">Register</a>",
        "  {% endif %}",
        "</span>",
    ]
    .iter()
    .map(|line| format!("{indent}{line}\n"))
    .collect::<String>();
    Some(format!("{}{block}{}", &layout[..start], &layout[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "//! My App.\n\npub mod controllers;\n\nbao::app! {\n    name: \"My App\",\n    controllers: [controllers::home::Home],\n}\n";

    #[test]
    fn registers_the_model_controller_and_auth_key() {
        let out = register_auth(LIB).unwrap();
        assert_eq!(
            out,
            "//! My App.\n\npub mod controllers;\n\nbao::app! {\n    name: \"My App\",\n    controllers: [controllers::home::Home, controllers::auth::Sessions],\n    models: [models::user::User],\n    auth: models::user::User,\n}\n"
        );
        assert!(register_auth(&out).unwrap_err().contains("already"));
        let with_models = add_module(&out, "models");
        assert!(with_models.contains("pub mod controllers;\npub mod models;\n"));
        assert_eq!(
            add_module("pub mod home;\npub mod tasks;\n", "auth"),
            "pub mod auth;\npub mod home;\npub mod tasks;\n"
        );
        syn::parse_file(&with_models).unwrap();
    }

    #[test]
    fn keeps_multi_line_lists_and_other_entries() {
        let lib = "bao::app! {\n    controllers: [\n        a::A,\n        b::B,\n    ],\n    models: [m::Post],\n    setup: configure,\n}\n";
        let out = register_auth(lib).unwrap();
        assert!(
            out.contains("        b::B,\n        controllers::auth::Sessions,\n    ],"),
            "{out}"
        );
        assert!(
            out.contains("models: [m::Post, models::user::User]"),
            "{out}"
        );
        assert!(
            out.contains("setup: configure,\n    auth: models::user::User,\n}"),
            "{out}"
        );
        assert!(register_auth("fn main() {}").is_err());
    }

    #[test]
    fn generated_rust_parses() {
        for file in auth_files("my_app") {
            if file.path.ends_with(".rs") {
                syn::parse_file(&file.contents).unwrap_or_else(|e| panic!("{}: {e}", file.path));
            }
        }
        assert_eq!(
            add_module("//! Models.\n", "user"),
            "//! Models.\n\npub mod user;\n"
        );
    }

    const LAYOUT: &str = "<nav>\n    <a class=\"bao-brand\" href=\"/\">Shop</a>\n    {# bao:nav: links above #}\n    {# bao:account: here #}\n  </nav>\n";

    #[test]
    fn nav_links_go_above_the_marker_once() {
        let one = layout_add_nav_link(LAYOUT, "/tasks", "Tasks").unwrap();
        assert!(
            one.contains("    <a href=\"/tasks\">Tasks</a>\n    {# bao:nav"),
            "{one}"
        );
        let two = layout_add_nav_link(&one, "/tags", "Tags").unwrap();
        assert!(
            two.contains("Tasks</a>\n    <a href=\"/tags\">Tags</a>\n    {# bao:nav"),
            "{two}"
        );
        assert_eq!(layout_add_nav_link(&two, "/tags", "Tags").unwrap(), two);
        assert!(layout_add_nav_link("<nav></nav>", "/tasks", "Tasks").is_none());
    }

    #[test]
    fn the_account_block_replaces_its_marker() {
        let out = layout_add_account(LAYOUT).unwrap();
        assert!(!out.contains("bao:account"), "{out}");
        assert!(
            out.contains(
                "    <span class=\"bao-account\">\n      {% if let Some(user) = current_user %}"
            ),
            "{out}"
        );
        assert!(out.contains("action=\"/logout\">{{ csrf_field }}"), "{out}");
        assert!(out.contains("{# bao:nav"), "{out}");
        assert!(layout_add_account(&out).is_none());
    }
}
