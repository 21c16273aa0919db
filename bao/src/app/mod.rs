//! The app: its builder, configuration, route table and server.

mod routes;
mod server;

pub use crate::config::{Config, ConfigError, ConfigKey, Environment, LogFormat, CONFIG_KEYS};
pub use crate::support::konst::const_contains;
pub use routes::{check_auth_configured, check_auth_model, check_route_clashes, RouteInfo};
pub(crate) use server::{build_service, AppRuntime};
pub use server::{serve, serve_until};

use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Implemented by `#[bao::controller]` for the controller's type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Bao controller",
    label = "listed as a controller here",
    note = "add #[bao::controller(\"/path\")] to an `impl {Self}` block whose `async fn`s carry #[get(..)], #[post(..)], ..."
)]
pub trait Controller {
    /// The controller's type name.
    const NAME: &'static str;
    /// The base path given to `#[bao::controller]`.
    const BASE: &'static str;
    /// Every route of the controller.
    const ROUTES: &'static [RouteInfo];
    /// The routes marked `#[openapi]`, for the OpenAPI document.
    const DOCUMENTED: &'static [crate::api::DocumentedRoute] = &[];
    /// Registers the controller's handlers.
    fn configure(cfg: &mut actix_web::web::ServiceConfig);
}

/// A readiness check: `Ok(())` when the dependency it probes can serve.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
/// A shutdown hook, run once the server has drained.
pub type ShutdownHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct ControllerEntry {
    pub(crate) routes: &'static [RouteInfo],
    pub(crate) configure: fn(&mut actix_web::web::ServiceConfig),
}

/// A Bao application: what `bao::app!` builds and `serve`, the CLI and
/// `TestClient` run.
///
/// ```
/// let app = bao::App::new("Shop", "1.0.0")
///     .readiness_check("cache", || async { Ok(()) });
/// assert_eq!(app.name(), "Shop");
/// ```
#[derive(Clone)]
pub struct App {
    name: &'static str,
    version: &'static str,
    pub(crate) controllers: Vec<ControllerEntry>,
    pub(crate) readiness: Vec<(String, ReadinessCheck)>,
    pub(crate) shutdown_hooks: Vec<(String, ShutdownHook)>,
    pub(crate) states: Vec<StateRegistration>,
    models: &'static [crate::db::ModelInfo],
    source_dir: Option<&'static str>,
    pub(crate) users: Option<crate::auth::UsersTable>,
    pub(crate) openapi: Option<fn() -> crate::api::OpenApi>,
    pub(crate) workflows: Vec<crate::workflow::WorkflowDef>,
    pub(crate) tasks: Vec<crate::task::TaskDef>,
    pub(crate) schedules: Vec<crate::task::ScheduleDef>,
}

/// Registers one piece of shared state on each worker's service.
pub(crate) type StateRegistration = Arc<dyn Fn(&mut actix_web::web::ServiceConfig) + Send + Sync>;

impl App {
    /// An app with no controllers yet.
    pub fn new(name: &'static str, version: &'static str) -> Self {
        App {
            name,
            version,
            controllers: Vec::new(),
            readiness: Vec::new(),
            shutdown_hooks: Vec::new(),
            states: Vec::new(),
            models: &[],
            source_dir: None,
            users: None,
            openapi: None,
            workflows: Vec::new(),
            tasks: Vec::new(),
            schedules: Vec::new(),
        }
    }

    /// Adds a controller's routes.
    pub fn controller<C: Controller>(self) -> Self {
        self.register(C::ROUTES, C::configure)
    }

    /// What `bao::app!` calls: the controller's parts, named through the
    /// `Controller` trait at the user's span so that a type that is not a
    /// controller gives one error, not two.
    #[doc(hidden)]
    pub fn register(
        mut self,
        routes: &'static [RouteInfo],
        configure: fn(&mut actix_web::web::ServiceConfig),
    ) -> Self {
        self.controllers.push(ControllerEntry { routes, configure });
        self
    }

    /// Shares `value` with every handler: take it as `web::Data<T>`. One value
    /// is shared by all workers, so interior mutability must be thread-safe.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// #[derive(Default)]
    /// struct Visits(Mutex<u64>);
    /// let app = bao::App::new("Counter", "1.0.0").state(Visits::default());
    /// # let _ = app;
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        let data = actix_web::web::Data::new(value);
        self.states.push(Arc::new(move |cfg| {
            cfg.app_data(data.clone());
        }));
        self
    }

    /// Adds a dependency that `/readyz` checks; a failing check makes it answer
    /// 503 and name the check.
    pub fn readiness_check<F, Fut>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: ReadinessCheck = Arc::new(move || Box::pin(check()));
        self.readiness.push((name.to_string(), check));
        self
    }

    /// Adds a hook that runs at shutdown, after in-flight requests drained;
    /// hooks run in reverse registration order.
    pub fn on_shutdown<F, Fut>(mut self, name: &str, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook: ShutdownHook = Arc::new(move || Box::pin(hook()));
        self.shutdown_hooks.push((name.to_string(), hook));
        self
    }

    /// Sets the app's models (what `bao::app! { models: [..] }` lists).
    pub fn models(mut self, models: &'static [crate::db::ModelInfo]) -> Self {
        self.models = models;
        self
    }

    /// Names the user model that sessions, API tokens and `CurrentUser` read
    /// (what `bao::app! { auth: User }` does). Its table needs `id`, `email`,
    /// `password_hash` and `role` columns; `tenant_id` is used when present.
    pub fn auth<M: crate::db::Model>(mut self) -> Self {
        let has = |name: &str| M::COLUMNS.iter().any(|c| c.name == name);
        self.users = Some(crate::auth::UsersTable {
            table: M::TABLE,
            has_tenant: has("tenant_id"),
            has_created_at: has("created_at"),
            has_updated_at: has("updated_at"),
        });
        self
    }

    /// Registers a durable workflow (what `bao::app! { workflows: [..] }`
    /// does); `serve` and `bao worker` run it.
    pub fn workflow(mut self, definition: crate::workflow::WorkflowDef) -> Self {
        self.workflows.push(definition);
        self
    }

    /// Registers a durable task (what `bao::app! { tasks: [..] }` does);
    /// `serve` and `bao worker` run it.
    pub fn task(mut self, definition: crate::task::TaskDef) -> Self {
        self.tasks.push(definition);
        self
    }

    /// Registers a `#[bao::every]` schedule (what `bao::app! { schedules:
    /// [..] }` does): its ticks are tasks named `every:<name>`, claimed by the
    /// scheduler (`BAO_ENABLE_SCHEDULER=1` or `bao scheduler:run`) and run by
    /// the task workers.
    pub fn schedule(mut self, definition: crate::task::ScheduleDef) -> Self {
        self.tasks.push(definition.task);
        self.schedules.push(definition);
        self
    }

    /// The app's schedules.
    pub fn schedules(&self) -> &[crate::task::ScheduleDef] {
        &self.schedules
    }

    /// The app's tasks (the ticks of its schedules included).
    pub fn tasks(&self) -> &[crate::task::TaskDef] {
        &self.tasks
    }

    /// The app's workflows.
    pub fn workflows(&self) -> &[crate::workflow::WorkflowDef] {
        &self.workflows
    }

    /// Sets the OpenAPI document of the app's API resources (what
    /// `bao::app! { apis: [..] }` does); `/openapi.json` and `/docs` serve it.
    pub fn openapi(mut self, document: fn() -> crate::api::OpenApi) -> Self {
        self.openapi = Some(document);
        self
    }

    /// The app's OpenAPI document, when it has API resources.
    pub fn openapi_document(&self) -> Option<crate::api::OpenApi> {
        self.openapi.map(|f| f())
    }

    /// The user model's table, when the app has one.
    pub fn users_table(&self) -> Option<crate::auth::UsersTable> {
        self.users
    }

    /// The app's models, with their tables and columns.
    pub fn model_infos(&self) -> &'static [crate::db::ModelInfo] {
        self.models
    }

    /// The app crate's folder at build time (`bao::app!` sets it), where
    /// `migrations/` is found when the working directory has none.
    pub fn source_dir(mut self, dir: &'static str) -> Self {
        self.source_dir = Some(dir);
        self
    }

    /// Fills in what depends on the app: the migrations folder is
    /// `BAO_MIGRATIONS_DIR` when set, else `./migrations` when it exists, else
    /// the app crate's own `migrations/`.
    pub fn resolve_config(&self, mut config: Config) -> Config {
        let default = std::path::Path::new("migrations");
        if config.migrations_dir == default && !default.is_dir() {
            if let Some(source) = self.source_dir {
                let candidate = std::path::Path::new(source).join("migrations");
                if candidate.is_dir() {
                    config.migrations_dir = candidate;
                }
            }
        }
        config
    }

    /// The app's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The app's version (its crate version).
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// Every route: the app's controllers' first, then Bao's own.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let docs = self.openapi.is_some();
        self.controllers
            .iter()
            .flat_map(|c| c.routes.iter().copied())
            .chain(routes::FRAMEWORK_ROUTES.iter().copied())
            .chain(routes::DOCS_ROUTES.iter().copied().filter(|_| docs))
            .chain(
                routes::WORKFLOW_ROUTES
                    .iter()
                    .copied()
                    .filter(|_| !self.workflows.is_empty()),
            )
            .collect()
    }

    /// The routes this app serves under `config`: [`App::routes`] without
    /// `/metrics` when `BAO_METRICS_ENABLED=false`, nor `/docs` when the
    /// explorer is off.
    pub fn served_routes(&self, config: &Config) -> Vec<RouteInfo> {
        self.routes()
            .into_iter()
            .filter(|r| config.metrics_enabled || r.path != "/metrics")
            .filter(|r| config.docs_enabled || r.path != "/docs")
            .collect()
    }
}
