//! `Config`: the app's settings, typed from `BAO_*` variables and `.env`.

use crate::support::units::{format_duration, format_size, parse_duration, parse_size, redact_url};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One configuration variable: its name, default and meaning.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConfigKey {
    /// The environment variable.
    pub name: &'static str,
    /// The value used when the variable is unset (`None`: computed or empty).
    pub default: Option<&'static str>,
    /// The accepted form.
    pub expected: &'static str,
    /// What it controls.
    pub description: &'static str,
    /// Whether the value is redacted when printed.
    pub secret: bool,
}

const fn key(
    name: &'static str,
    default: Option<&'static str>,
    expected: &'static str,
    description: &'static str,
) -> ConfigKey {
    ConfigKey {
        name,
        default,
        expected,
        description,
        secret: false,
    }
}

/// The content security policy served by default: same-origin everything
/// (scripts, styles, fonts and connections fall back to `default-src`), no
/// inline script or style, no plugins, no framing. htmx, Alpine.js (CSP build)
/// and bao.css are served from `/_bao/static/`, so they need nothing more.
pub const DEFAULT_CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Every variable Bao reads, in the order `bao config` prints them.
pub const CONFIG_KEYS: &[ConfigKey] = &[
    key(
        "BAO_ENV",
        Some("development"),
        "development | production | test",
        "Which defaults apply: production requires a secret key and logs JSON",
    ),
    key(
        "BAO_HOST",
        Some("127.0.0.1"),
        "an IP address or host name",
        "Address the server binds",
    ),
    key(
        "BAO_PORT",
        Some("8000"),
        "a port number, 1-65535",
        "Port the server binds",
    ),
    key(
        "BAO_WORKERS",
        None,
        "a positive integer",
        "HTTP worker threads (default: the number of CPUs)",
    ),
    ConfigKey {
        secret: true,
        ..key(
            "BAO_SECRET_KEY",
            None,
            "at least 32 characters",
            "Key for signed cookies; required in production, generated per process in development",
        )
    },
    ConfigKey {
        secret: true,
        ..key(
            "BAO_DATABASE_URL",
            Some("sqlite://bao.db"),
            "sqlite://PATH or postgres://USER@HOST/DB",
            "Database connection",
        )
    },
    key(
        "BAO_LOG_FORMAT",
        None,
        "json | pretty",
        "Log format (default: json in production, pretty otherwise)",
    ),
    key(
        "BAO_LOG_LEVEL",
        Some("info"),
        "a tracing filter, e.g. info or my_app=debug,actix_web=warn",
        "Which log lines are written",
    ),
    key(
        "BAO_LOG_FILE",
        None,
        "a file path, e.g. log/bao.log",
        "Also write JSON log lines to this file (10 MiB, then rotated; 5 kept); `bao logs` reads it",
    ),
    key(
        "BAO_CSP",
        Some(DEFAULT_CSP),
        "a Content-Security-Policy header value",
        "Content security policy sent with every response",
    ),
    key(
        "BAO_MCP_HTTP",
        Some("false"),
        "true | false",
        "Serve the MCP server over streamable HTTP at /_bao/mcp (bearer token of an admin, or BAO_ADMIN_TOKEN)",
    ),
    key(
        "BAO_MCP_ALLOW_WRITE",
        Some("false"),
        "true | false",
        "Offer the MCP write tools (replay, resume, approve, deny, dead-letter replay); each call is audited",
    ),
    key(
        "BAO_STATIC_DIR",
        Some("static"),
        "a folder path",
        "The app's files served at /static/ (relative to where the app runs)",
    ),
    key(
        "BAO_LIVE_RELOAD",
        Some("false"),
        "true | false",
        "Development: pages reload when the app restarts (`bao run` turns it on)",
    ),
    key(
        "BAO_ADMIN_ENABLED",
        Some("true"),
        "true | false",
        "Serve the admin console at /_bao/admin",
    ),
    ConfigKey {
        secret: true,
        ..key(
            "BAO_ADMIN_TOKEN",
            None,
            "at least 32 characters",
            "Lets the bearer of this token (or a `bao admin:link` link) use the admin console; required for it in an app without users",
        )
    },
    key(
        "BAO_METRICS_ENABLED",
        Some("true"),
        "true | false",
        "Serve Prometheus metrics at /metrics",
    ),
    ConfigKey {
        secret: true,
        ..key(
            "BAO_METRICS_TOKEN",
            None,
            "at least 32 characters",
            "Scrapers of /metrics send it as a bearer token; without it production answers /metrics to local addresses only",
        )
    },
    key(
        "BAO_AUDIT_RETENTION",
        Some("90d"),
        "a duration (90d, 720h), or 0 to keep everything",
        "How long audit log entries are kept; older ones are deleted hourly by `bao serve` and `bao worker`",
    ),
    key(
        "BAO_SHUTDOWN_DRAIN_TIMEOUT",
        Some("30s"),
        "a duration: 30, 30s, 500ms, 2m",
        "How long in-flight requests may finish after SIGTERM",
    ),
    key(
        "BAO_MIGRATIONS_DIR",
        Some("migrations"),
        "a folder path",
        "Where `bao migrate` finds migrations (relative to the working directory)",
    ),
    key(
        "BAO_AUTO_MIGRATE",
        None,
        "true | false",
        "Apply pending migrations when `serve` starts (default: true in development, false otherwise)",
    ),
    key(
        "BAO_MAX_BODY_SIZE",
        Some("2MiB"),
        "a size: 1048576, 512KiB, 2MiB",
        "Largest request body accepted (413 beyond)",
    ),
    key(
        "BAO_DOCS_ENABLED",
        None,
        "true | false",
        "Serve the API explorer at /docs (default: false in production, true otherwise)",
    ),
    key(
        "BAO_WORKFLOW_LEASE",
        Some("30s"),
        "a duration: 10s, 1m",
        "How long a worker's claim on a workflow run lasts without a heartbeat (a dead worker's runs are taken over after it)",
    ),
    key(
        "BAO_WORKFLOW_POLL",
        Some("250ms"),
        "a duration: 100ms, 1s",
        "How often an idle workflow worker looks for runs",
    ),
    key(
        "BAO_WORKFLOW_CONCURRENCY",
        Some("4"),
        "a positive integer",
        "Workflow runs a process executes at once (in `serve` and `bao worker`)",
    ),
    key(
        "BAO_TASK_CONCURRENCY",
        Some("4"),
        "a positive integer",
        "Task worker loops per process (each task also has its own max_concurrency); BAO_WORKFLOW_LEASE and BAO_WORKFLOW_POLL apply to tasks too",
    ),
    key(
        "BAO_MAX_INFLIGHT_TASKS",
        Some("500"),
        "a positive integer",
        "Tasks queued or running before enqueue answers QueueFull; also the bound of bao::background() work running at once",
    ),
    key(
        "BAO_TASK_RETENTION",
        Some("7d"),
        "a duration: 12h, 7d, 30d",
        "How long finished and dead tasks stay in bao_tasks (dead letters stay until purged)",
    ),
    key(
        "BAO_ENABLE_SCHEDULER",
        Some("false"),
        "true | false",
        "Run the #[bao::every] scheduler inside `serve` and `bao worker` (or run `bao scheduler:run`); any number of schedulers fire each slot once",
    ),
    key(
        "BAO_SESSION_IDLE_TIMEOUT",
        Some("24h"),
        "a duration: 30m, 24h, 7d",
        "A login session ends after this long without a request",
    ),
    key(
        "BAO_SESSION_LIFETIME",
        Some("14d"),
        "a duration: 12h, 14d",
        "A login session ends this long after login, however active",
    ),
    key(
        "BAO_LOGIN_MAX_FAILURES",
        Some("5"),
        "a positive integer",
        "Failed logins per account and per IP before login answers 429",
    ),
    key(
        "BAO_REGISTRATION_REVEALS",
        Some("false"),
        "true | false",
        "Registering an address that has an account says so (true) or gets the same neutral refusal as any unusable address (false)",
    ),
    key(
        "BAO_LOGIN_WINDOW",
        Some("15m"),
        "a duration: 15m, 1h",
        "The window in which failed logins are counted",
    ),
    key(
        "BAO_PASSWORD_MIN_LENGTH",
        Some("10"),
        "an integer, 8 or more",
        "Shortest password `Auth::register` and `Auth::change_password` accept",
    ),
    key(
        "BAO_AI_PROVIDERS",
        Some("echo"),
        "provider names separated by commas: anthropic, openai, ollama, echo",
        "AI providers in fallback order (keys from ANTHROPIC_API_KEY, OPENAI_API_KEY; OLLAMA_HOST); unless setup calls App::ai",
    ),
    key(
        "BAO_AI_DEFAULT",
        None,
        "one of the names in BAO_AI_PROVIDERS",
        "The AI provider tried first",
    ),
];

/// Which defaults apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local development: pretty logs, generated secret key.
    Development,
    /// Production: JSON logs, secure cookies, a secret key is required.
    Production,
    /// Tests: like development, quiet.
    Test,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// A variable with a value Bao cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// The accepted form.
    pub expected: String,
}

/// A secret token variable: unset, or at least 32 characters.
fn token(value: Option<(&'static str, String)>) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some((_, v)) if v.len() >= 32 => Ok(Some(v)),
        Some((var, _)) => Err(ConfigError {
            var,
            value: "<redacted>".into(),
            expected: "at least 32 characters (`openssl rand -hex 32` makes one)".into(),
        }),
    }
}

/// The resolved configuration.
#[derive(Clone, Serialize)]
pub struct Config {
    /// `BAO_ENV`.
    pub env: Environment,
    /// `BAO_HOST`.
    pub host: String,
    /// `BAO_PORT`.
    pub port: u16,
    /// `BAO_WORKERS`.
    pub workers: usize,
    /// `BAO_SECRET_KEY` (or a generated one in development).
    #[serde(skip)]
    pub secret_key: String,
    /// Whether the secret key was generated for this process.
    pub secret_key_generated: bool,
    /// `BAO_DATABASE_URL`.
    #[serde(skip)]
    pub database_url: String,
    /// `BAO_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `BAO_LOG_LEVEL`.
    pub log_level: String,
    /// `BAO_LOG_FILE`.
    pub log_file: Option<std::path::PathBuf>,
    /// `BAO_CSP`.
    pub csp: String,
    /// `BAO_STATIC_DIR`.
    pub static_dir: std::path::PathBuf,
    /// `BAO_LIVE_RELOAD`.
    pub live_reload: bool,
    /// `BAO_ADMIN_ENABLED`.
    pub admin_enabled: bool,
    /// `BAO_MCP_HTTP`.
    pub mcp_http: bool,
    /// `BAO_MCP_ALLOW_WRITE`.
    pub mcp_allow_write: bool,
    /// `BAO_ADMIN_TOKEN`.
    #[serde(skip)]
    pub admin_token: Option<String>,
    /// `BAO_METRICS_ENABLED`.
    pub metrics_enabled: bool,
    /// `BAO_AUDIT_RETENTION` (None: keep everything).
    pub audit_retention: Option<Duration>,
    /// `BAO_METRICS_TOKEN`.
    #[serde(skip)]
    pub metrics_token: Option<String>,
    /// `BAO_SHUTDOWN_DRAIN_TIMEOUT`.
    pub shutdown_drain_timeout: Duration,
    /// `BAO_MAX_BODY_SIZE`, in bytes.
    pub max_body_size: usize,
    /// `BAO_MIGRATIONS_DIR`.
    pub migrations_dir: std::path::PathBuf,
    /// `BAO_AUTO_MIGRATE`.
    pub auto_migrate: bool,
    /// `BAO_SESSION_IDLE_TIMEOUT`: a login session ends after this long idle.
    pub session_idle_timeout: Duration,
    /// `BAO_SESSION_LIFETIME`: a login session ends this long after login.
    pub session_lifetime: Duration,
    /// `BAO_LOGIN_MAX_FAILURES`, per account and per IP within `login_window`.
    pub login_max_failures: u32,
    /// `BAO_LOGIN_WINDOW`.
    pub login_window: Duration,
    /// `BAO_REGISTRATION_REVEALS`: whether registration says an address
    /// already has an account.
    pub registration_reveals: bool,
    /// `BAO_PASSWORD_MIN_LENGTH`.
    pub password_min_length: usize,
    /// `BAO_DOCS_ENABLED`: serve `/docs`.
    pub docs_enabled: bool,
    /// `BAO_AI_PROVIDERS`: AI provider names in fallback order.
    pub ai_providers: Vec<String>,
    /// `BAO_AI_DEFAULT`: the AI provider tried first.
    pub ai_default: Option<String>,
    /// `BAO_WORKFLOW_LEASE`.
    pub workflow_lease: Duration,
    /// `BAO_WORKFLOW_POLL`.
    pub workflow_poll: Duration,
    /// `BAO_WORKFLOW_CONCURRENCY`.
    pub workflow_concurrency: usize,
    /// `BAO_TASK_CONCURRENCY`.
    pub task_concurrency: usize,
    /// `BAO_MAX_INFLIGHT_TASKS`.
    pub max_inflight_tasks: i64,
    /// `BAO_ENABLE_SCHEDULER`.
    pub enable_scheduler: bool,
    /// `BAO_TASK_RETENTION`.
    pub task_retention: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("workers", &self.workers)
            .field("secret_key", &"<redacted>")
            .field("database_url", &redact_url(&self.database_url))
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    /// The development defaults, ignoring the environment.
    fn default() -> Self {
        Config::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads `.env` (if present; real environment variables win) and the
    /// `BAO_*` variables.
    pub fn from_env() -> Result<Config, ConfigError> {
        let _ = dotenvy::dotenv();
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// The `BAO_*` variables among `names` that Bao does not read (a typo,
    /// or a setting of another version), each with the known name closest
    /// to it: `BAO_PROT` → `BAO_PORT`.
    pub fn unknown_variables<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(String, Option<&'static str>)> {
        // Read elsewhere: per-provider model names, and the test helpers.
        let also_read = ["BAO_AI_MODEL_", "BAO_AI_EMBEDDING_MODEL_", "BAO_TEST_"];
        let known: Vec<&'static str> = CONFIG_KEYS.iter().map(|k| k.name).collect();
        let lower: Vec<String> = known.iter().map(|k| k.to_ascii_lowercase()).collect();
        let lower_refs: Vec<&str> = lower.iter().map(String::as_str).collect();
        names
            .into_iter()
            .filter(|n| n.starts_with("BAO_"))
            .filter(|n| !known.contains(n) && !also_read.iter().any(|p| n.starts_with(p)))
            .map(|n| {
                let near = bao_codegen::diag::closest(n, &lower_refs)
                    .and_then(|l| lower_refs.iter().position(|k| *k == l))
                    .map(|i| known[i]);
                (n.to_string(), near)
            })
            .collect()
    }

    /// Configuration for tests: defaults, `BAO_ENV=test`, quiet logs, an
    /// in-memory SQLite database with the app's migrations applied.
    pub fn for_tests() -> Config {
        Config::from_lookup(|name| match name {
            "BAO_ENV" => Some("test".into()),
            "BAO_LOG_LEVEL" => Some("warn".into()),
            "BAO_DATABASE_URL" => Some("sqlite://:memory:".into()),
            "BAO_AUTO_MIGRATE" => Some("true".into()),
            _ => None,
        })
        .expect("the test defaults are valid")
    }

    /// A configuration from these variables only (nothing from the
    /// environment or `.env`): handy in tests.
    ///
    /// ```
    /// let config = bao::Config::from_vars(&[("BAO_PORT", "9000")]).unwrap();
    /// assert_eq!(config.port, 9000);
    /// ```
    pub fn from_vars(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Builds a configuration from any source of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| -> Option<(&'static str, String)> {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (name, v.trim().to_string()))
        };
        let env = match get("BAO_ENV") {
            None => Environment::Development,
            Some((var, v)) => match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Environment::Development,
                "production" | "prod" => Environment::Production,
                "test" => Environment::Test,
                _ => return Err(invalid(var, v)),
            },
        };
        let host = get("BAO_HOST")
            .map(|(_, v)| v)
            .unwrap_or_else(|| "127.0.0.1".into());
        let port = match get("BAO_PORT") {
            None => 8000,
            Some((var, v)) => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let workers = match get("BAO_WORKERS") {
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some((var, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let (secret_key, secret_key_generated) = match get("BAO_SECRET_KEY") {
            Some((var, v)) if v.len() < 32 => {
                return Err(ConfigError {
                    var,
                    value: "<redacted>".into(),
                    expected: format!("at least 32 characters (got {})", v.len()),
                })
            }
            Some((_, v)) => (v, false),
            None if env == Environment::Production => {
                return Err(ConfigError {
                    var: "BAO_SECRET_KEY",
                    value: String::new(),
                    expected: "a secret of at least 32 characters: production refuses to start without one (generate one with `openssl rand -hex 32`)".into(),
                })
            }
            None => (generate_secret(), true),
        };
        let database_url = match get("BAO_DATABASE_URL") {
            None => "sqlite://bao.db".to_string(),
            Some((var, v)) => {
                let known = ["sqlite://", "sqlite:", "postgres://", "postgresql://"];
                if !known.iter().any(|p| v.starts_with(p)) {
                    return Err(invalid(var, redact_url(&v)));
                }
                v
            }
        };
        let log_format = match get("BAO_LOG_FORMAT") {
            None if env == Environment::Production => LogFormat::Json,
            None => LogFormat::Pretty,
            Some((var, v)) => match v.to_ascii_lowercase().as_str() {
                "json" => LogFormat::Json,
                "pretty" | "text" => LogFormat::Pretty,
                _ => return Err(invalid(var, v)),
            },
        };
        let log_level = match get("BAO_LOG_LEVEL") {
            None => "info".to_string(),
            Some((var, v)) => {
                if tracing_subscriber::EnvFilter::builder().parse(&v).is_err() {
                    return Err(invalid(var, v));
                }
                v
            }
        };
        let log_file = get("BAO_LOG_FILE")
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
            .map(std::path::PathBuf::from);
        let csp = match get("BAO_CSP") {
            None => DEFAULT_CSP.to_string(),
            Some((var, v)) => {
                if actix_web::http::header::HeaderValue::from_str(&v).is_err() {
                    return Err(invalid(var, v));
                }
                v
            }
        };
        let static_dir = get("BAO_STATIC_DIR")
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("static"),
                std::path::PathBuf::from,
            );
        let live_reload = get("BAO_LIVE_RELOAD").map_or(Ok(false), parse_bool)?;
        let admin_enabled = get("BAO_ADMIN_ENABLED").map_or(Ok(true), parse_bool)?;
        let mcp_http = get("BAO_MCP_HTTP").map_or(Ok(false), parse_bool)?;
        let mcp_allow_write = get("BAO_MCP_ALLOW_WRITE").map_or(Ok(false), parse_bool)?;
        let admin_token = token(get("BAO_ADMIN_TOKEN"))?;
        let metrics_enabled = get("BAO_METRICS_ENABLED").map_or(Ok(true), parse_bool)?;
        let audit_retention = match get("BAO_AUDIT_RETENTION") {
            None => Some(Duration::from_secs(90 * 86_400)),
            Some((_, v)) if v.trim() == "0" => None,
            Some((var, v)) => Some(parse_duration(&v).ok_or_else(|| invalid(var, v))?),
        };
        let metrics_token = token(get("BAO_METRICS_TOKEN"))?;
        let shutdown_drain_timeout = match get("BAO_SHUTDOWN_DRAIN_TIMEOUT") {
            None => Duration::from_secs(30),
            Some((var, v)) => parse_duration(&v).ok_or_else(|| invalid(var, v))?,
        };
        let max_body_size = match get("BAO_MAX_BODY_SIZE") {
            None => 2 * 1024 * 1024,
            Some((var, v)) => parse_size(&v)
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let migrations_dir = get("BAO_MIGRATIONS_DIR")
            .map_or_else(|| "migrations".into(), |(_, v)| std::path::PathBuf::from(v));
        let auto_migrate = match get("BAO_AUTO_MIGRATE") {
            None => env == Environment::Development,
            Some(v) => parse_bool(v)?,
        };
        let duration = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some((var, v)) => parse_duration(&v)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid(var, v)),
        };
        let session_idle_timeout =
            duration("BAO_SESSION_IDLE_TIMEOUT", Duration::from_secs(24 * 3600))?;
        let session_lifetime =
            duration("BAO_SESSION_LIFETIME", Duration::from_secs(14 * 24 * 3600))?;
        let login_window = duration("BAO_LOGIN_WINDOW", Duration::from_secs(15 * 60))?;
        let registration_reveals = get("BAO_REGISTRATION_REVEALS").map_or(Ok(false), parse_bool)?;
        let login_max_failures = match get("BAO_LOGIN_MAX_FAILURES") {
            None => 5,
            Some((var, v)) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let password_min_length = match get("BAO_PASSWORD_MIN_LENGTH") {
            None => 10,
            Some((var, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 8)
                .ok_or_else(|| invalid(var, v))?,
        };
        let docs_enabled = match get("BAO_DOCS_ENABLED") {
            None => env != Environment::Production,
            Some(v) => parse_bool(v)?,
        };
        let workflow_lease = duration("BAO_WORKFLOW_LEASE", Duration::from_secs(30))?;
        let workflow_poll = duration("BAO_WORKFLOW_POLL", Duration::from_millis(250))?;
        let workflow_concurrency = match get("BAO_WORKFLOW_CONCURRENCY") {
            None => 4,
            Some((var, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let task_concurrency = match get("BAO_TASK_CONCURRENCY") {
            None => 4,
            Some((var, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let max_inflight_tasks = match get("BAO_MAX_INFLIGHT_TASKS") {
            None => 500,
            Some((var, v)) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(var, v))?,
        };
        let enable_scheduler = match get("BAO_ENABLE_SCHEDULER") {
            None => false,
            Some(v) => parse_bool(v)?,
        };
        let task_retention = duration("BAO_TASK_RETENTION", Duration::from_secs(7 * 86_400))?;
        let ai_providers = match get("BAO_AI_PROVIDERS") {
            None => vec!["echo".to_string()],
            Some((var, v)) => {
                let names: Vec<String> = v
                    .split(',')
                    .map(|n| n.trim().to_ascii_lowercase())
                    .filter(|n| !n.is_empty())
                    .collect();
                let known = ["anthropic", "openai", "ollama", "echo"];
                if names.is_empty() || names.iter().any(|n| !known.contains(&n.as_str())) {
                    return Err(invalid(var, v));
                }
                names
            }
        };
        let ai_default = match get("BAO_AI_DEFAULT") {
            None => None,
            Some((var, v)) => {
                let name = v.to_ascii_lowercase();
                if !ai_providers.contains(&name) {
                    return Err(ConfigError {
                        var,
                        value: v,
                        expected: format!(
                            "one of the names in BAO_AI_PROVIDERS ({})",
                            ai_providers.join(", ")
                        ),
                    });
                }
                Some(name)
            }
        };
        Ok(Config {
            ai_providers,
            ai_default,
            task_concurrency,
            task_retention,
            max_inflight_tasks,
            enable_scheduler,
            workflow_lease,
            workflow_poll,
            workflow_concurrency,
            docs_enabled,
            session_idle_timeout,
            session_lifetime,
            login_max_failures,
            login_window,
            registration_reveals,
            password_min_length,
            env,
            host,
            port,
            workers,
            secret_key,
            secret_key_generated,
            database_url,
            log_format,
            log_level,
            log_file,
            csp,
            static_dir,
            live_reload,
            admin_enabled,
            mcp_http,
            mcp_allow_write,
            admin_token,
            metrics_enabled,
            metrics_token,
            audit_retention,
            shutdown_drain_timeout,
            max_body_size,
            migrations_dir,
            auto_migrate,
        })
    }

    /// `host:port`.
    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Each variable with its resolved value as `bao config` prints it: secrets
    /// redacted, the database password hidden.
    pub fn resolved(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        let env = match self.env {
            Environment::Development => "development",
            Environment::Production => "production",
            Environment::Test => "test",
        };
        out.insert("BAO_ENV", env.to_string());
        out.insert("BAO_HOST", self.host.clone());
        out.insert("BAO_PORT", self.port.to_string());
        out.insert("BAO_WORKERS", self.workers.to_string());
        out.insert(
            "BAO_SECRET_KEY",
            if self.secret_key_generated {
                "<generated for this process>"
            } else {
                "<redacted>"
            }
            .to_string(),
        );
        out.insert("BAO_DATABASE_URL", redact_url(&self.database_url));
        let format = match self.log_format {
            LogFormat::Json => "json",
            LogFormat::Pretty => "pretty",
        };
        out.insert("BAO_LOG_FORMAT", format.to_string());
        out.insert("BAO_LOG_LEVEL", self.log_level.clone());
        out.insert(
            "BAO_LOG_FILE",
            self.log_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        out.insert("BAO_CSP", self.csp.clone());
        out.insert("BAO_STATIC_DIR", self.static_dir.display().to_string());
        out.insert("BAO_LIVE_RELOAD", self.live_reload.to_string());
        out.insert("BAO_ADMIN_ENABLED", self.admin_enabled.to_string());
        out.insert("BAO_MCP_HTTP", self.mcp_http.to_string());
        out.insert("BAO_MCP_ALLOW_WRITE", self.mcp_allow_write.to_string());
        out.insert(
            "BAO_ADMIN_TOKEN",
            if self.admin_token.is_some() {
                "<redacted>"
            } else {
                ""
            }
            .to_string(),
        );
        out.insert("BAO_METRICS_ENABLED", self.metrics_enabled.to_string());
        out.insert(
            "BAO_AUDIT_RETENTION",
            self.audit_retention
                .map_or("0".to_string(), format_duration),
        );
        out.insert(
            "BAO_METRICS_TOKEN",
            if self.metrics_token.is_some() {
                "<redacted>"
            } else {
                ""
            }
            .to_string(),
        );
        out.insert(
            "BAO_SHUTDOWN_DRAIN_TIMEOUT",
            format_duration(self.shutdown_drain_timeout),
        );
        out.insert("BAO_MAX_BODY_SIZE", format_size(self.max_body_size));
        out.insert(
            "BAO_MIGRATIONS_DIR",
            self.migrations_dir.display().to_string(),
        );
        out.insert("BAO_AUTO_MIGRATE", self.auto_migrate.to_string());
        let secs = format_duration;
        out.insert("BAO_SESSION_IDLE_TIMEOUT", secs(self.session_idle_timeout));
        out.insert("BAO_SESSION_LIFETIME", secs(self.session_lifetime));
        out.insert(
            "BAO_LOGIN_MAX_FAILURES",
            self.login_max_failures.to_string(),
        );
        out.insert("BAO_LOGIN_WINDOW", secs(self.login_window));
        out.insert(
            "BAO_REGISTRATION_REVEALS",
            self.registration_reveals.to_string(),
        );
        out.insert(
            "BAO_PASSWORD_MIN_LENGTH",
            self.password_min_length.to_string(),
        );
        out.insert("BAO_AI_PROVIDERS", self.ai_providers.join(","));
        out.insert(
            "BAO_AI_DEFAULT",
            self.ai_default.clone().unwrap_or_default(),
        );
        out.insert("BAO_DOCS_ENABLED", self.docs_enabled.to_string());
        out.insert("BAO_WORKFLOW_LEASE", format_duration(self.workflow_lease));
        out.insert("BAO_WORKFLOW_POLL", format_duration(self.workflow_poll));
        out.insert(
            "BAO_WORKFLOW_CONCURRENCY",
            self.workflow_concurrency.to_string(),
        );
        out.insert("BAO_TASK_CONCURRENCY", self.task_concurrency.to_string());
        out.insert(
            "BAO_MAX_INFLIGHT_TASKS",
            self.max_inflight_tasks.to_string(),
        );
        out.insert("BAO_TASK_RETENTION", format_duration(self.task_retention));
        out.insert("BAO_ENABLE_SCHEDULER", self.enable_scheduler.to_string());
        out
    }
}

fn invalid(var: &'static str, value: String) -> ConfigError {
    let expected = CONFIG_KEYS
        .iter()
        .find(|k| k.name == var)
        .map_or("a valid value", |k| k.expected);
    ConfigError {
        var,
        value,
        expected: expected.to_string(),
    }
}

fn parse_bool((var, v): (&'static str, String)) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, v)),
    }
}

fn generate_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars)
    }

    #[test]
    fn defaults_are_development() {
        let c = with(&[]).unwrap();
        assert_eq!(c.env, Environment::Development);
        assert_eq!(c.port, 8000);
        assert_eq!(c.host, "127.0.0.1");
        assert!(c.secret_key_generated);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.shutdown_drain_timeout, Duration::from_secs(30));
    }

    #[test]
    fn malformed_values_name_the_variable_and_form() {
        let e = with(&[("BAO_PORT", "eighty")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid BAO_PORT=\"eighty\": expected a port number, 1-65535"
        );
        let e = with(&[("BAO_METRICS_ENABLED", "maybe")]).unwrap_err();
        assert_eq!(e.var, "BAO_METRICS_ENABLED");
        let e = with(&[("BAO_SHUTDOWN_DRAIN_TIMEOUT", "soon")]).unwrap_err();
        assert!(e.to_string().contains("a duration"));
        let e = with(&[("BAO_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(e.to_string().contains("json | pretty"));
    }

    #[test]
    fn production_requires_a_secret_key() {
        let e = with(&[("BAO_ENV", "production")]).unwrap_err();
        assert_eq!(e.var, "BAO_SECRET_KEY");
        let short = with(&[("BAO_SECRET_KEY", "short")]).unwrap_err();
        assert!(
            !short.to_string().contains("short\""),
            "the secret is not echoed"
        );
        let c = with(&[
            ("BAO_ENV", "production"),
            ("BAO_SECRET_KEY", &"k".repeat(40)),
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_size("2MiB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("512kb"), Some(512 * 1024));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn redacts_database_passwords() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db/app"),
            "postgres://bob:****@db/app"
        );
        assert_eq!(redact_url("sqlite://bao.db"), "sqlite://bao.db");
        let c = with(&[("BAO_DATABASE_URL", "postgres://bob:hunter2@db/app")]).unwrap();
        assert!(!format!("{:?}", c).contains("hunter2"));
        assert!(!c.resolved()["BAO_DATABASE_URL"].contains("hunter2"));
    }

    #[test]
    fn ai_provider_names_are_checked_at_start() {
        let config = Config::from_vars(&[("BAO_AI_PROVIDERS", "Anthropic, echo")]).unwrap();
        assert_eq!(config.ai_providers, ["anthropic", "echo"]);
        let error = Config::from_vars(&[("BAO_AI_PROVIDERS", "openai,gpt")]).unwrap_err();
        assert_eq!(error.var, "BAO_AI_PROVIDERS");
        let error =
            Config::from_vars(&[("BAO_AI_PROVIDERS", "echo"), ("BAO_AI_DEFAULT", "ollama")])
                .unwrap_err();
        assert_eq!(error.var, "BAO_AI_DEFAULT");
        assert!(error.expected.contains("echo"), "{}", error.expected);
    }
}
