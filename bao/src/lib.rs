//! # Bao
//!
//! A full-stack web framework in which a misconfigured app does not compile.
//! Annotate your types and functions, run `cargo build`, get the server:
//!
//! ```
//! use bao::prelude::*;
//!
//! pub struct Greetings;
//!
//! #[bao::controller("/hello")]
//! impl Greetings {
//!     /// Greets someone by name.
//!     #[get("/{name}")]
//!     async fn greet(name: String) -> String {
//!         format!("Hello, {name}!")
//!     }
//! }
//!
//! bao::app! { name: "Greeter", controllers: [Greetings] }
//!
//! fn main() {
//!     // `bao::cli::main(app())` serves it; a test drives it in-process:
//!     bao::testing::block_on(async {
//!         let client = bao::testing::TestClient::new(app()).await;
//!         client.get("/hello/Ada").await.assert_ok().assert_see("Hello, Ada!");
//!     });
//! }
//! ```
//!
//! Pages are askama templates under `views/` with a typed context struct
//! (`#[bao::view("home/index.html")]`, rendered with [`View`]). Start a new app
//! with `bao init --name "My App"`; `ARCHITECTURE.md` in the repository maps
//! every feature to its module.

pub mod admin;
pub mod agent;
pub mod ai;
pub mod api;
pub mod app;
pub mod auth;
pub mod channel;
pub mod cli;
pub mod config;
pub mod db;
mod error;
pub mod fault;
pub mod forms;
pub mod http;
pub mod mcp;
pub mod memory;
pub mod obs;
pub mod plugin;
pub mod rag;
pub mod script;
pub mod subsystem;
pub mod support;
pub mod task;
pub mod testing;
pub mod view;
pub mod workflow;

pub use app::{serve, serve_until, App, Config, ConfigError, RouteInfo};
pub use auth::{Auth, CurrentUser, OptionalUser, Tenant};
pub use bao_macros::{
    agent, api, app, channel, controller, every, model, retry, task, test, tool, view, workflow,
    ws, TextEnum,
};
/// Exact decimals for model fields (`bigdecimal::BigDecimal`).
pub use bigdecimal;
/// Dates and times for model fields (`chrono::DateTime<Utc>`, `NaiveDate`, ...).
pub use channel as channels;
pub use chrono;
pub use db::Db;
pub use error::{Error, Result};
pub use fault::{dead_letter, CircuitBreaker};
pub use http::{Redirect, RequestId};
pub use plugin::{Capabilities, Plugin, PluginCtx};
pub use serde_json;
/// Builds a `serde_json::Value`, e.g. for `TestResponse::assert_json`.
pub use serde_json::json;
pub use task::background;
/// Structured logging through Bao's logger (JSON or pretty, with the request
/// id): `bao::tracing::info!(order_id, "receipt sent")`.
pub use tracing;
pub use view::View;
pub use workflow::{Retry, StepError, WorkflowCtx};

/// Extractors and responses from actix-web, under Bao's roof.
pub mod web {
    pub use crate::http::form::Form;
    pub use actix_web::cookie::Cookie;
    pub use actix_web::http::StatusCode;
    pub use actix_web::web::{Bytes, Data, Json, Path, Query};
    pub use actix_web::{HttpRequest, HttpResponse, Responder};

    /// A cookie for the whole site: `HttpOnly`, `SameSite=Lax`, path `/`.
    pub fn cookie(name: &str, value: &str) -> Cookie<'static> {
        Cookie::build(name.to_string(), value.to_string())
            .path("/")
            .http_only(true)
            .same_site(actix_web::cookie::SameSite::Lax)
            .finish()
    }
}

/// What a controller file usually needs: `use bao::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{Auth, CurrentUser, OptionalUser, Tenant};
    pub use crate::db::{Db, QueryExt};
    pub use crate::fault::{CircuitBreaker, CircuitError};
    pub use crate::task::TaskCtx;
    pub use crate::web::{Form, HttpRequest, HttpResponse, Json, Query, Responder};
    pub use crate::workflow::{Retry, StepError, WorkflowCtx};
    pub use crate::{App, Error, Redirect, RequestId, Result, View};
    pub use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl};
}

/// Assets vendored in Bao, with the URLs to put in a layout; [`url`] for
/// the app's own files under `static/`.
pub mod assets {
    pub use crate::http::app_assets::{live_reload, url};
    pub use crate::http::static_files::{
        ALPINE_URL, CSS_URL, DOCS_JS_URL, HTMX_SSE_URL, HTMX_URL, JS_URL, SWAGGER_CSS_URL,
        SWAGGER_JS_URL, WORKFLOW_JS_URL,
    };
}

/// What generated code refers to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::app::{const_contains, Controller};
    pub use crate::auth::require;
    pub use crate::auth::session::{csrf_guard, csrf_guard_api};
    pub use crate::db::table_clash_at;
    pub use crate::http::handler::{
        extract, path_param, respond, route, Extract, IntoResponse, PathParam,
    };
    pub use crate::http::route_clash_at;
    pub use crate::http::{auth_model_problem, login_without_auth_at};
    pub use crate::support::konst::Message;
    pub use crate::task::task_name_clash_at;
    pub use crate::workflow::workflow_name_clash_at;
    pub use actix_web::dev::Payload;
    pub use actix_web::http::Method;
    pub use actix_web::http::StatusCode;
    pub use actix_web::Error as ActixError;
    pub use actix_web::{web, HttpRequest, HttpResponse};
    pub use askama;
    pub use diesel;
    pub use futures_util::future::{BoxFuture, LocalBoxFuture};
    pub use serde;
    pub use serde_json;

    /// The app's actix-web service with the test configuration, for
    /// benchmarks that compare it with a bare actix-web service.
    pub async fn service(
        app: crate::App,
    ) -> impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    > {
        service_with_config(app, crate::Config::for_tests()).await
    }

    /// Like [`service`], with the given configuration.
    pub async fn service_with_config(
        app: crate::App,
        config: crate::Config,
    ) -> impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    > {
        let running = crate::app::Running::new(&app, config);
        actix_web::test::init_service(crate::app::build_service(&app, &running)).await
    }

    pub use crate::testing::block_on;
}
