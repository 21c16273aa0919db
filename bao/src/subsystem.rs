//! The seam every part of a running app plugs into.
//!
//! A [`Subsystem`] is what an app is made of besides its controllers: auth,
//! the API documents, workflows, tasks, fault tolerance, and whatever an app
//! or a plugin adds with [`App::subsystem`](crate::App::subsystem). When the
//! app starts (`serve`, `bao worker`, a `TestClient`), each is *mounted*
//! once with the [`Core`] services, and returns what it contributes as a
//! [`Mounted`]: its own `web::Data<T>` state, routes, readiness checks,
//! metrics, background workers and shutdown hooks. The server loops over
//! those; no part of Bao reaches into another's state.
//!
//! ```
//! use bao::subsystem::{Core, Mounted, Subsystem};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! /// Counts greetings; handlers take `web::Data<Greetings>`.
//! #[derive(Default)]
//! pub struct Greetings(AtomicU64);
//!
//! pub struct GreetingsPlugin;
//!
//! impl Subsystem for GreetingsPlugin {
//!     fn name(&self) -> &'static str {
//!         "greetings"
//!     }
//!     fn mount(&self, _core: &Core) -> Mounted {
//!         let state = Arc::new(Greetings::default());
//!         let probe = state.clone();
//!         Mounted::new()
//!             .data(state)
//!             .readiness("greetings", move || {
//!                 let n = probe.0.load(Ordering::Relaxed);
//!                 async move { if n < u64::MAX { Ok(()) } else { Err("full".into()) } }
//!             })
//!     }
//! }
//!
//! let app = bao::App::new("Hello", "1.0.0").subsystem(GreetingsPlugin);
//! # let _ = app;
//! ```

use crate::config::Config;
use crate::db::DbPool;
pub use crate::http::health::{MetricsSource, ReadinessCheck};
use crate::http::RouteInfo;
use crate::obs::metrics::Metrics;
use actix_web::web::ServiceConfig;
use futures_util::future::BoxFuture;
use std::any::Any;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The app's name and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppInfo {
    /// The app's name (page titles, logs).
    pub name: &'static str,
    /// The app's version (its crate version).
    pub version: &'static str,
}

/// The services every subsystem is mounted with.
pub struct Core {
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// The database pool (connections open on first use), unless the
    /// configured database cannot be used at all.
    pub db: Option<DbPool>,
    /// The app's name and version.
    pub app: AppInfo,
    /// The app's metrics registry.
    pub metrics: Arc<Metrics>,
    /// The app's parts ([`App::parts`](crate::App::parts)): routes, models,
    /// workflows, agents, tasks, schedules, plugins, channel kinds.
    pub parts: Arc<serde_json::Value>,
}

/// A part of a running app. See the [module documentation](self).
pub trait Subsystem: Any + Send + Sync {
    /// A short name, for logs (`auth`, `workflows`).
    fn name(&self) -> &'static str;

    /// The routes it serves, for `bao routes`, `describe` and 405 answers.
    fn routes(&self) -> Vec<RouteInfo> {
        Vec::new()
    }

    /// Builds its state for one running app and says what it contributes.
    fn mount(&self, core: &Core) -> Mounted;
}

/// Registers something on each worker's actix-web service.
pub type Configure = Arc<dyn Fn(&mut ServiceConfig) + Send + Sync>;
/// A shutdown hook, run once the server has drained.
pub type ShutdownHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;
/// A startup hook, run once before the app serves (a plugin's `startup`).
pub type StartupHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;
/// Set when the app shuts down: background loops stop claiming work.
pub type StopFlag = Arc<AtomicBool>;

/// A background loop: it runs in `bao serve` and `bao worker` on Bao's
/// multi-threaded background runtime until the stop flag is set.
pub struct Worker {
    pub(crate) name: &'static str,
    pub(crate) run: Box<dyn FnOnce(StopFlag) -> BoxFuture<'static, ()> + Send>,
    pub(crate) on_timeout: Option<Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>>,
}

impl Worker {
    /// A loop named `name` (for logs); `run` gets the stop flag.
    pub fn new<F, Fut>(name: &'static str, run: F) -> Worker
    where
        F: FnOnce(StopFlag) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Worker {
            name,
            run: Box::new(move |stop| Box::pin(run(stop))),
            on_timeout: None,
        }
    }

    /// What to do when the loop is still running at the end of the drain
    /// timeout (release the work it holds, say).
    pub fn on_timeout<F, Fut>(mut self, f: F) -> Worker
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_timeout = Some(Box::new(move || Box::pin(f())));
        self
    }
}

/// What a mounted subsystem contributes. Built with its chained methods.
#[derive(Default)]
#[must_use = "return the Mounted from Subsystem::mount"]
pub struct Mounted {
    pub(crate) configure: Vec<Configure>,
    pub(crate) framework: Vec<Configure>,
    pub(crate) readiness: Vec<(String, ReadinessCheck)>,
    pub(crate) metrics: Vec<MetricsSource>,
    pub(crate) workers: Vec<Worker>,
    pub(crate) shutdown: Vec<(String, ShutdownHook)>,
    pub(crate) startup: Vec<(String, StartupHook)>,
}

impl Mounted {
    /// Contributes nothing yet.
    pub fn new() -> Mounted {
        Mounted::default()
    }

    /// Shares `state` with handlers, as `web::Data<T>`.
    pub fn data<T: Send + Sync + 'static>(self, state: Arc<T>) -> Mounted {
        let data = actix_web::web::Data::from(state);
        self.routes(move |cfg| {
            cfg.app_data(data.clone());
        })
    }

    /// Registers routes (or anything else) at the app's root.
    pub fn routes(mut self, f: impl Fn(&mut ServiceConfig) + Send + Sync + 'static) -> Mounted {
        self.configure.push(Arc::new(f));
        self
    }

    /// Registers routes under `/_bao` (paths given relative to it).
    pub fn framework_routes(
        mut self,
        f: impl Fn(&mut ServiceConfig) + Send + Sync + 'static,
    ) -> Mounted {
        self.framework.push(Arc::new(f));
        self
    }

    /// Adds a check `/readyz` runs; a failing one makes it answer 503.
    pub fn readiness<F, Fut>(mut self, name: &str, check: F) -> Mounted
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness
            .push((name.to_string(), Arc::new(move || Box::pin(check()))));
        self
    }

    /// Runs `source` before each `/metrics` scrape (see [`MetricsSource`]).
    pub fn metrics<F, Fut>(mut self, source: F) -> Mounted
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        self.metrics.push(Arc::new(move || Box::pin(source())));
        self
    }

    /// Adds a background loop.
    pub fn worker(mut self, worker: Worker) -> Mounted {
        self.workers.push(worker);
        self
    }

    /// Adds a hook run at shutdown, after requests and workers drained.
    pub fn on_shutdown<F, Fut>(mut self, name: &str, hook: F) -> Mounted
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shutdown
            .push((name.to_string(), Arc::new(move || Box::pin(hook()))));
        self
    }

    /// Adds a hook run once when the app starts, before it serves, in
    /// mount order (it records its own failures: see [`Mounted::readiness`]).
    pub fn on_startup<F, Fut>(mut self, name: &str, hook: F) -> Mounted
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.startup
            .push((name.to_string(), Arc::new(move || Box::pin(hook()))));
        self
    }

    /// Adds everything `other` contributes after what this one does.
    pub(crate) fn merge(&mut self, other: Mounted) {
        self.configure.extend(other.configure);
        self.framework.extend(other.framework);
        self.readiness.extend(other.readiness);
        self.metrics.extend(other.metrics);
        self.workers.extend(other.workers);
        self.shutdown.extend(other.shutdown);
        self.startup.extend(other.startup);
    }
}

/// A subsystem as `App` keeps it: shared, and found again by its type.
pub(crate) type Entry = Arc<dyn Subsystem>;

/// The subsystem of type `S` in `list`, if any.
pub(crate) fn find<S: Subsystem>(list: &[Entry]) -> Option<&S> {
    list.iter()
        .find_map(|s| (s.as_ref() as &dyn Any).downcast_ref::<S>())
}

/// Changes the subsystem of type `S` in `list` (adding `S::default()` first
/// when there is none).
pub(crate) fn update<S: Subsystem + Clone + Default>(
    list: &mut Vec<Entry>,
    f: impl FnOnce(&mut S),
) {
    let at = list.iter().position(|s| (s.as_ref() as &dyn Any).is::<S>());
    let mut value = at
        .and_then(|i| (list[i].as_ref() as &dyn Any).downcast_ref::<S>().cloned())
        .unwrap_or_default();
    f(&mut value);
    match at {
        Some(i) => list[i] = Arc::new(value),
        None => list.push(Arc::new(value)),
    }
}
