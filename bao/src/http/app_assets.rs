//! The app's own files, and reloading the browser in development.
//!
//! `GET /static/{path}` serves the app's `static/` folder (`BAO_STATIC_DIR`):
//! content types from the file name, `ETag` and `Last-Modified` with 304
//! answers, ranges; hidden files, folders and paths leaving the folder are
//! 404. A URL made by [`url`] carries the file's fingerprint (`?v=` and
//! the first 12 hex digits of its SHA-256), and such a request is cached
//! for a year (`immutable`); any other is revalidated (`no-cache`).
//!
//! With `BAO_LIVE_RELOAD=1` (what `bao run` sets), `/_bao/dev/reload` is a
//! stream that names the server's start, and [`live_reload`] is the script
//! tag that reloads the page when a new server answers it.

use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::SystemTime;

/// Where the app's files are, for [`url`] (set when a server starts).
static STATIC_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);
/// Whether pages get the reload script (set when a server starts).
static LIVE_RELOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Fingerprints by file, valid while its length and modification time stay.
type Fingerprints = HashMap<PathBuf, (SystemTime, u64, String)>;

fn fingerprints() -> &'static Mutex<Fingerprints> {
    static CACHE: OnceLock<Mutex<Fingerprints>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The URL of `path` under the app's `static/` folder, with its
/// fingerprint when the file exists: `{{ bao::assets::url("app.css") }}`
/// gives `/static/app.css?v=3f2a9c01b7de`. A changed file gets a new URL,
/// so browsers may keep each version for a year.
pub fn url(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let dir = STATIC_DIR
        .read()
        .ok()
        .and_then(|d| d.clone())
        .unwrap_or_else(|| PathBuf::from("static"));
    match fingerprint(&dir.join(path)) {
        Some(v) => format!("/static/{path}?v={v}"),
        None => format!("/static/{path}"),
    }
}

fn fingerprint(file: &Path) -> Option<String> {
    let meta = std::fs::metadata(file).ok().filter(|m| m.is_file())?;
    let modified = meta.modified().ok()?;
    let mut cache = fingerprints().lock().ok()?;
    if let Some((at, len, v)) = cache.get(file) {
        if *at == modified && *len == meta.len() {
            return Some(v.clone());
        }
    }
    let bytes = std::fs::read(file).ok()?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    let v = crate::support::crypto::hex(&digest[..6]);
    cache.insert(file.to_path_buf(), (modified, meta.len(), v.clone()));
    Some(v)
}

/// The script tag that reloads the page when `bao run` restarts the app,
/// empty unless `BAO_LIVE_RELOAD` is on: `{{ bao::assets::live_reload()|safe }}`
/// in a layout.
pub fn live_reload() -> &'static str {
    if LIVE_RELOAD.load(std::sync::atomic::Ordering::Relaxed) {
        concat!(
            "<script src=\"/_bao/static/bao-reload-",
            env!("CARGO_PKG_VERSION"),
            ".js\" defer></script>"
        )
    } else {
        ""
    }
}

/// Mounts `/static` on the app's folder (and the reload stream when on).
pub(crate) fn configure(cfg: &mut web::ServiceConfig, config: &crate::Config) {
    if let Ok(mut dir) = STATIC_DIR.write() {
        *dir = Some(config.static_dir.clone());
    }
    LIVE_RELOAD.store(config.live_reload, std::sync::atomic::Ordering::Relaxed);
    let files = actix_files::Files::new("", &config.static_dir)
        .use_etag(true)
        .use_last_modified(true)
        .default_handler(fn_service(|req: ServiceRequest| async {
            let (req, _) = req.into_parts();
            let response = super::not_found_response(&req);
            Ok(ServiceResponse::new(req, response))
        }));
    cfg.service(
        web::scope("/static")
            .wrap(actix_web::middleware::from_fn(cache_headers))
            .service(files),
    );
}

/// A year for fingerprinted URLs, revalidation for the rest.
async fn cache_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let pinned = req.query_string().split('&').any(|p| p.starts_with("v="));
    let mut response = next.call(req).await?;
    if response.status().is_success() || response.status() == 304 {
        let value = if pinned {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    Ok(response)
}

/// Registers `/_bao/dev/reload` (inside the `/_bao` scope) when on.
pub(crate) fn configure_reload(cfg: &mut web::ServiceConfig, on: bool) {
    if on {
        cfg.service(super::framework_get("/_bao/dev/reload").to(reload_stream));
    }
}

/// When this process started serving: a new value means a new build.
fn boot_id() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| crate::support::crypto::random_hex(8))
}

async fn reload_stream(req: HttpRequest) -> HttpResponse {
    let first = format!("retry: 500\nevent: boot\ndata: {}\n\n", boot_id());
    let head =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(first)) });
    let closing = super::closing(&req);
    let beats = futures_util::stream::unfold(closing, |mut closing| async move {
        tokio::select! {
            _ = &mut closing => None,
            _ = tokio::time::sleep(super::SSE_HEARTBEAT) => {
                Some((Ok(Bytes::from_static(b": ping\n\n")), closing))
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(futures_util::StreamExt::chain(head, beats))
}
