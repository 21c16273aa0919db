//! htmx, Alpine.js (its CSP build) and bao.css, compiled into the binary and
//! served from `/_bao/static/`, so pages need no CDN and the default CSP can
//! stay `'self'`. File names carry versions, so they are cached for a year.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// URL of the vendored htmx.
pub const HTMX_URL: &str = "/_bao/static/htmx-2.0.11.min.js";
/// URL of the vendored htmx SSE extension (`hx-ext="sse"`, for channels).
pub const HTMX_SSE_URL: &str = "/_bao/static/htmx-ext-sse-2.2.4.min.js";
/// URL of the vendored Alpine.js (CSP build: no `eval`, works under `script-src 'self'`).
pub const ALPINE_URL: &str = "/_bao/static/alpine-csp-3.17.4.min.js";
/// URL of the vendored Swagger UI bundle (the `/docs` API explorer).
pub const SWAGGER_JS_URL: &str = "/_bao/static/swagger-ui-bundle-5.35.0.js";
/// URL of the vendored Swagger UI stylesheet.
pub const SWAGGER_CSS_URL: &str = "/_bao/static/swagger-ui-5.35.0.css";
/// URL of the script that starts the explorer on `/openapi.json`.
pub const DOCS_JS_URL: &str = concat!("/_bao/static/bao-docs-", env!("CARGO_PKG_VERSION"), ".js");
/// URL of the script that keeps a workflow run's page live.
pub const WORKFLOW_JS_URL: &str = concat!(
    "/_bao/static/bao-workflow-",
    env!("CARGO_PKG_VERSION"),
    ".js"
);
/// URL of Bao's page behaviours (`data-confirm` on forms and buttons).
pub const JS_URL: &str = concat!("/_bao/static/bao-", env!("CARGO_PKG_VERSION"), ".js");
/// URL of Bao's stylesheet.
pub const CSS_URL: &str = concat!("/_bao/static/bao-", env!("CARGO_PKG_VERSION"), ".css");

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "htmx-ext-sse-2.2.4.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx-ext-sse-2.2.4.min.js"),
    },
    Asset {
        name: "alpine-csp-3.17.4.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/alpine-csp-3.17.4.min.js"),
    },
    Asset {
        name: "swagger-ui-bundle-5.35.0.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/swagger-ui-bundle-5.35.0.js"),
    },
    Asset {
        name: "swagger-ui-5.35.0.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/swagger-ui-5.35.0.css"),
    },
    Asset {
        name: concat!("bao-docs-", env!("CARGO_PKG_VERSION"), ".js"),
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/bao-docs.js"),
    },
    Asset {
        name: concat!("bao-workflow-", env!("CARGO_PKG_VERSION"), ".js"),
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/bao-workflow.js"),
    },
    Asset {
        name: concat!("bao-reload-", env!("CARGO_PKG_VERSION"), ".js"),
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/bao-reload.js"),
    },
    Asset {
        name: concat!("bao-", env!("CARGO_PKG_VERSION"), ".js"),
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/bao.js"),
    },
    Asset {
        name: concat!("bao-", env!("CARGO_PKG_VERSION"), ".css"),
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/bao.css"),
    },
];

/// Registers the assets route (inside the `/_bao` scope).
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::framework_get("/_bao/static/{file}").to(serve));
}

async fn serve(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == file.as_str()) {
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.body),
        None => super::not_found_response(&req),
    }
}
