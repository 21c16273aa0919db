//! `/openapi.json` and the `/docs` explorer (Swagger UI, vendored and served
//! from `/_bao/static/`: no CDN at run time, nothing downloaded at build
//! time).

use crate::http::static_files::{DOCS_JS_URL, SWAGGER_CSS_URL, SWAGGER_JS_URL};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The document as served: rendered once per process.
pub(crate) struct Document {
    pub(crate) json: String,
    pub(crate) app_name: &'static str,
    pub(crate) docs_enabled: bool,
}

/// The API documents as a subsystem: what `bao::app! { apis: [..] }` sets.
#[derive(Clone, Default)]
pub struct ApiSubsystem {
    pub(crate) document: Option<fn() -> super::OpenApi>,
}

impl crate::subsystem::Subsystem for ApiSubsystem {
    fn name(&self) -> &'static str {
        "api"
    }

    fn routes(&self) -> Vec<crate::RouteInfo> {
        match self.document {
            Some(_) => crate::http::DOCS_ROUTES.to_vec(),
            None => Vec::new(),
        }
    }

    fn mount(&self, core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        let mounted = crate::subsystem::Mounted::new();
        let Some(document) = self.document else {
            return mounted;
        };
        let state = std::sync::Arc::new(Document {
            json: document().to_pretty_json().unwrap_or_default(),
            app_name: core.app.name,
            docs_enabled: core.config.docs_enabled,
        });
        mounted.data(state).routes(|cfg| {
            cfg.service(crate::http::get_resource("/openapi.json").to(openapi_json))
                .service(crate::http::get_resource("/docs").to(docs));
        })
    }
}

async fn openapi_json(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document.json.clone())
}

/// Swagger UI sets styles from script, so the page allows inline styles;
/// scripts stay `'self'` only.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

async fn docs(req: HttpRequest, rt: web::Data<Document>) -> HttpResponse {
    if !rt.docs_enabled {
        return crate::http::not_found_response(&req);
    }
    let (token, cookie) = crate::auth::csrf_for_request(&req);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf-token\" content=\"{token}\">\
         <title>API · {name}</title><link rel=\"stylesheet\" href=\"{SWAGGER_CSS_URL}\"></head>\
         <body><div id=\"docs\"></div><script src=\"{SWAGGER_JS_URL}\"></script>\
         <script src=\"{DOCS_JS_URL}\"></script></body></html>",
        name = crate::http::page::escape_html(rt.app_name),
    );
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    response.body(html)
}
