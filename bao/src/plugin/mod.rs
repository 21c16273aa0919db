//! Plugins: extensions that declare what they may touch.
//!
//! ```ignore
//! pub struct Stripe;
//!
//! impl bao::Plugin for Stripe {
//!     const NAME: &'static str = "stripe";
//!     const CAPABILITIES: Capabilities = Capabilities::new()
//!         .hosts(&["api.stripe.com"])
//!         .secrets(&["STRIPE_KEY"])
//!         .db()
//!         .routes();
//!     const CONTROLLERS: &'static [PluginController] = &[bao::plugin::controller::<StripeWebhooks>()];
//!
//!     async fn startup(&self, ctx: &PluginCtx<Self>) -> bao::Result<()> {
//!         let key = ctx.secret("STRIPE_KEY")?;
//!         ctx.http().get("https://api.stripe.com/v1/balance")?.bearer_auth(key).send().await?;
//!         Ok(())
//!     }
//! }
//! // bao::app! { .., plugins: [Stripe] }
//! ```
//!
//! What is checked where:
//! - at compile time (`bao::app!`): a plugin with controllers that does not
//!   declare `.routes()`; its routes clashing with the app's, Bao's or
//!   another plugin's; a plugin calling [`PluginCtx::db`] without `.db()`;
//!   hosts and secret names that are not well formed;
//! - at run time: [`PluginCtx::secret`] of an undeclared name, and
//!   [`PluginCtx::http`] requests (redirects included) to undeclared hosts,
//!   are refused; routes added in [`Plugin::register`] without `.routes()`
//!   stop the app at start. Every use and every refusal is recorded for
//!   `bao plugins:audit`.
//!
//! `startup` runs when the app starts, in registration order, before it
//! listens; a failure is logged and makes `/readyz` answer 503 naming the
//! plugin. `shutdown` runs after the drain, in reverse order.

mod usage;

use crate::db::DbPool;
use crate::subsystem::{Core, Mounted, Subsystem};
use crate::support::konst::Message;
use crate::RouteInfo;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

pub use usage::{recorded, Usage, UsageRow};

/// What a plugin declares it may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Hosts it may call through [`PluginCtx::http`] (`api.stripe.com`, or
    /// `*.stripe.com` for its subdomains).
    pub hosts: &'static [&'static str],
    /// Environment variables it may read through [`PluginCtx::secret`].
    pub secrets: &'static [&'static str],
    /// It uses the app's database ([`PluginCtx::db`]).
    pub db: bool,
    /// It serves routes (its `CONTROLLERS`, or controllers added in
    /// `register`).
    pub routes: bool,
}

impl Capabilities {
    /// Nothing.
    pub const fn new() -> Capabilities {
        Capabilities {
            hosts: &[],
            secrets: &[],
            db: false,
            routes: false,
        }
    }

    /// May call these hosts.
    pub const fn hosts(self, hosts: &'static [&'static str]) -> Capabilities {
        Capabilities { hosts, ..self }
    }

    /// May read these environment variables.
    pub const fn secrets(self, secrets: &'static [&'static str]) -> Capabilities {
        Capabilities { secrets, ..self }
    }

    /// Uses the app's database.
    pub const fn db(self) -> Capabilities {
        Capabilities { db: true, ..self }
    }

    /// Serves routes.
    pub const fn routes(self) -> Capabilities {
        Capabilities {
            routes: true,
            ..self
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::new()
    }
}

/// A controller a plugin serves: [`controller`] makes one.
#[derive(Clone, Copy)]
pub struct PluginController {
    /// Its route table.
    pub routes: &'static [RouteInfo],
    /// Registers the handler of one of its routes.
    pub configure: fn(&mut actix_web::web::ServiceConfig, usize),
}

/// The controller `C`, for a plugin's `CONTROLLERS`.
pub const fn controller<C: crate::app::Controller>() -> PluginController {
    PluginController {
        routes: C::ROUTES,
        configure: C::configure,
    }
}

/// An extension of an app. See the [module documentation](self).
pub trait Plugin: Send + Sync + Sized + 'static {
    /// Its name (logs, `/readyz`, `bao plugins:list`).
    const NAME: &'static str;
    /// What it may touch.
    const CAPABILITIES: Capabilities;
    /// The controllers it serves (needs `.routes()`).
    const CONTROLLERS: &'static [PluginController] = &[];

    /// Adds what else it needs to the app (state, subsystems, channels).
    fn register(&self, app: crate::App) -> crate::App {
        app
    }

    /// Runs when the app starts, before it listens.
    fn startup(&self, ctx: &PluginCtx<Self>) -> impl Future<Output = crate::Result<()>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs when the app stops, after the drain.
    fn shutdown(&self, ctx: &PluginCtx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }
}

/// What a plugin's hooks get: the app's services, through its declared
/// capabilities.
pub struct PluginCtx<P: Plugin> {
    db: Option<DbPool>,
    usage: Arc<Usage>,
    http: reqwest::Client,
    _plugin: PhantomData<fn() -> P>,
}

impl<P: Plugin> PluginCtx<P> {
    fn new(db: Option<DbPool>) -> PluginCtx<P> {
        let usage = Arc::new(Usage::new(P::NAME, db.clone()));
        let refusals = usage.clone();
        // Redirects are followed only to declared hosts.
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let host = attempt.url().host_str().unwrap_or_default().to_string();
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if host_allowed(P::CAPABILITIES.hosts, &host) {
                attempt.follow()
            } else {
                refusals.record("host_refused", &host);
                attempt.error(format!(
                    "plugin `{}` was redirected to `{host}`, a host it did not declare",
                    P::NAME
                ))
            }
        });
        let http = reqwest::Client::builder()
            .redirect(policy)
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("bao/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        PluginCtx {
            db,
            usage,
            http,
            _plugin: PhantomData,
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &'static str {
        P::NAME
    }

    /// The app's database. A plugin that does not declare `.db()` does not
    /// compile when it calls this.
    pub fn db(&self) -> crate::Result<&DbPool> {
        const {
            assert!(
                P::CAPABILITIES.db,
                "this plugin calls PluginCtx::db without declaring it: add `.db()` to its CAPABILITIES"
            )
        };
        self.usage.record("db", "");
        self.db.as_ref().ok_or_else(|| {
            crate::Error::Internal(format!(
                "plugin `{}`: the app has no usable database",
                P::NAME
            ))
        })
    }

    /// The environment variable `name`, which the plugin must declare in
    /// `.secrets(..)`.
    pub fn secret(&self, name: &str) -> crate::Result<String> {
        if !P::CAPABILITIES.secrets.contains(&name) {
            self.usage.record("secret_refused", name);
            return Err(crate::Error::Internal(format!(
                "plugin `{}` read the secret `{name}` without declaring it: add it to `.secrets(&[..])`",
                P::NAME
            )));
        }
        self.usage.record("secret", name);
        std::env::var(name).map_err(|_| {
            crate::Error::Internal(format!("plugin `{}`: `{name}` is not set", P::NAME))
        })
    }

    /// An HTTP client for the plugin's declared hosts.
    pub fn http(&self) -> PluginHttp<'_, P> {
        PluginHttp { ctx: self }
    }

    /// What this plugin has used and been refused, in this process.
    pub fn usage(&self) -> Vec<(String, String)> {
        self.usage.seen()
    }
}

/// Requests to a plugin's declared hosts only.
pub struct PluginHttp<'a, P: Plugin> {
    ctx: &'a PluginCtx<P>,
}

impl<P: Plugin> PluginHttp<'_, P> {
    /// A GET request to `url`, if its host is declared.
    pub fn get(&self, url: &str) -> crate::Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::GET, url)
    }

    /// A POST request to `url`, if its host is declared.
    pub fn post(&self, url: &str) -> crate::Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::POST, url)
    }

    /// A request to `url`, if its host is declared.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> crate::Result<reqwest::RequestBuilder> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            crate::Error::BadRequest(format!("plugin `{}`: `{url}` is not a URL: {e}", P::NAME))
        })?;
        let host = parsed.host_str().unwrap_or_default();
        if !host_allowed(P::CAPABILITIES.hosts, host) {
            self.ctx.usage.record("host_refused", host);
            return Err(crate::Error::Internal(format!(
                "plugin `{}` called `{host}` without declaring it: add it to `.hosts(&[..])`",
                P::NAME
            )));
        }
        self.ctx.usage.record("host", host);
        Ok(self.ctx.http.request(method, parsed))
    }
}

/// `host` is one of `declared` (`*.example.com` covers its subdomains).
fn host_allowed(declared: &[&str], host: &str) -> bool {
    declared.iter().any(|d| covers(d, host))
}

/// The declared host `declared` covers `host`.
pub fn covers(declared: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match declared.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{}", domain.to_ascii_lowercase())),
        None => declared.eq_ignore_ascii_case(&host),
    }
}

/// What is wrong with a plugin's declarations, checked at compile time
/// (`bao::app!` fails the build with it at the plugin's name).
pub const fn problem<P: Plugin>() -> Option<Message> {
    use crate::support::konst::{push, MESSAGE_LEN};
    let caps = P::CAPABILITIES;
    let mut buf = [0u8; MESSAGE_LEN];
    if !P::CONTROLLERS.is_empty() && !caps.routes {
        let n = push(&mut buf, 0, "plugin `");
        let n = push(&mut buf, n, P::NAME);
        let n = push(
            &mut buf,
            n,
            "` has CONTROLLERS but does not declare routes: add `.routes()` to its CAPABILITIES",
        );
        return Some(Message::new(buf, n));
    }
    let mut i = 0;
    while i < caps.hosts.len() {
        if !is_host(caps.hosts[i]) {
            let n = push(&mut buf, 0, "plugin `");
            let n = push(&mut buf, n, P::NAME);
            let n = push(&mut buf, n, "` declares the host `");
            let n = push(&mut buf, n, caps.hosts[i]);
            let n = push(&mut buf, n, "`: a host is a name like `api.stripe.com` or `*.stripe.com`, without scheme, port or path");
            return Some(Message::new(buf, n));
        }
        i += 1;
    }
    let mut i = 0;
    while i < caps.secrets.len() {
        if !is_variable(caps.secrets[i]) {
            let n = push(&mut buf, 0, "plugin `");
            let n = push(&mut buf, n, P::NAME);
            let n = push(&mut buf, n, "` declares the secret `");
            let n = push(&mut buf, n, caps.secrets[i]);
            let n = push(
                &mut buf,
                n,
                "`: a secret is an environment variable name like `STRIPE_KEY`",
            );
            return Some(Message::new(buf, n));
        }
        i += 1;
    }
    None
}

const fn is_host(host: &str) -> bool {
    let b = host.as_bytes();
    if b.is_empty() || b.len() > 253 {
        return false;
    }
    let mut i = 0;
    if b.len() > 2 && b[0] == b'*' && b[1] == b'.' {
        i = 2;
    }
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

const fn is_variable(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// A clash of the `p`-th plugin's routes with the app's, Bao's, an earlier
/// plugin's or its own (`bao::app!` fails the build with it at that
/// plugin's name).
pub const fn route_clash_at(
    app: &[&[RouteInfo]],
    plugins: &[&[PluginController]],
    p: usize,
) -> Option<Message> {
    let mut c = 0;
    while c < plugins[p].len() {
        let table = plugins[p][c].routes;
        let mut i = 0;
        while i < table.len() {
            let a = &table[i];
            // Against the app's tables and Bao's own.
            let mut t = 0;
            while t < app.len() + 1 {
                let other = if t < app.len() {
                    app[t]
                } else {
                    crate::http::FRAMEWORK_ROUTES
                };
                if let Some(clash) = clash_in(a, other, 0) {
                    return Some(clash);
                }
                t += 1;
            }
            // Against earlier plugins' routes and the rest of its own.
            let mut q = 0;
            while q <= p {
                let mut d = 0;
                while d < plugins[q].len() {
                    let from = if q == p && d == c { i + 1 } else { 0 };
                    if q < p || d >= c {
                        if let Some(clash) = clash_in(a, plugins[q][d].routes, from) {
                            return Some(clash);
                        }
                    }
                    d += 1;
                }
                q += 1;
            }
            i += 1;
        }
        c += 1;
    }
    None
}

const fn clash_in(a: &RouteInfo, table: &[RouteInfo], from: usize) -> Option<Message> {
    let mut j = from;
    while j < table.len() {
        let b = &table[j];
        if crate::support::konst::str_eq(a.method, b.method)
            && crate::http::same_shape(a.path, b.path)
        {
            return Some(crate::http::clash(a, b));
        }
        j += 1;
    }
    None
}

/// A plugin as `bao plugins:list` and `describe` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginInfo {
    /// Its name.
    pub name: &'static str,
    /// What it declared.
    pub capabilities: Capabilities,
    /// Its routes.
    pub routes: Vec<RouteInfo>,
}

/// A plugin mounted as a subsystem: its context, its startup (recorded for
/// `/readyz`) and its shutdown.
pub(crate) struct PluginSubsystem<P: Plugin> {
    pub(crate) plugin: Arc<P>,
}

impl<P: Plugin> Subsystem for PluginSubsystem<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn mount(&self, core: &Core) -> Mounted {
        let ctx = Arc::new(PluginCtx::<P>::new(core.db.clone()));
        // None: not started yet; Some(Ok) started; Some(Err) failed.
        let status: Arc<Mutex<Option<Result<(), String>>>> = Arc::default();
        let (plugin, start_ctx, start_status) = (self.plugin.clone(), ctx.clone(), status.clone());
        let (stop_plugin, stop_ctx, stop_status) = (self.plugin.clone(), ctx, status.clone());
        Mounted::new()
            .on_startup(P::NAME, move || {
                let (plugin, ctx, status) =
                    (plugin.clone(), start_ctx.clone(), start_status.clone());
                async move {
                    let result = plugin.startup(&ctx).await.map_err(|e| e.to_string());
                    match &result {
                        Ok(()) => tracing::info!(plugin = P::NAME, "plugin started"),
                        Err(error) => {
                            tracing::error!(plugin = P::NAME, %error, "plugin startup failed")
                        }
                    }
                    *status.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            })
            .readiness(&format!("plugin:{}", P::NAME), move || {
                let status = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
                async move {
                    match status {
                        Some(Err(error)) => Err(format!("startup failed: {error}")),
                        _ => Ok(()),
                    }
                }
            })
            .on_shutdown(&format!("plugin:{}", P::NAME), move || {
                let (plugin, ctx, status) =
                    (stop_plugin.clone(), stop_ctx.clone(), stop_status.clone());
                async move {
                    // A plugin that never started has nothing to stop.
                    let started = matches!(
                        *status.lock().unwrap_or_else(|e| e.into_inner()),
                        Some(Ok(()))
                    );
                    if started {
                        plugin.shutdown(&ctx).await;
                        tracing::info!(plugin = P::NAME, "plugin stopped");
                    }
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_by_declared_wildcard() {
        let declared = &["api.stripe.com", "*.example.org"];
        assert!(host_allowed(declared, "api.stripe.com"));
        assert!(host_allowed(declared, "API.Stripe.com."));
        assert!(!host_allowed(declared, "stripe.com"));
        assert!(!host_allowed(declared, "api.stripe.com.evil.net"));
        assert!(host_allowed(declared, "a.b.example.org"));
        assert!(!host_allowed(declared, "example.org"));
        assert!(!host_allowed(declared, "badexample.org"));
    }

    #[test]
    fn hosts_and_secret_names_are_checked() {
        assert!(is_host("api.stripe.com") && is_host("*.stripe.com"));
        assert!(
            !is_host("https://api.stripe.com") && !is_host("api.stripe.com/v1") && !is_host("")
        );
        assert!(is_variable("STRIPE_KEY") && !is_variable("stripe-key") && !is_variable("1KEY"));
    }
}
