//! The console's pages: what each template is given.
//!
//! An app restyles a page by a template at the same path under its own
//! `views/` (`views/admin/overview.html`, ...; `bao admin:eject` copies
//! Bao's). `bao::app!` compiles such a template against the page's type
//! below, so a variable that does not exist is a compile error, and the
//! console renders it instead of Bao's. The fields and methods here are the
//! variables a template may use.

use super::store::{self, AuditFilter, RunFilter, CAP};
use askama::Template;
use std::any::Any;
use std::sync::Arc;

/// What every page shows around its content (`frame.*` in templates).
pub struct Frame {
    /// The CSRF token every action form sends as `csrf_token`.
    pub csrf_token: String,
    /// Who is signed in: an email, `admin-token` or `admin-link`.
    pub operator: String,
    /// Bao's stylesheet.
    pub css_url: &'static str,
    /// htmx.
    pub htmx_url: &'static str,
    /// htmx's server-sent events extension.
    pub htmx_sse_url: &'static str,
    /// Bao's page behaviours (`data-confirm` asks before a form submits).
    pub js_url: &'static str,
    /// The app's name.
    pub app_name: String,
    /// The message of the last action, once.
    pub notice: Option<String>,
}

/// A console page, rendered by Bao's template or by the app's at
/// [`AdminPage::PATH`] under `views/`.
pub trait AdminPage: Template + Any + Send {
    /// The template's path: `admin/overview.html`.
    const PATH: &'static str;
}

/// Every page's template path, for `bao admin:eject` and `bao::app!`.
pub const PATHS: &[&str] = &[
    OverviewPage::PATH,
    RunsPage::PATH,
    ApprovalsPage::PATH,
    DeadLettersPage::PATH,
    TasksPage::PATH,
    AuditPage::PATH,
];

/// An app's template for one page (what `bao::app!` registers for each
/// page found under the app's `views/admin/`).
pub struct Shadow {
    pub(crate) path: &'static str,
    render: Render,
}

/// Renders a page given as `Any` (None when it is another page's type).
type Render = Box<dyn Fn(&dyn Any) -> Option<askama::Result<String>> + Send + Sync>;

impl Shadow {
    /// Renders page `P` with `render` instead of Bao's template.
    pub fn of<P: AdminPage>(render: fn(&P) -> askama::Result<String>) -> Shadow {
        Shadow {
            path: P::PATH,
            render: Box::new(move |page| page.downcast_ref::<P>().map(render)),
        }
    }

    pub(crate) fn render(&self, page: &dyn Any) -> Option<askama::Result<String>> {
        (self.render)(page)
    }
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow").field("path", &self.path).finish()
    }
}

/// `10000+` past the cap, else the number.
pub(crate) fn capped(n: i64) -> String {
    if n > CAP {
        format!("{CAP}+")
    } else {
        n.to_string()
    }
}

/// Milliseconds since the epoch as `2026-12-01 09:30:00` (UTC).
pub(crate) fn when(ms: i64) -> String {
    crate::support::units::format_ms_utc(ms)
}

/// A field of a JSON object as text (empty when missing).
fn text_of(value: &serde_json::Value, key: &str) -> String {
    match &value[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `/_bao/admin`.
#[derive(Template)]
#[template(path = "admin/overview.html")]
pub struct OverviewPage {
    /// The page frame.
    pub frame: Frame,
    /// Runs started in the last 24 hours by status (capped counts).
    pub statuses: Vec<(&'static str, String)>,
    /// Approvals waiting for a decision (capped).
    pub pending_approvals: String,
    /// Dead letters not replayed (capped).
    pub dead_letters: String,
    /// The newest audit entries.
    pub audit: Vec<store::AuditLine>,
    /// What `bao describe` says of the app (routes, models, tasks, ...).
    pub parts: Arc<serde_json::Value>,
}

impl AdminPage for OverviewPage {
    const PATH: &'static str = "admin/overview.html";
}

impl OverviewPage {
    /// A list of the app's description: `workflows`, `agents`, `tasks`,
    /// `schedules`, `plugins`, `channels`, `models`, `routes`.
    pub fn list(&self, key: &str) -> Vec<serde_json::Value> {
        self.parts[key].as_array().cloned().unwrap_or_default()
    }

    /// A field of one item of [`OverviewPage::list`] as text.
    pub fn text(&self, value: &serde_json::Value, key: &str) -> String {
        text_of(value, key)
    }

    /// An audit entry's time (the audit log keeps seconds).
    pub fn when_seconds(&self, seconds: &i64) -> String {
        when(seconds.saturating_mul(1000))
    }
}

/// `/_bao/admin/runs`.
#[derive(Template)]
#[template(path = "admin/runs.html")]
pub struct RunsPage {
    /// The page frame.
    pub frame: Frame,
    /// The filter in the query string.
    pub filter: RunFilter,
    /// This page of runs, newest first.
    pub runs: Vec<crate::workflow::store::RunRow>,
    /// How many runs match the filter (capped).
    pub matching: String,
    /// The cursor of the next page.
    pub next: Option<String>,
    /// The app's workflows, for the filter.
    pub workflows: Vec<String>,
    /// Every run status, for the filter.
    pub statuses: &'static [&'static str],
}

impl AdminPage for RunsPage {
    const PATH: &'static str = "admin/runs.html";
}

impl RunsPage {
    /// A time in milliseconds as text.
    pub fn when(&self, ms: &i64) -> String {
        when(*ms)
    }

    /// The query string of the page after `before`, with this filter.
    pub fn query(&self, before: &str) -> String {
        serde_urlencoded::to_string([
            ("workflow", self.filter.workflow.as_str()),
            ("status", self.filter.status.as_str()),
            ("from", self.filter.from.as_str()),
            ("to", self.filter.to.as_str()),
            ("before", before),
        ])
        .unwrap_or_default()
    }
}

/// `/_bao/admin/approvals`.
#[derive(Template)]
#[template(path = "admin/approvals.html")]
pub struct ApprovalsPage {
    /// The page frame.
    pub frame: Frame,
    /// Requests waiting for a decision.
    pub pending: Vec<crate::agent::approvals::Approval>,
    /// The newest decided requests.
    pub decided: Vec<crate::agent::approvals::Approval>,
}

impl AdminPage for ApprovalsPage {
    const PATH: &'static str = "admin/approvals.html";
}

impl ApprovalsPage {
    /// JSON arguments pretty-printed.
    pub fn pretty(&self, arguments: &str) -> String {
        serde_json::from_str::<serde_json::Value>(arguments)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| arguments.to_string())
    }

    /// A time in milliseconds as text.
    pub fn when(&self, ms: &i64) -> String {
        when(*ms)
    }
}

/// `/_bao/admin/dead-letters`.
#[derive(Template)]
#[template(path = "admin/dead_letters.html")]
pub struct DeadLettersPage {
    /// The page frame.
    pub frame: Frame,
    /// The queue filter (empty: all).
    pub queue: String,
    /// This page of letters, newest first.
    pub letters: Vec<crate::fault::dlq::DeadLetter>,
    /// The cursor of the next page.
    pub next: Option<i64>,
}

impl AdminPage for DeadLettersPage {
    const PATH: &'static str = "admin/dead_letters.html";
}

impl DeadLettersPage {
    /// A time in milliseconds as text.
    pub fn when(&self, ms: &i64) -> String {
        when(*ms)
    }
}

/// `/_bao/admin/tasks`.
#[derive(Template)]
#[template(path = "admin/tasks.html")]
pub struct TasksPage {
    /// The page frame.
    pub frame: Frame,
    /// Tasks by name and status.
    pub counts: Vec<store::TaskCount>,
    /// The app's task declarations.
    pub tasks: Vec<serde_json::Value>,
}

impl AdminPage for TasksPage {
    const PATH: &'static str = "admin/tasks.html";
}

impl TasksPage {
    /// A field of a task declaration as text.
    pub fn text(&self, value: &serde_json::Value, key: &str) -> String {
        text_of(value, key)
    }

    /// A count, `10000+` past the cap.
    pub fn capped(&self, n: &i64) -> String {
        capped(*n)
    }
}

/// `/_bao/admin/audit`.
#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    /// The page frame.
    pub frame: Frame,
    /// The filter in the query string.
    pub filter: AuditFilter,
    /// This page of entries, newest first.
    pub entries: Vec<store::AuditLine>,
    /// The cursor of the next page.
    pub next: Option<i64>,
}

impl AdminPage for AuditPage {
    const PATH: &'static str = "admin/audit.html";
}

impl AuditPage {
    /// An entry's time (the audit log keeps seconds).
    pub fn when_seconds(&self, seconds: &i64) -> String {
        when(seconds.saturating_mul(1000))
    }

    /// The query string of the page after `before`, with this filter.
    pub fn query(&self, before: &i64) -> String {
        serde_urlencoded::to_string([
            ("action", self.filter.action.as_str()),
            ("actor", self.filter.actor.as_str()),
            ("from", self.filter.from.as_str()),
            ("to", self.filter.to.as_str()),
            ("before", before.to_string().as_str()),
        ])
        .unwrap_or_default()
    }
}
