//! Two tiny endpoints: a plaintext greeting and a JSON status, also the
//! endpoints `benches/` compares against a bare actix-web app.

use bao::prelude::*;
use serde::Serialize;

/// Plaintext and JSON endpoints.
pub struct Status;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[bao::controller("/")]
impl Status {
    /// A plaintext greeting.
    #[get("/plaintext")]
    async fn plaintext() -> &'static str {
        "Hello, World!"
    }

    /// A JSON greeting.
    #[get("/json")]
    #[openapi]
    async fn json() -> Json<Message> {
        Json(Message {
            message: "Hello, World!",
        })
    }
}
