//! Building the actix-web service for an app, serving it, and shutting down
//! gracefully: shed new requests, drain in-flight ones, run shutdown hooks.

use super::{App, Config};
use crate::http::health::{Health, Lifecycle};
use crate::http::middleware::BaoMiddleware;
use crate::http::state::ServerState;
use crate::obs::metrics::Metrics;
use crate::subsystem::{AppInfo, Core, Mounted, StopFlag, Worker};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One running instance of an app: the core services and what every
/// subsystem contributed when mounted.
pub(crate) struct Running {
    pub(crate) core: Core,
    pub(crate) server: Arc<ServerState>,
    health: Arc<Health>,
    pub(crate) signer: Arc<crate::support::crypto::Signer>,
    configure: Vec<crate::subsystem::Configure>,
    framework: Vec<crate::subsystem::Configure>,
    pub(crate) workers: std::sync::Mutex<Vec<Worker>>,
    pub(crate) shutdown_hooks: Vec<(String, crate::subsystem::ShutdownHook)>,
    startup_hooks: std::sync::Mutex<Vec<(String, crate::subsystem::StartupHook)>>,
}

impl Running {
    pub(crate) fn new(app: &App, config: Config) -> Self {
        let config = Arc::new(app.resolve_config(config));
        let db = match crate::db::DbPool::new(&config.database_url) {
            Ok(pool) => Some(pool),
            Err(error) => {
                tracing::error!(%error, "the database is not usable");
                None
            }
        };
        if let Some(pool) = &db {
            pool.record_runnable(
                app.tasks().iter().map(|t| t.name).collect(),
                app.workflows().iter().map(|w| w.name).collect(),
            );
        }
        let metrics = Arc::new(Metrics::new());
        let core = Core {
            parts: Arc::new(app.parts(&config)),
            config: config.clone(),
            db: db.clone(),
            app: AppInfo {
                name: app.name(),
                version: app.version(),
            },
            metrics: metrics.clone(),
        };
        let mut mounted = Mounted::new();
        for subsystem in &app.subsystems {
            mounted.merge(subsystem.mount(&core));
        }
        let mut readiness = app.readiness.clone();
        // An app with migrations or background work uses its database:
        // readiness depends on it.
        let uses_database = has_migrations(&config)
            || !app.workflows().is_empty()
            || !app.tasks().is_empty()
            || !app.schedules().is_empty();
        if let Some(pool) = db.filter(|_| uses_database) {
            readiness.insert(
                0,
                (
                    "database".to_string(),
                    Arc::new(move || {
                        let pool = pool.clone();
                        Box::pin(async move { pool.ping().await.map_err(|e| e.to_string()) })
                            as futures_util::future::BoxFuture<'static, Result<(), String>>
                    }) as crate::subsystem::ReadinessCheck,
                ),
            );
        }
        readiness.extend(mounted.readiness);
        let lifecycle = Arc::new(Lifecycle::default());
        let routes: Vec<_> = app
            .routes()
            .into_iter()
            .filter(|r| config.metrics_enabled || r.path != "/metrics")
            .collect();
        let server = Arc::new(ServerState::new(
            config.clone(),
            metrics.clone(),
            lifecycle.clone(),
            &routes,
        ));
        let health = Arc::new(Health {
            scrape: crate::http::health::MetricsAccess::from_config(&config),
            lifecycle,
            readiness,
            metrics,
            sources: mounted.metrics,
        });
        let mut shutdown_hooks = app.shutdown_hooks.clone();
        shutdown_hooks.extend(mounted.shutdown);
        Running {
            signer: Arc::new(crate::support::crypto::Signer::new(&config.secret_key)),
            core,
            server,
            health,
            configure: mounted.configure,
            framework: mounted.framework,
            workers: std::sync::Mutex::new(mounted.workers),
            shutdown_hooks,
            startup_hooks: std::sync::Mutex::new(mounted.startup),
        }
    }

    /// Runs the subsystems' startup hooks (plugins' `startup`), once, in
    /// mount order.
    pub(crate) async fn start_up(&self) {
        let hooks =
            std::mem::take(&mut *self.startup_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for (name, hook) in hooks {
            tracing::debug!(hook = %name, "running startup hook");
            hook().await;
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.core.config
    }

    /// Starts the subsystems' background workers (once).
    pub(crate) fn start_workers(&self, stop: StopFlag) -> std::io::Result<Option<Background>> {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        Background::start(workers, stop)
    }
}

/// A body that could not be read (`what`: the form, the JSON body): Bao's
/// error page, or a problem document for clients that want JSON, with the
/// reason.
fn body_error<E: actix_web::ResponseError + 'static>(
    error: E,
    req: &actix_web::HttpRequest,
    what: &str,
) -> actix_web::Error {
    let status = error.status_code();
    let detail = format!("{what} could not be read: {error}.");
    let title = status.canonical_reason().unwrap_or("Bad Request");
    let response = crate::http::page::problem_or_page(req, status, title, &detail);
    actix_web::error::InternalError::from_response(error, response).into()
}

/// The subsystems' background loops, on a multi-threaded runtime of their
/// own so that they use every core whatever the HTTP server does.
pub(crate) struct Background {
    runtime: tokio::runtime::Runtime,
    running: Vec<RunningWorker>,
    stop: StopFlag,
}

type OnTimeout = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;

struct RunningWorker {
    name: &'static str,
    handle: tokio::task::JoinHandle<()>,
    on_timeout: Option<OnTimeout>,
}

impl Background {
    fn start(workers: Vec<Worker>, stop: StopFlag) -> std::io::Result<Option<Background>> {
        if workers.is_empty() {
            return Ok(None);
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bao-worker")
            .enable_all()
            .build()?;
        let running = workers
            .into_iter()
            .map(|w| RunningWorker {
                name: w.name,
                handle: runtime.spawn((w.run)(stop.clone())),
                on_timeout: w.on_timeout,
            })
            .collect();
        Ok(Some(Background {
            runtime,
            running,
            stop,
        }))
    }

    /// Tells the loops to stop, gives them until `drain` to finish what they
    /// hold, then runs the timeout handler of each one still going.
    pub(crate) async fn finish(self, drain: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + drain;
        for worker in self.running {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, worker.handle).await.is_err() {
                tracing::debug!(worker = worker.name, "still running at the drain timeout");
                if let Some(on_timeout) = worker.on_timeout {
                    on_timeout().await;
                }
            }
        }
        // Work still on its threads was released above: do not wait for it.
        self.runtime.shutdown_background();
    }
}

fn has_migrations(config: &Config) -> bool {
    std::fs::read_dir(&config.migrations_dir).is_ok_and(|mut d| d.next().is_some())
}

/// The actix-web app for `app`: framework routes, the subsystems' and the
/// app's controllers, and Bao's middleware, with the configured body limits.
pub(crate) fn build_service(
    app: &App,
    running: &Running,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let config = running.core.config.clone();
    let limit = config.max_body_size;
    let metrics_enabled = config.metrics_enabled;
    let mut service = actix_web::App::new()
        .app_data(web::Data::from(running.server.clone()))
        .app_data(web::Data::from(running.health.clone()))
        .app_data(web::Data::from(config))
        .app_data(web::Data::from(running.signer.clone()))
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::FormConfig::default()
                .limit(limit)
                .error_handler(|error, req| body_error(error, req, "The form")),
        )
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|error, req| body_error(error, req, "The JSON body")),
        )
        .configure(|cfg| crate::http::health::configure(cfg, metrics_enabled));
    if let Some(pool) = running.core.db.clone() {
        service = service.app_data(web::Data::new(pool));
    }
    // Bao's pages and assets under `/_bao` share one scope: a request
    // elsewhere skips them all with one prefix check instead of matching
    // each (dynamic) path.
    let framework = running.framework.clone();
    let live_reload = running.core.config.live_reload;
    service = service.service(
        web::scope(crate::http::FRAMEWORK_SCOPE)
            .configure(crate::http::static_files::configure)
            .configure(move |cfg| crate::http::app_assets::configure_reload(cfg, live_reload))
            .configure(move |cfg| {
                for f in &framework {
                    f(cfg);
                }
            }),
    );
    for f in &running.configure {
        let f = f.clone();
        service = service.configure(move |cfg| f(cfg));
    }
    for state in &app.states {
        let state = state.clone();
        service = service.configure(move |cfg| state(cfg));
    }
    // Every controller's routes one by one, the most specific pattern
    // first: actix tries resources in registration order.
    let mut routes: Vec<_> = app
        .controllers
        .iter()
        .flat_map(|c| (0..c.routes.len()).map(move |i| (c.routes[i].path, c.configure, i)))
        .collect();
    routes.sort_by_cached_key(|(path, _, _)| crate::http::generality(path));
    for (_, configure, i) in routes {
        service = service.configure(move |cfg| configure(cfg, i));
    }
    let assets_config = running.core.config.clone();
    service = service.configure(move |cfg| crate::http::app_assets::configure(cfg, &assets_config));
    service
        .default_service(web::to(crate::http::not_found))
        .wrap(actix_web::middleware::from_fn(crate::view::page_layer))
        .wrap(BaoMiddleware::new(running.server.clone()))
}

/// Serves `app` until SIGTERM or SIGINT, then shuts down gracefully: new
/// requests get 503 (except `/healthz` and `/readyz`), in-flight requests get
/// up to `BAO_SHUTDOWN_DRAIN_TIMEOUT` to finish, and shutdown hooks run in
/// reverse registration order.
pub async fn serve(app: App, config: Config) -> std::io::Result<()> {
    let signals = Signals::install();
    serve_until(app, config, async move {
        let signal = signals.recv().await;
        tracing::info!(signal, "signal received");
    })
    .await
}

/// Like [`serve`], but shutdown starts when `shutdown` completes instead of on
/// a signal (for embedding Bao and for tests).
pub async fn serve_until(
    app: App,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + 'static,
) -> std::io::Result<()> {
    let running = Arc::new(Running::new(&app, config));
    // Plugins start, in order, before the app listens.
    running.start_up().await;
    let config = running.core.config.clone();
    let drain_timeout = config.shutdown_drain_timeout;
    let address = config.bind_address();
    let factory_app = app.clone();
    let factory_running = running.clone();
    let server = HttpServer::new(move || build_service(&factory_app, &factory_running))
        .workers(config.workers)
        .disable_signals()
        .shutdown_timeout(drain_timeout.as_secs().max(1))
        .bind(&address)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot listen on {address}: {e} (set BAO_PORT or --port to use another port)"
                ),
            )
        })?
        .run();
    let handle = server.handle();
    if config.secret_key_generated {
        tracing::warn!("BAO_SECRET_KEY is not set: using a key generated for this process; sessions end when it restarts");
    }
    tracing::info!(
        app = app.name(),
        version = app.version(),
        address = %format!("http://{address}"),
        workers = config.workers,
        "listening"
    );
    crate::task::configure(&config);
    // Background workers stop claiming at shutdown.
    let stop = Arc::new(AtomicBool::new(false));
    let background = running.start_workers(stop.clone())?;
    let lifecycle = running.health.lifecycle.clone();
    let signal_stop = stop.clone();
    actix_web::rt::spawn(async move {
        shutdown.await;
        signal_stop.store(true, Ordering::SeqCst);
        tracing::info!("shutdown started: shedding new requests and draining");
        lifecycle.begin_shutdown();
        if !lifecycle.drain(drain_timeout).await {
            tracing::warn!(
                inflight = lifecycle.inflight().load(Ordering::SeqCst),
                "drain timeout passed with requests still in flight"
            );
        }
        handle.stop(true).await;
    });
    server.await?;
    // Workers let the work in hand finish within the drain timeout; what is
    // still going after that is released or taken over by lease.
    if let Some(background) = background {
        background.finish(drain_timeout).await;
    }
    crate::task::wait_background(drain_timeout).await;
    for (name, hook) in running.shutdown_hooks.iter().rev() {
        tracing::info!(hook = %name, "running shutdown hook");
        hook().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM and SIGINT, listened for from the moment this is made (inside
/// a Tokio runtime): made before any work starts, so a signal that comes
/// early stops the process gracefully instead of killing it.
pub(crate) struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs the handlers now.
    pub(crate) fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                streams: signal(SignalKind::terminate())
                    .ok()
                    .zip(signal(SignalKind::interrupt()).ok()),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal's name.
    pub(crate) async fn recv(self) -> &'static str {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
