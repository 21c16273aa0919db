//! `TestClient`: drives the real app in-process (routing, middleware, views)
//! without a socket, keeping cookies across calls.
//!
//! ```
//! use bao::prelude::*;
//! use bao::testing::TestClient;
//!
//! pub struct Notes;
//!
//! #[derive(serde::Deserialize)]
//! pub struct NewNote { title: String }
//!
//! #[bao::controller("/notes")]
//! impl Notes {
//!     #[get("/")]
//!     async fn index() -> &'static str { "Notes" }
//!
//!     #[post("/")]
//!     async fn create(form: Form<NewNote>) -> Redirect {
//!         let _ = &form.title;
//!         Redirect::to("/notes")
//!     }
//! }
//!
//! bao::app! { controllers: [Notes] }
//!
//! // In `tests/`, write `#[bao::test] async fn notes_work() { .. }` instead.
//! fn main() {
//!     bao::testing::block_on(async {
//!         let client = TestClient::new(app()).await;
//!         client.get("/notes").await.assert_ok().assert_see("Notes");
//!         // Forms carry the CSRF token their page was rendered with.
//!         client.post("/notes").csrf().form(&[("title", "Hi")]).await.assert_redirect("/notes");
//!         client.post("/notes").form(&[("title", "Hi")]).await.assert_status(403);
//!     });
//! }
//! ```

mod browser;
mod database;
mod live;
mod proxy;
mod response;

pub use browser::Browser;
pub use database::{TestDatabase, DEFAULT_POSTGRES_ADMIN_URL};
pub use live::{free_port, http_get, http_request, wait_until_healthy, LiveResponse, LiveServer};
pub use proxy::TcpProxy;
pub use response::TestResponse;

use crate::app::{build_service, Running};
use crate::{App, Config};
use actix_web::body::BoxBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method};
use futures_util::future::LocalBoxFuture;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::rc::Rc;
use std::sync::Arc;

type BoxedService = Rc<
    dyn Service<
        actix_http::Request,
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        Future = LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>,
    >,
>;

struct Boxed<S> {
    inner: S,
}

impl<S, B> Service<actix_http::Request> for Boxed<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>;

    actix_web::dev::forward_ready!(inner);

    fn call(&self, req: actix_http::Request) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map(ServiceResponse::map_into_boxed_body) })
    }
}

/// Runs a future on a fresh actix runtime: what `#[bao::test]` does, for code
/// that is not a test function (examples, benchmarks).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}

/// A deterministic pseudo-random vector of `dims` numbers in [-1, 1), the
/// same for the same `seed`: test and benchmark data for vector memories.
///
/// ```
/// let v = bao::testing::random_vector(7, 384);
/// assert_eq!(v.len(), 384);
/// assert_eq!(v, bao::testing::random_vector(7, 384));
/// assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
/// ```
pub fn random_vector(seed: u64, dims: usize) -> Vec<f32> {
    // xorshift64, seeded through one LCG step so that nearby seeds differ.
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..dims)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// An in-process client for one app. Cookies set by responses are sent with
/// later requests, like a browser.
pub struct TestClient {
    service: BoxedService,
    runtime: Arc<Running>,
    cookies: RefCell<BTreeMap<String, String>>,
    /// A database made for this client (`BAO_TEST_DATABASE=postgres`),
    /// dropped with it.
    database: Option<TestDatabase>,
}

impl TestClient {
    /// A client for `app` with the test configuration (`Config::for_tests()`):
    /// an in-memory SQLite database, or, with `BAO_TEST_DATABASE=postgres`,
    /// a fresh PostgreSQL database of its own (dropped with the client), so
    /// the same tests run on both.
    ///
    /// # Panics
    /// With `BAO_TEST_DATABASE=postgres` when PostgreSQL is unreachable.
    pub async fn new(app: App) -> TestClient {
        let wants_postgres =
            std::env::var("BAO_TEST_DATABASE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"));
        if !wants_postgres {
            return TestClient::with_config(app, Config::for_tests()).await;
        }
        let database = TestDatabase::postgres().expect(
            "BAO_TEST_DATABASE=postgres, but PostgreSQL is unreachable (BAO_TEST_POSTGRES_URL)",
        );
        let config = Config {
            database_url: database.url().to_string(),
            ..Config::for_tests()
        };
        let mut client = TestClient::with_config(app, config).await;
        client.database = Some(database);
        client
    }

    /// The database this client made for itself, if it made one.
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_ref()
    }

    /// A client for `app` with the given configuration. With
    /// `BAO_AUTO_MIGRATE` on (always in `Config::for_tests()`), pending
    /// migrations are applied first, as `serve` does in development.
    ///
    /// # Panics
    /// If a migration fails: the test cannot run against a half-built schema.
    pub async fn with_config(app: App, config: Config) -> TestClient {
        let runtime = Arc::new(Running::new(&app, config));
        if runtime.config().auto_migrate {
            if let Some(pool) = &runtime.core.db {
                let migrator = crate::db::Migrator::new(runtime.config().migrations_dir.clone());
                let pending = migrator.discover().map(|m| !m.is_empty()).unwrap_or(true);
                if pending {
                    pool.run(move |conn| migrator.migrate(conn).map(|_| ()))
                        .await
                        .unwrap_or_else(|e| panic!("TestClient: the migrations failed: {e}"));
                }
            }
        }
        runtime.start_up().await;
        let service = actix_web::test::init_service(build_service(&app, &runtime)).await;
        TestClient {
            service: Rc::new(Boxed { inner: service }),
            runtime,
            cookies: RefCell::new(BTreeMap::new()),
            database: None,
        }
    }

    /// A `GET` request; `.await` it to send.
    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST` request; add a body with `.form(..)` or `.json(..)`.
    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
            csrf: false,
            peer: None,
        }
    }

    /// This client's CSRF token, as its pages carry it in `{{ csrf_field }}`
    /// (a session cookie is created first when the client has none).
    pub fn csrf_token(&self) -> String {
        let value = {
            let mut jar = self.cookies.borrow_mut();
            jar.entry(crate::auth::SESSION_COOKIE.to_string())
                .or_insert_with(crate::auth::session::new_session_value)
                .clone()
        };
        crate::auth::session::csrf_token_for(&self.runtime.signer, &value)
    }

    /// Forgets every cookie, as a new browser would.
    pub fn clear_cookies(&self) {
        self.cookies.borrow_mut().clear();
    }

    /// Sets a cookie, as if a response had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    /// The cookie `name` as the client holds it now.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// Starts graceful shutdown, as SIGTERM does: probes answer 503 with
    /// `shutting_down`, other requests are shed with 503.
    pub fn begin_shutdown(&self) {
        self.runtime.server.lifecycle.begin_shutdown();
    }

    async fn send(&self, mut request: TestRequest<'_>) -> TestResponse {
        if request.csrf {
            let token = self.csrf_token();
            match &mut request.body {
                Some((content_type, body))
                    if content_type.starts_with("application/x-www-form-urlencoded") =>
                {
                    let field =
                        serde_urlencoded::to_string([(crate::auth::CSRF_FIELD, token.as_str())])
                            .unwrap_or_default();
                    if !body.is_empty() {
                        body.push(b'&');
                    }
                    body.extend_from_slice(field.as_bytes());
                }
                _ => request
                    .headers
                    .push((crate::auth::CSRF_HEADER.to_string(), token)),
            }
        }
        let mut builder = actix_web::test::TestRequest::default()
            .method(request.method.clone())
            .uri(&request.path);
        let cookie_header = self
            .cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie_header.is_empty() {
            builder = builder.insert_header((header::COOKIE, cookie_header));
        }
        if let Some(peer) = request.peer {
            builder = builder.peer_addr(peer);
        }
        for (name, value) in &request.headers {
            builder = builder.insert_header((name.as_str(), value.as_str()));
        }
        if let Some((content_type, body)) = request.body {
            builder = builder
                .insert_header((header::CONTENT_TYPE, content_type))
                .set_payload(body);
        }
        let response = match self.service.call(builder.to_request()).await {
            Ok(response) => response,
            Err(error) => {
                let req = actix_web::test::TestRequest::default().to_http_request();
                ServiceResponse::new(req, error.error_response())
            }
        };
        self.keep_cookies(&response);
        TestResponse::read(response).await
    }

    fn keep_cookies(&self, response: &ServiceResponse<BoxBody>) {
        let mut jar = self.cookies.borrow_mut();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = Cookie::parse(text.to_string()) else {
                continue;
            };
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at <= actix_web::cookie::time::OffsetDateTime::now_utc());
            if expired {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_string(), cookie.value().to_string());
            }
        }
    }
}

/// A request being built; `.await` sends it.
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    csrf: bool,
    peer: Option<std::net::SocketAddr>,
}

impl TestRequest<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends `fields` as an `application/x-www-form-urlencoded` body.
    ///
    /// # Panics
    /// If `fields` cannot be form-encoded (a nested structure).
    pub fn form<T: serde::Serialize + ?Sized>(mut self, fields: &T) -> Self {
        let body = serde_urlencoded::to_string(fields).unwrap_or_else(|e| {
            panic!("TestRequest::form: the fields cannot be form-encoded: {e}")
        });
        self.body = Some((
            "application/x-www-form-urlencoded".into(),
            body.into_bytes(),
        ));
        self
    }

    /// Sends `value` as a JSON body.
    ///
    /// # Panics
    /// If `value` cannot be serialized to JSON.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|e| panic!("TestRequest::json: the value cannot be serialized: {e}"));
        self.body = Some(("application/json".into(), body));
        self
    }

    /// Sends this client's CSRF token, as a page's form would: the `_csrf`
    /// field of a form body, else the `X-CSRF-Token` header.
    pub fn csrf(mut self) -> Self {
        self.csrf = true;
        self
    }

    /// Sends the request from this client address (`"203.0.113.7"`), as
    /// the server sees it: login throttling and the audit log use it.
    ///
    /// # Panics
    /// If `ip` is not an IP address.
    pub fn from_ip(mut self, ip: &str) -> Self {
        let ip: std::net::IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("TestRequest::from_ip: `{ip}` is not an IP address: {e}"));
        self.peer = Some(std::net::SocketAddr::new(ip, 40000));
        self
    }

    /// Sends raw bytes with the given content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.to_string(), body.into()));
        self
    }

    /// Sends the request.
    pub async fn send(self) -> TestResponse {
        let client = self.client;
        client.send(self).await
    }
}

impl<'a> IntoFuture for TestRequest<'a> {
    type Output = TestResponse;
    type IntoFuture = LocalBoxFuture<'a, TestResponse>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
