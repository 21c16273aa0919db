//! The app: its builder, configuration, route table and server.

mod server;

pub use crate::config::{Config, ConfigError, ConfigKey, Environment, LogFormat, CONFIG_KEYS};
pub use crate::http::RouteInfo;
pub use crate::subsystem::{ReadinessCheck, ShutdownHook};
pub use crate::support::konst::const_contains;
pub(crate) use server::{build_service, Running, Signals};
pub use server::{serve, serve_until};

use crate::subsystem::{self as seam, Subsystem};
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
    /// Registers the handler of `ROUTES[route]`. The server registers every
    /// controller's routes one by one, most specific pattern first, so a
    /// static segment wins over a parameter whatever the declaration order.
    fn configure(cfg: &mut actix_web::web::ServiceConfig, route: usize);
}

#[derive(Clone)]
pub(crate) struct ControllerEntry {
    pub(crate) routes: &'static [RouteInfo],
    pub(crate) configure: fn(&mut actix_web::web::ServiceConfig, usize),
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
    /// Auth, fault tolerance, and whatever the app uses or adds: the server
    /// mounts each and loops over what they contribute.
    pub(crate) subsystems: Vec<seam::Entry>,
    plugins: Vec<crate::plugin::PluginInfo>,
    seeder: Option<Seeder>,
}

/// What [`App::seed`] registers: fills a database with the app's seed data.
pub type Seeder = Arc<
    dyn Fn(crate::db::DbPool) -> futures_util::future::BoxFuture<'static, crate::Result<()>>
        + Send
        + Sync,
>;

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
            subsystems: vec![
                Arc::new(crate::auth::AuthSubsystem::default()),
                Arc::new(crate::fault::FaultSubsystem),
                Arc::new(crate::ai::AiSubsystem::default()),
                Arc::new(crate::channel::Channels::default()),
                Arc::new(crate::admin::AdminSubsystem::default()),
                Arc::new(crate::mcp::http::McpSubsystem),
            ],
            plugins: Vec::new(),
            seeder: None,
        }
    }

    /// The app's seed data: `bao db:seed` runs `seed` against the configured
    /// database (after its migrations). Write it so that running it twice
    /// changes nothing (look before you insert).
    ///
    /// ```
    /// let app = bao::App::new("Shop", "1.0.0").seed(|db| async move {
    ///     let _ = db; // create the first rows here
    ///     Ok(())
    /// });
    /// assert!(app.seeder().is_some());
    /// ```
    pub fn seed<F, Fut>(mut self, seed: F) -> Self
    where
        F: Fn(crate::db::DbPool) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = crate::Result<()>> + Send + 'static,
    {
        self.seeder = Some(Arc::new(move |db| Box::pin(seed(db))));
        self
    }

    /// What [`App::seed`] registered.
    pub fn seeder(&self) -> Option<&Seeder> {
        self.seeder.as_ref()
    }

    /// Adds a subsystem (a plugin): it is mounted when the app starts and
    /// contributes state, routes, readiness checks, metrics, background
    /// workers and shutdown hooks (see [`crate::subsystem`]).
    pub fn subsystem<S: Subsystem>(mut self, subsystem: S) -> Self {
        self.subsystems.push(Arc::new(subsystem));
        self
    }

    /// The AI router `bao::ai::ask` and friends use once the app starts
    /// (else one built from `BAO_AI_*`).
    ///
    /// ```
    /// use bao::ai::{Echo, Router, Scripted};
    /// let app = bao::App::new("Hello", "1.0.0")
    ///     .ai(Router::new().provider(Scripted::new(["hi"])).provider(Echo::new()));
    /// assert_eq!(app.ai_router().unwrap().provider_names(), ["scripted", "echo"]);
    /// ```
    pub fn ai(self, router: crate::ai::Router) -> Self {
        self.with::<crate::ai::AiSubsystem>(|ai| *ai = crate::ai::AiSubsystem::new(router))
    }

    /// The router given to [`App::ai`], if any.
    pub fn ai_router(&self) -> Option<&crate::ai::Router> {
        self.get::<crate::ai::AiSubsystem>()
            .and_then(|ai| ai.configured())
    }

    /// The app's subsystems, in mount order.
    pub fn subsystem_names(&self) -> Vec<&'static str> {
        self.subsystems.iter().map(|s| s.name()).collect()
    }

    fn with<S: Subsystem + Clone + Default>(mut self, f: impl FnOnce(&mut S)) -> Self {
        seam::update::<S>(&mut self.subsystems, f);
        self
    }

    fn get<S: Subsystem>(&self) -> Option<&S> {
        seam::find::<S>(&self.subsystems)
    }

    /// Adds a plugin (`bao::app! { plugins: [..] }` does): its controllers,
    /// what its `register` adds, and its startup and shutdown.
    ///
    /// # Panics
    /// If the plugin serves routes (its `CONTROLLERS`, or controllers its
    /// `register` adds) without declaring `.routes()`.
    pub fn plugin<P: crate::plugin::Plugin>(mut self, plugin: P) -> Self {
        let caps = P::CAPABILITIES;
        assert!(
            caps.routes || P::CONTROLLERS.is_empty(),
            "plugin `{}` has CONTROLLERS but does not declare routes: add `.routes()` to its CAPABILITIES",
            P::NAME
        );
        for c in P::CONTROLLERS {
            self = self.register(c.routes, c.configure);
        }
        let before = self.controllers.len();
        self = plugin.register(self);
        assert!(
            caps.routes || self.controllers.len() == before,
            "plugin `{}` added controllers in `register` without declaring routes: add `.routes()` to its CAPABILITIES",
            P::NAME
        );
        let routes = P::CONTROLLERS
            .iter()
            .map(|c| c.routes)
            .chain(self.controllers[before..].iter().map(|c| c.routes))
            .flat_map(|table| table.iter().copied())
            .collect();
        self.plugins.push(crate::plugin::PluginInfo {
            name: P::NAME,
            capabilities: caps,
            routes,
        });
        self.subsystems
            .push(Arc::new(crate::plugin::PluginSubsystem {
                plugin: Arc::new(plugin),
            }));
        self
    }

    /// The app's plugins, in registration order.
    pub fn plugins(&self) -> &[crate::plugin::PluginInfo] {
        &self.plugins
    }

    /// Adds a channel kind (`bao::app! { channels: [..] }` does, for each
    /// `#[bao::channel]` and `#[bao::ws]` function).
    pub fn channel(self, definition: crate::channel::ChannelDef) -> Self {
        self.with::<crate::channel::Channels>(|c| c.defs.push(definition))
    }

    /// Renders an admin console page with the app's template instead of
    /// Bao's: what `bao::app!` registers for each page it finds under the
    /// app's `views/admin/` (see [`crate::admin::pages`]).
    pub fn admin_template(self, shadow: crate::admin::pages::Shadow) -> Self {
        let shadow = Arc::new(shadow);
        self.with::<crate::admin::AdminSubsystem>(|a| {
            a.shadows.retain(|s| s.path != shadow.path);
            a.shadows.push(shadow);
        })
    }

    /// Shows Bao's error answers (404, 500, ..) with the app's own page:
    /// what `bao::app!` registers when the app has a `views/error.html`.
    pub fn error_page(self, page: crate::view::ErrorPage) -> Self {
        self.with::<crate::view::ErrorPages>(|e| e.page = Some(page))
    }

    /// The channel kinds the app serves, its own then Bao's.
    pub fn channels(&self) -> Vec<crate::channel::ChannelDef> {
        self.get::<crate::channel::Channels>()
            .map(|c| c.kinds())
            .unwrap_or_default()
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
        configure: fn(&mut actix_web::web::ServiceConfig, usize),
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
    pub fn auth<M: crate::db::Model>(self) -> Self {
        let has = |name: &str| M::COLUMNS.iter().any(|c| c.name == name);
        let users = crate::auth::UsersTable {
            table: M::TABLE,
            has_tenant: has("tenant_id"),
            has_created_at: has("created_at"),
            has_updated_at: has("updated_at"),
        };
        self.with(|auth: &mut crate::auth::AuthSubsystem| auth.users = Some(users))
    }

    /// Registers a durable workflow (what `bao::app! { workflows: [..] }`
    /// does); `serve` and `bao worker` run it.
    pub fn workflow(self, definition: crate::workflow::WorkflowDef) -> Self {
        self.with(|w: &mut crate::workflow::Workflows| w.defs.push(definition))
    }

    /// Registers agent `A` (what `bao::app! { agents: [..] }` does): its runs
    /// are workflow runs that `serve` and `bao worker` carry on.
    pub fn agent<A: crate::agent::Agent>(self) -> Self {
        let entry = crate::agent::AgentEntry::of::<A>();
        let workflow = entry.workflow;
        self.workflow(workflow)
            .with(|a: &mut crate::agent::Agents| a.entries.push(entry))
    }

    /// The app's agents.
    pub fn agents(&self) -> &[crate::agent::AgentEntry] {
        self.get::<crate::agent::Agents>()
            .map_or(&[], |a| a.entries())
    }

    /// Registers a durable task (what `bao::app! { tasks: [..] }` does);
    /// `serve` and `bao worker` run it.
    pub fn task(self, definition: crate::task::TaskDef) -> Self {
        self.with(|t: &mut crate::task::Tasks| t.defs.push(definition))
    }

    /// Registers a `#[bao::every]` schedule (what `bao::app! { schedules:
    /// [..] }` does): its ticks are tasks named `every:<name>`, claimed by the
    /// scheduler (`BAO_ENABLE_SCHEDULER=1` or `bao scheduler:run`) and run by
    /// the task workers.
    pub fn schedule(self, definition: crate::task::ScheduleDef) -> Self {
        self.with(|t: &mut crate::task::Tasks| {
            t.defs.push(definition.task);
            t.schedules.push(definition);
        })
    }

    /// The app's schedules.
    pub fn schedules(&self) -> &[crate::task::ScheduleDef] {
        self.get::<crate::task::Tasks>()
            .map_or(&[], |t| t.schedules.as_slice())
    }

    /// The app's tasks (the ticks of its schedules included).
    pub fn tasks(&self) -> &[crate::task::TaskDef] {
        self.get::<crate::task::Tasks>()
            .map_or(&[], |t| t.defs.as_slice())
    }

    /// The app's workflows.
    pub fn workflows(&self) -> &[crate::workflow::WorkflowDef] {
        self.get::<crate::workflow::Workflows>()
            .map_or(&[], |w| w.defs.as_slice())
    }

    /// Sets the OpenAPI document of the app's API resources (what
    /// `bao::app! { apis: [..] }` does); `/openapi.json` and `/docs` serve it.
    pub fn openapi(self, document: fn() -> crate::api::OpenApi) -> Self {
        self.with(|api: &mut crate::api::ApiSubsystem| api.document = Some(document))
    }

    /// The app's OpenAPI document, when it has API resources.
    pub fn openapi_document(&self) -> Option<crate::api::OpenApi> {
        self.get::<crate::api::ApiSubsystem>()
            .and_then(|api| api.document)
            .map(|f| f())
    }

    /// The user model's table, when the app has one.
    pub fn users_table(&self) -> Option<crate::auth::UsersTable> {
        self.get::<crate::auth::AuthSubsystem>()
            .and_then(|auth| auth.users)
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
        self.controllers
            .iter()
            .flat_map(|c| c.routes.iter().copied())
            .chain(crate::http::FRAMEWORK_ROUTES.iter().copied())
            .chain(self.subsystems.iter().flat_map(|s| s.routes()))
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

    /// The app's parts as JSON: routes, models, workflows, agents, tasks,
    /// schedules (with their next slot), plugins and channel kinds. What
    /// `bao describe --json` and the admin console show.
    pub fn parts(&self, config: &Config) -> serde_json::Value {
        use serde_json::json;
        json!({
            "routes": self.served_routes(config),
            "models": self.model_infos(),
            "workflows": self.workflows().iter().map(|w| json!({"name": w.name, "version": w.version})).collect::<Vec<_>>(),
            "agents": self.agents().iter().map(|a| a.describe()).collect::<Vec<_>>(),
            "tasks": self.tasks().iter().map(|t| json!({
                "name": t.name,
                "kind": if t.kind == crate::task::TaskKind::Cpu { "cpu" } else { "io" },
                "max_attempts": t.max_attempts,
                "max_concurrency": t.max_concurrency,
            })).collect::<Vec<_>>(),
            "schedules": self.schedules().iter().map(|s| json!({
                "name": s.name,
                "schedule": s.text,
                "missed": s.missed,
                "next": s.next_after(chrono::Utc::now()).map(|t| t.to_rfc3339()),
            })).collect::<Vec<_>>(),
            "plugins": self.plugins(),
            "channels": self.channels().iter().map(|c| json!({
                "kind": c.kind,
                "access": c.access_name(),
                "sse": if c.access_name() == "socket" { None } else { Some(format!("/_bao/channels/{}/{{id}}", c.kind)) },
                "websocket": format!("/_bao/ws/{}/{{id}}", c.kind),
            })).collect::<Vec<_>>(),
        })
    }
}
