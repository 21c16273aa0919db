//! A bare actix-web app serving the same endpoints as the Bao example
//! (`/plaintext`, `/json`, `/healthz`), the baseline of `benches/load.sh`.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> web::Json<Message> {
    web::Json(Message {
        message: "Hello, World!",
    })
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"ok": true}))
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8001);
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    // SECURITY_HEADERS=1 adds the headers Bao sends, to separate their cost
    // (bytes on the wire) from the framework's.
    let headers = std::env::var("SECURITY_HEADERS").is_ok_and(|v| v == "1");
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let mut defaults = actix_web::middleware::DefaultHeaders::new();
            if headers {
                defaults = defaults
                    .add(("content-security-policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"))
                    .add(("x-frame-options", "DENY"))
                    .add(("x-content-type-options", "nosniff"))
                    .add(("referrer-policy", "strict-origin-when-cross-origin"))
                    .add(("x-request-id", "0123456789abcdef0123456789abcdef"));
            }
            App::new()
                .wrap(defaults)
                .route("/plaintext", web::get().to(plaintext))
                .route("/json", web::get().to(json))
                .route("/healthz", web::get().to(healthz))
        })
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
    })
}
