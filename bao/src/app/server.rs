//! Building the actix-web service for an app, serving it, and shutting down
//! gracefully: shed new requests, drain in-flight ones, run shutdown hooks.

use super::{App, Config, ReadinessCheck};
use crate::http::middleware::BaoMiddleware;
use crate::obs::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::{web, HttpServer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// State shared by every worker of one running app.
pub(crate) struct AppRuntime {
    pub(crate) config: Config,
    /// The database pool (connections open on first use).
    pub(crate) db: Option<crate::db::DbPool>,
    pub(crate) metrics: Metrics,
    pub(crate) readiness: Vec<(String, ReadinessCheck)>,
    pub(crate) csp: HeaderValue,
    /// Every route's pattern and method, to answer 405 with `Allow` when a
    /// path exists under other methods.
    pub(crate) route_patterns: Vec<(actix_web::dev::ResourceDef, &'static str)>,
    /// The user model's table, for sessions, tokens and `CurrentUser`.
    pub(crate) users: Option<crate::auth::UsersTable>,
    /// Whether the app has workflows (their gauges join `/metrics`).
    /// The app has workflows or tasks: `/metrics` counts them in the database.
    pub(crate) has_workflows: bool,
    /// The app's name (page titles).
    pub(crate) app_name: &'static str,
    /// The OpenAPI document as JSON, when the app has API resources.
    pub(crate) openapi_json: Option<String>,
    /// Signs session keys, CSRF tokens and flash cookies.
    pub(crate) signer: crate::support::crypto::Signer,
    shutting_down: AtomicBool,
    inflight: AtomicUsize,
}

impl AppRuntime {
    pub(crate) fn new(app: &App, config: Config) -> Self {
        let config = app.resolve_config(config);
        let csp = HeaderValue::from_str(&config.csp)
            .unwrap_or_else(|_| HeaderValue::from_static(crate::config::DEFAULT_CSP));
        let db = match crate::db::DbPool::new(&config.database_url) {
            Ok(pool) => Some(pool),
            Err(error) => {
                tracing::error!(%error, "the database is not usable");
                None
            }
        };
        let mut readiness = app.readiness.clone();
        // An app with migrations uses its database: readiness depends on it.
        if let Some(pool) = db.clone().filter(|_| has_migrations(&config)) {
            readiness.insert(
                0,
                (
                    "database".to_string(),
                    Arc::new(move || {
                        let pool = pool.clone();
                        Box::pin(async move { pool.ping().await.map_err(|e| e.to_string()) })
                            as futures_util::future::BoxFuture<'static, Result<(), String>>
                    }) as ReadinessCheck,
                ),
            );
        }
        let route_patterns = app
            .routes()
            .iter()
            .filter(|r| config.metrics_enabled || r.path != "/metrics")
            .map(|r| (actix_web::dev::ResourceDef::new(r.path), r.method))
            .collect();
        AppRuntime {
            has_workflows: !app.workflows.is_empty() || !app.tasks.is_empty(),
            app_name: app.name(),
            openapi_json: app
                .openapi_document()
                .map(|doc| doc.to_pretty_json().unwrap_or_default()),
            users: app.users,
            signer: crate::support::crypto::Signer::new(&config.secret_key),
            db,
            route_patterns,
            config,
            metrics: Metrics::new(),
            readiness,
            csp,
            shutting_down: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub(crate) fn inflight(&self) -> &AtomicUsize {
        &self.inflight
    }

    /// Waits until no request is in flight or `timeout` passed; true if drained.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.inflight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn has_migrations(config: &Config) -> bool {
    std::fs::read_dir(&config.migrations_dir).is_ok_and(|mut d| d.next().is_some())
}

/// The actix-web app for `app`: framework routes, the app's controllers and
/// Bao's middleware, with the configured body limits.
pub(crate) fn build_service(
    app: &App,
    rt: Arc<AppRuntime>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = rt.config.max_body_size;
    let mut service = actix_web::App::new()
        .app_data(web::Data::from(rt.clone()))
        .app_data(web::PayloadConfig::new(limit))
        .app_data(web::FormConfig::default().limit(limit))
        .app_data(web::JsonConfig::default().limit(limit))
        .configure(|cfg| crate::obs::health::configure(cfg, rt.config.metrics_enabled))
        .configure(|cfg| crate::api::docs::configure(cfg, rt.openapi_json.clone()));
    // Bao's pages and assets under `/_bao` share one scope: a request
    // elsewhere skips them all with one prefix check instead of matching
    // each (dynamic) path.
    let workflow_pages = !app.workflows.is_empty();
    service = service.service(
        web::scope(crate::http::FRAMEWORK_SCOPE)
            .configure(crate::http::static_files::configure)
            .configure(crate::auth::configure)
            .configure(|cfg| {
                if workflow_pages {
                    crate::workflow::page::configure(cfg);
                }
            }),
    );
    for state in &app.states {
        let state = state.clone();
        service = service.configure(move |cfg| state(cfg));
    }
    for controller in &app.controllers {
        service = service.configure(controller.configure);
    }
    service
        .default_service(web::to(crate::http::not_found))
        .wrap(BaoMiddleware::new(rt))
}

/// Serves `app` until SIGTERM or SIGINT, then shuts down gracefully: new
/// requests get 503 (except `/healthz` and `/readyz`), in-flight requests get
/// up to `BAO_SHUTDOWN_DRAIN_TIMEOUT` to finish, and shutdown hooks run in
/// reverse registration order.
pub async fn serve(app: App, config: Config) -> std::io::Result<()> {
    serve_until(app, config, async {
        let signal = wait_for_signal().await;
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
    let rt = Arc::new(AppRuntime::new(&app, config));
    let drain_timeout = rt.config.shutdown_drain_timeout;
    let address = rt.config.bind_address();
    let factory_app = app.clone();
    let factory_rt = rt.clone();
    let server = HttpServer::new(move || build_service(&factory_app, factory_rt.clone()))
        .workers(rt.config.workers)
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
    if rt.config.secret_key_generated {
        tracing::warn!("BAO_SECRET_KEY is not set: using a key generated for this process; sessions end when it restarts");
    }
    tracing::info!(
        app = app.name(),
        version = app.version(),
        address = %format!("http://{address}"),
        workers = rt.config.workers,
        "listening"
    );
    // Workflow workers run beside the server and stop claiming at shutdown.
    let workers_stop = Arc::new(AtomicBool::new(false));
    let mut workers = None;
    if let (Some(pool), false) = (rt.db.clone(), app.workflows.is_empty()) {
        let settings = crate::workflow::WorkerSettings {
            lease: rt.config.workflow_lease,
            poll: rt.config.workflow_poll,
        };
        let (defs, stop, concurrency) = (
            app.workflows.clone(),
            workers_stop.clone(),
            rt.config.workflow_concurrency,
        );
        tracing::info!(
            workflows = defs.len(),
            concurrency,
            "workflow workers started"
        );
        workers = Some(actix_web::rt::spawn(crate::workflow::work(
            pool,
            defs,
            settings,
            concurrency,
            stop,
        )));
    }
    crate::task::configure(&rt.config);
    let mut task_workers = None;
    if let (Some(pool), false) = (rt.db.clone(), app.tasks.is_empty()) {
        let settings = crate::task::TaskSettings {
            lease: rt.config.workflow_lease,
            poll: rt.config.workflow_poll,
        };
        tracing::info!(tasks = app.tasks.len(), "task workers started");
        task_workers = Some(actix_web::rt::spawn(crate::task::work(
            pool,
            app.tasks.clone(),
            settings,
            rt.config.task_concurrency,
            workers_stop.clone(),
        )));
    }
    let mut scheduler = None;
    match (rt.db.clone(), app.schedules.is_empty(), rt.config.enable_scheduler) {
        (Some(pool), false, true) => {
            scheduler = Some(actix_web::rt::spawn(crate::task::run_scheduler(
                pool,
                app.schedules.clone(),
                workers_stop.clone(),
            )));
        }
        (_, false, false) => tracing::info!(
            schedules = app.schedules.len(),
            "the scheduler is off: set BAO_ENABLE_SCHEDULER=1 or run `bao scheduler:run` so #[bao::every] functions fire"
        ),
        _ => {}
    }
    let signal_rt = rt.clone();
    let signal_stop = workers_stop.clone();
    actix_web::rt::spawn(async move {
        shutdown.await;
        signal_stop.store(true, Ordering::SeqCst);
        tracing::info!("shutdown started: shedding new requests and draining");
        signal_rt.begin_shutdown();
        if !signal_rt.drain(drain_timeout).await {
            tracing::warn!(
                inflight = signal_rt.inflight().load(Ordering::SeqCst),
                "drain timeout passed with requests still in flight"
            );
        }
        handle.stop(true).await;
    });
    server.await?;
    // Workers stopped claiming at shutdown; let the runs in hand finish their
    // step (or park) within the drain timeout. A run still going after that
    // is taken over when its lease expires.
    if let Some(handle) = workers {
        if tokio::time::timeout(drain_timeout, handle).await.is_err() {
            tracing::warn!("workflow runs were still executing at the drain timeout");
        }
    }
    if let Some(handle) = scheduler {
        let _ = handle.await;
    }
    if let (Some(handle), Some(pool)) = (task_workers, rt.db.clone()) {
        crate::task::drain_then_release(&pool, handle, drain_timeout).await;
    }
    crate::task::wait_background(drain_timeout).await;
    for (name, hook) in app.shutdown_hooks.iter().rev() {
        tracing::info!(hook = %name, "running shutdown hook");
        hook().await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}
