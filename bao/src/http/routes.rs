//! The route table, and the compile-time check that no two routes clash.

use crate::support::konst::{push, str_eq, Message, MESSAGE_LEN};
use serde::Serialize;

/// One route of an app, as declared in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path pattern, e.g. `/posts/{id}`.
    pub path: &'static str,
    /// The controller type (or `bao` for the framework's own routes).
    pub controller: &'static str,
    /// The handler function.
    pub handler: &'static str,
    /// The first line of the handler's doc comment.
    pub summary: &'static str,
    /// Who may call it: `public`, `login`, or `role:NAME`.
    pub access: &'static str,
}

/// Routes Bao serves in every app.
pub(crate) const FRAMEWORK_ROUTES: &[RouteInfo] = &[
    framework(
        "GET",
        "/healthz",
        "healthz",
        "Liveness: 200 until shutdown starts",
    ),
    framework(
        "GET",
        "/readyz",
        "readyz",
        "Readiness: 503 naming the failed check",
    ),
    framework("GET", "/metrics", "metrics", "Prometheus metrics"),
    framework(
        "GET",
        "/_bao/csrf",
        "csrf_token",
        "This browser's CSRF token (sets the session cookie if needed)",
    ),
    framework(
        "GET",
        "/_bao/static/{file}",
        "static_file",
        "Vendored htmx, Alpine.js and bao.css",
    ),
    framework(
        "GET",
        "/static/{file}",
        "app_static",
        "The app's static/ folder (BAO_STATIC_DIR), fingerprinted URLs from bao::assets::url",
    ),
];

/// Routes Bao serves in an app with workflows.
pub(crate) const WORKFLOW_ROUTES: &[RouteInfo] = &[
    operators(
        "GET",
        "/_bao/workflows",
        "workflow_runs",
        "The latest workflow runs, filtered by ?status= and ?workflow= (admins; outside production without users)",
    ),
    operators(
        "GET",
        "/_bao/workflows/{run_id}",
        "workflow_run",
        "A workflow run's steps, live (admins; outside production without users)",
    ),
    operators(
        "GET",
        "/_bao/workflows/{run_id}/state",
        "workflow_state",
        "The run and its steps as JSON (the page refreshes from it on each `workflow` channel message)",
    ),
    operators(
        "POST",
        "/_bao/workflows/{run_id}/replay",
        "workflow_replay",
        "Replay a failed or cancelled run (CSRF-protected)",
    ),
];

/// The MCP server over streamable HTTP (`BAO_MCP_HTTP=1`).
pub(crate) const MCP_ROUTES: &[RouteInfo] = &[operators(
    "POST",
    "/_bao/mcp",
    "mcp",
    "MCP server, streamable HTTP (BAO_MCP_HTTP=1; bearer token of an admin or BAO_ADMIN_TOKEN)",
)];

/// The admin console's pages and actions.
pub(crate) const ADMIN_ROUTES: &[RouteInfo] = &[
    operators(
        "GET",
        "/_bao/admin",
        "admin_overview",
        "Admin console: runs, approvals, dead letters, audit (admins)",
    ),
    operators(
        "GET",
        "/_bao/admin/live",
        "admin_live",
        "Server-sent events: a message when runs, approvals or dead letters change",
    ),
    framework(
        "GET",
        "/_bao/admin/login",
        "admin_login",
        "Use a one-time link from `bao admin:link`",
    ),
    operators(
        "GET",
        "/_bao/admin/runs",
        "admin_runs",
        "Workflow runs by workflow and status, newest first",
    ),
    operators(
        "POST",
        "/_bao/admin/runs/bulk",
        "admin_runs_bulk",
        "Cancel or replay every run of a filter (CSRF)",
    ),
    operators(
        "POST",
        "/_bao/admin/runs/{id}/{action}",
        "admin_run_action",
        "Cancel or replay one run (CSRF)",
    ),
    operators(
        "GET",
        "/_bao/admin/approvals",
        "admin_approvals",
        "Agent approval requests with their exact arguments",
    ),
    operators(
        "POST",
        "/_bao/admin/approvals/{id}/{decision}",
        "admin_decide",
        "Approve or deny a request (CSRF)",
    ),
    operators(
        "GET",
        "/_bao/admin/dead-letters",
        "admin_dead_letters",
        "Dead letters by queue",
    ),
    operators(
        "POST",
        "/_bao/admin/dead-letters/bulk",
        "admin_dead_letters_bulk",
        "Replay or purge a queue's letters (CSRF)",
    ),
    operators(
        "POST",
        "/_bao/admin/dead-letters/{id}/replay",
        "admin_dead_letter_replay",
        "Replay one dead letter (CSRF)",
    ),
    operators(
        "GET",
        "/_bao/admin/tasks",
        "admin_tasks",
        "Queued and running tasks by name",
    ),
    operators(
        "POST",
        "/_bao/admin/tasks/retry",
        "admin_tasks_retry",
        "Run a task's waiting retries now (CSRF)",
    ),
    operators(
        "GET",
        "/_bao/admin/audit",
        "admin_audit",
        "The audit log by action and actor",
    ),
];

/// The live channels' endpoints.
pub(crate) const CHANNEL_ROUTES: &[RouteInfo] = &[
    framework(
        "GET",
        "/_bao/channels/{kind}/{id}",
        "channel_events",
        "Server-sent events of one channel (Last-Event-ID resumes; authorized per kind)",
    ),
    framework(
        "GET",
        "/_bao/ws/{kind}/{id}",
        "channel_socket",
        "WebSocket of one channel, or a #[bao::ws] handler (authorized per kind)",
    ),
];

/// Routes Bao serves in an app with API resources.
pub(crate) const DOCS_ROUTES: &[RouteInfo] = &[
    framework(
        "GET",
        "/openapi.json",
        "openapi",
        "The OpenAPI 3.1 document of the app's API resources",
    ),
    framework(
        "GET",
        "/docs",
        "docs",
        "API explorer (off in production unless BAO_DOCS_ENABLED=1)",
    ),
];

const fn framework(
    method: &'static str,
    path: &'static str,
    handler: &'static str,
    summary: &'static str,
) -> RouteInfo {
    RouteInfo {
        method,
        path,
        controller: "bao",
        handler,
        summary,
        access: "public",
    }
}

/// A route of Bao's for admins (or, in an app without users, what the
/// console and run pages allow: see `auth::operator`).
const fn operators(
    method: &'static str,
    path: &'static str,
    handler: &'static str,
    summary: &'static str,
) -> RouteInfo {
    RouteInfo {
        access: "role:admin",
        ..framework(method, path, handler, summary)
    }
}

/// The clash of a route of `tables[t]` with another of its own, of an
/// earlier table, or of the framework's; or a table listed twice.
/// `bao::app!` calls it in a `const` spanned at the `t`-th item of its
/// lists, so the error points at the later of the two.
pub const fn route_clash_at(tables: &[&[RouteInfo]], t: usize) -> Option<Message> {
    let mine = tables[t];
    let mut earlier = 0;
    while earlier < t {
        if same_table(tables[earlier], mine) {
            return Some(listed_twice(mine[0].controller));
        }
        earlier += 1;
    }
    let mut i = 0;
    while i < mine.len() {
        let a = &mine[i];
        // Its own later routes, then every earlier table's, then Bao's.
        let mut j = i + 1;
        while j < mine.len() {
            if str_eq(a.method, mine[j].method) && same_shape(a.path, mine[j].path) {
                return Some(clash(a, &mine[j]));
            }
            j += 1;
        }
        let mut other = 0;
        while other <= t {
            let theirs = if other < t {
                tables[other]
            } else {
                FRAMEWORK_ROUTES
            };
            let mut j = 0;
            while j < theirs.len() {
                let b = &theirs[j];
                if str_eq(a.method, b.method) && same_shape(a.path, b.path) {
                    return Some(clash(b, a));
                }
                j += 1;
            }
            other += 1;
        }
        i += 1;
    }
    None
}

/// Whether two route tables are one controller's (listed twice).
const fn same_table(a: &[RouteInfo], b: &[RouteInfo]) -> bool {
    if a.is_empty() || a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !str_eq(a[i].controller, b[i].controller)
            || !str_eq(a[i].handler, b[i].handler)
            || !str_eq(a[i].method, b[i].method)
            || !str_eq(a[i].path, b[i].path)
        {
            return false;
        }
        i += 1;
    }
    true
}

const fn listed_twice(controller: &str) -> Message {
    let mut buf = [0u8; MESSAGE_LEN];
    let mut n = 0;
    n = push(&mut buf, n, "`");
    n = push(&mut buf, n, controller);
    n = push(
        &mut buf,
        n,
        "` is listed twice in bao::app!: list each controller once, in `controllers:`, and each JSON API once, in `apis:`",
    );
    Message::new(buf, n)
}

/// Same literal segments, parameters (without a custom regex) in the same places.
pub(crate) const fn same_shape(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        let (a_end, a_param) = segment(a, i);
        let (b_end, b_param) = segment(b, j);
        let equal = if a_param && b_param {
            true
        } else {
            a_end - i == b_end - j && bytes_eq(a, i, b, j, a_end - i)
        };
        if !equal {
            return false;
        }
        if a_end == a.len() || b_end == b.len() {
            return a_end == a.len() && b_end == b.len();
        }
        i = a_end + 1;
        j = b_end + 1;
    }
}

/// How general a path pattern is, segment by segment: a literal segment
/// (0) before a parameter with a pattern (1), before a plain parameter (2),
/// before a tail that matches the rest (3). Routes are registered in this
/// order (a stable sort keeps declaration order among equals), so
/// `/posts/new` wins over `/posts/{id}` wherever each is declared.
pub(crate) fn generality(path: &str) -> Vec<u8> {
    path.split('/')
        .map(|segment| match segment.find('{') {
            None => 0,
            Some(_) if segment.contains(":.*}") || segment.contains(":.+}") => 3,
            Some(0) if !segment.contains(':') => 2,
            Some(_) => 1,
        })
        .collect()
}

/// The end of the segment starting at `start`, and whether it is a plain parameter.
const fn segment(s: &[u8], start: usize) -> (usize, bool) {
    let mut end = start;
    let mut has_colon = false;
    while end < s.len() && s[end] != b'/' {
        if s[end] == b':' {
            has_colon = true;
        }
        end += 1;
    }
    let param = end > start && s[start] == b'{' && !has_colon;
    (end, param)
}

const fn bytes_eq(a: &[u8], i: usize, b: &[u8], j: usize, len: usize) -> bool {
    let mut k = 0;
    while k < len {
        if a[i + k] != b[j + k] {
            return false;
        }
        k += 1;
    }
    true
}

pub(crate) const fn clash(a: &RouteInfo, b: &RouteInfo) -> Message {
    // One of Bao's own routes: only the app's side can move.
    let reserved = str_eq(a.controller, "bao");
    let mut buf = [0u8; MESSAGE_LEN];
    let mut n = push(&mut buf, 0, "route clash: `");
    n = push(&mut buf, n, a.method);
    n = push(&mut buf, n, " ");
    n = push(&mut buf, n, a.path);
    if reserved {
        n = push(&mut buf, n, "` is Bao's own route (`bao::");
        n = push(&mut buf, n, a.handler);
        n = push(&mut buf, n, "`), so `");
    } else {
        n = push(&mut buf, n, "` is declared by `");
        n = push(&mut buf, n, a.controller);
        n = push(&mut buf, n, "::");
        n = push(&mut buf, n, a.handler);
        n = push(&mut buf, n, "` and by `");
    }
    n = push(&mut buf, n, b.controller);
    n = push(&mut buf, n, "::");
    n = push(&mut buf, n, b.handler);
    n = push(&mut buf, n, "` (as `");
    n = push(&mut buf, n, b.path);
    n = push(
        &mut buf,
        n,
        if reserved {
            "`) cannot have it: give the handler another path or method"
        } else {
            "`); change one path or method so each request has one handler"
        },
    );
    Message::new(buf, n)
}

/// A route of the `t`-th controller that needs a login in an app that
/// names no user model (`bao::app!` fails the build with it at that
/// controller when `auth:` is absent).
pub const fn login_without_auth_at(tables: &[&[RouteInfo]], t: usize) -> Option<Message> {
    let mut i = 0;
    while i < tables[t].len() {
        let r = &tables[t][i];
        if !str_eq(r.access, "public") {
            let mut buf = [0u8; MESSAGE_LEN];
            let mut n = 0;
            n = push(&mut buf, n, "route `");
            n = push(&mut buf, n, r.method);
            n = push(&mut buf, n, " ");
            n = push(&mut buf, n, r.path);
            n = push(&mut buf, n, "` (");
            n = push(&mut buf, n, r.controller);
            n = push(&mut buf, n, "::");
            n = push(&mut buf, n, r.handler);
            n = push(&mut buf, n, ") requires login, but this app has no user model: add `auth: User` to bao::app! (`bao make:auth` generates the model), or make the route public");
            return Some(Message::new(buf, n));
        }
        i += 1;
    }
    None
}

/// The column Bao's auth reads that the model named by
/// `bao::app!(auth: ..)` lacks (the build fails with it at the model).
pub const fn auth_model_problem(model: &str, columns: &[crate::db::ColumnInfo]) -> Option<Message> {
    let required = ["id", "email", "password_hash", "role"];
    let mut k = 0;
    while k < required.len() {
        let mut found = false;
        let mut i = 0;
        while i < columns.len() {
            if str_eq(columns[i].name, required[k]) {
                found = true;
            }
            i += 1;
        }
        if !found {
            let mut buf = [0u8; MESSAGE_LEN];
            let mut n = 0;
            n = push(&mut buf, n, "the auth model `");
            n = push(&mut buf, n, model);
            n = push(&mut buf, n, "` has no `");
            n = push(&mut buf, n, required[k]);
            n = push(&mut buf, n, "` field: Bao's auth reads `id`, `email`, `password_hash` and `role` (and `tenant_id` when present); add the field, or generate the model with `bao make:auth`");
            return Some(Message::new(buf, n));
        }
        k += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_are_registered_before_parameters() {
        let mut paths = vec![
            "/posts/{id}",
            "/files/{rest:.*}",
            "/posts/new",
            "/posts/{id:[0-9]+}",
            "/files/readme",
            "/{slug}",
            "/about",
        ];
        paths.sort_by_key(|p| generality(p));
        assert_eq!(
            paths,
            [
                "/about",
                "/posts/new",
                "/files/readme",
                "/posts/{id:[0-9]+}",
                "/posts/{id}",
                "/files/{rest:.*}",
                "/{slug}",
            ]
        );
    }

    fn route(method: &'static str, path: &'static str) -> RouteInfo {
        RouteInfo {
            method,
            path,
            controller: "C",
            handler: "h",
            summary: "",
            access: "public",
        }
    }

    #[test]
    fn shapes() {
        assert!(same_shape("/posts/{id}", "/posts/{slug}"));
        assert!(same_shape("/", "/"));
        assert!(!same_shape("/posts", "/posts/{id}"));
        assert!(!same_shape("/posts/new", "/posts/{id}"));
        assert!(!same_shape("/a/{x:\\d+}", "/a/{y}"));
    }

    /// The first clash of any table, as `bao::app!` would report it.
    fn first_clash(tables: &[&[RouteInfo]]) -> Option<String> {
        (0..tables.len()).find_map(|t| route_clash_at(tables, t).map(|m| m.as_str().to_string()))
    }

    #[test]
    fn distinct_routes_pass() {
        let a = [route("GET", "/posts"), route("POST", "/posts")];
        let b = [route("GET", "/posts/{id}")];
        assert_eq!(first_clash(&[&a, &b]), None);
    }

    #[test]
    fn clashes_name_both_routes() {
        let a = [route("GET", "/posts/{id}")];
        let b = [route("GET", "/posts/{slug}")];
        let message = first_clash(&[&a, &b]).unwrap();
        assert!(
            message.starts_with("route clash: `GET /posts/{id}`"),
            "{message}"
        );
    }

    #[test]
    fn a_clash_is_found_at_the_later_table_and_names_the_earlier_first() {
        let a = [route("GET", "/posts/{id}")];
        let b = [route("POST", "/posts")];
        let c = [route("GET", "/posts/{slug}")];
        let tables: [&[RouteInfo]; 3] = [&a, &b, &c];
        assert!(route_clash_at(&tables, 0).is_none());
        assert!(route_clash_at(&tables, 1).is_none());
        let message = route_clash_at(&tables, 2).unwrap();
        assert!(
            message
                .as_str()
                .starts_with("route clash: `GET /posts/{id}` is declared by"),
            "{}",
            message.as_str()
        );
        assert!(message.as_str().contains("(as `/posts/{slug}`)"));
    }

    #[test]
    fn a_table_listed_twice_is_said_to_be() {
        let a = [route("GET", "/posts/{id}"), route("POST", "/posts")];
        let message = route_clash_at(&[&a, &a], 1).unwrap();
        assert!(
            message.as_str().contains("is listed twice in bao::app!"),
            "{}",
            message.as_str()
        );
    }

    #[test]
    fn framework_routes_are_reserved() {
        let a = [route("GET", "/healthz")];
        let message = first_clash(&[&a]).unwrap();
        assert!(message.contains("`GET /healthz`"), "{message}");
    }
}
