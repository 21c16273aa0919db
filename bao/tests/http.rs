//! The web core through the real actix-web stack: routing, typed path
//! parameters, extractors, middleware, probes, metrics, limits and static files.

use bao::prelude::*;
use bao::testing::TestClient;
use bao::Config;
use serde::Deserialize;

pub struct Posts;

#[derive(Deserialize, serde::Serialize)]
pub struct NewPost {
    title: String,
}

#[bao::controller("/posts")]
impl Posts {
    /// Lists posts.
    #[get("/")]
    async fn index() -> &'static str {
        "all posts"
    }

    #[get("/{id}")]
    async fn show(id: i64) -> String {
        format!("post {id}")
    }

    #[get("/{post_id}/comments/{slug}")]
    async fn comment(slug: String, post_id: u32) -> String {
        format!("comment {slug} of {post_id}")
    }

    #[post("/")]
    async fn create(form: Form<NewPost>) -> Redirect {
        Redirect::to(format!("/posts/{}", form.title.len()))
    }

    #[put("/{id}")]
    async fn replace(id: i64, body: Json<NewPost>) -> Json<serde_json::Value> {
        Json(bao::json!({"id": id, "title": body.title}))
    }

    #[patch("/{id}")]
    async fn touch(id: i64) -> String {
        format!("patched {id}")
    }

    #[delete("/{id}")]
    async fn destroy(id: i64) -> HttpResponse {
        let _ = id;
        HttpResponse::NoContent().finish()
    }

    #[get("/search/by-title")]
    async fn search(q: Query<std::collections::HashMap<String, String>>, id: RequestId) -> String {
        format!("{} {}", q.get("q").cloned().unwrap_or_default(), id.0)
    }

    #[get("/failing/error")]
    async fn failing() -> bao::Result<String> {
        Err(bao::Error::Internal(
            "database exploded: password=hunter2".into(),
        ))
    }

    #[get("/missing/thing")]
    async fn missing() -> bao::Result<String> {
        Err(bao::Error::NotFound)
    }

    #[post("/cookie/set")]
    async fn set_cookie() -> HttpResponse {
        HttpResponse::Ok()
            .cookie(bao::web::cookie("flavour", "ginger"))
            .finish()
    }

    #[get("/cookie/get")]
    async fn get_cookie(req: HttpRequest) -> String {
        req.cookie("flavour")
            .map(|c| c.value().to_string())
            .unwrap_or_default()
    }
}

/// A parameter route declared before the literal routes it overlaps.
pub struct Articles;

#[bao::controller("/articles")]
impl Articles {
    #[get("/{slug}")]
    async fn show(slug: String) -> String {
        format!("article {slug}")
    }

    #[get("/new")]
    async fn new_form() -> &'static str {
        "new article form"
    }
}

/// Another controller's literal route under the same prefix, listed later.
pub struct Drafts;

#[bao::controller("/articles/drafts")]
impl Drafts {
    #[get("/")]
    async fn index() -> &'static str {
        "drafts"
    }
}

bao::app! {
    name: "Http Test",
    controllers: [Posts, Articles, Drafts],
}

#[bao::test]
async fn literal_segments_win_over_parameters_whatever_the_order() {
    let client = TestClient::new(app()).await;
    client
        .get("/articles/new")
        .await
        .assert_see("new article form");
    client.get("/articles/drafts").await.assert_see("drafts");
    client
        .get("/articles/hello")
        .await
        .assert_see("article hello");
}

#[bao::test]
async fn a_trailing_slash_redirects_to_the_route_without_it() {
    let client = TestClient::new(app()).await;
    let res = client.get("/articles/hello/").await;
    res.assert_status(308);
    assert_eq!(res.header("location"), Some("/articles/hello"));
    let res = client.get("/posts/?page=2").await;
    res.assert_status(308);
    assert_eq!(res.header("location"), Some("/posts?page=2"));
    // 308 keeps the method: a form posted to `/posts/` is posted again.
    let res = client.post("/posts/").csrf().form(&[("title", "x")]).await;
    res.assert_status(308);
    assert_eq!(res.header("location"), Some("/posts"));
    // Nothing to redirect to, another method, or another host: 404.
    client.get("/nowhere/").await.assert_status(404);
    client
        .put("/articles/drafts/")
        .csrf()
        .await
        .assert_status(404);
    client.get("//evil.example/").await.assert_status(404);
}

#[bao::test]
async fn routes_dispatch_by_method_and_typed_path() {
    let client = TestClient::new(app()).await;
    client
        .get("/posts")
        .await
        .assert_ok()
        .assert_see("all posts");
    client
        .get("/posts/42")
        .await
        .assert_ok()
        .assert_see("post 42");
    client
        .get("/posts/7/comments/first")
        .await
        .assert_see("comment first of 7");
    client
        .patch("/posts/3")
        .csrf()
        .await
        .assert_see("patched 3");
    client
        .request(actix_web::http::Method::HEAD, "/posts/42")
        .await
        .assert_ok();
    client
        .request(actix_web::http::Method::HEAD, "/posts/nope/x/y")
        .await
        .assert_status(404);
    client.delete("/posts/3").csrf().await.assert_status(204);
    client
        .put("/posts/9")
        .csrf()
        .json(&bao::json!({"title": "Hi"}))
        .await
        .assert_json(bao::json!({"id": 9, "title": "Hi"}));
    client
        .post("/posts")
        .csrf()
        .form(&[("title", "hello")])
        .await
        .assert_redirect("/posts/5");
}

#[bao::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let client = TestClient::new(app()).await;
    let res = client.put("/posts").csrf().await;
    res.assert_status(405).assert_see("405 Method not allowed");
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST"));
    let res = client
        .post("/posts/7")
        .csrf()
        .header("accept", "application/json")
        .await;
    res.assert_status(405)
        .assert_json(bao::json!({"status": 405}));
    assert_eq!(res.header("allow"), Some("DELETE, GET, HEAD, PATCH, PUT"));
    client.put("/nowhere").await.assert_status(404);
    client
        .request(actix_web::http::Method::HEAD, "/healthz")
        .await
        .assert_ok();
}

#[bao::test]
async fn unparseable_path_parameters_are_not_found() {
    let client = TestClient::new(app()).await;
    client.get("/posts/abc").await.assert_status(404);
    client
        .get("/posts/99999999999999999999999")
        .await
        .assert_status(404);
    client.get("/posts/1/comments/x").await.assert_ok();
    client.get("/posts/-1/comments/x").await.assert_status(404);
}

#[bao::test]
async fn unknown_paths_get_html_or_json_404() {
    let client = TestClient::new(app()).await;
    client
        .get("/nowhere")
        .await
        .assert_status(404)
        .assert_see("<h1>404 Not found</h1>");
    let res = client
        .get("/nowhere")
        .header("accept", "application/json")
        .await;
    res.assert_status(404)
        .assert_json(bao::json!({"status": 404}));
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
}

#[bao::test]
async fn bad_bodies_are_client_errors() {
    let client = TestClient::new(app()).await;
    client
        .put("/posts/1")
        .csrf()
        .body("application/json", "{not json")
        .await
        .assert_status(400);
    // A form that does not fit gets Bao's error page with the reason.
    client
        .post("/posts")
        .csrf()
        .form(&[("other", "x")])
        .await
        .assert_status(400)
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_see("The form could not be read");
    // A JSON client gets a problem document.
    client
        .put("/posts/1")
        .csrf()
        .header("Accept", "application/json")
        .body("application/json", "{not json")
        .await
        .assert_status(400)
        .assert_header("content-type", "application/problem+json")
        .assert_see("The JSON body could not be read");
}

#[bao::test]
async fn oversized_bodies_get_413() {
    let config = Config::from_vars(&[("BAO_MAX_BODY_SIZE", "1KiB")]).unwrap();
    let client = TestClient::with_config(app(), config).await;
    let big = "x".repeat(4096);
    client
        .post("/posts")
        .csrf()
        .form(&[("title", big.as_str())])
        .await
        .assert_status(413);
    client
        .put("/posts/1")
        .csrf()
        .json(&bao::json!({"title": big}))
        .await
        .assert_status(413);
    // The server keeps serving, and small bodies still go through.
    client
        .post("/posts")
        .csrf()
        .form(&[("title", "small")])
        .await
        .assert_redirect("/posts/5");
}

#[bao::test]
async fn error_responses_carry_the_security_headers() {
    let config = Config::from_vars(&[("BAO_MAX_BODY_SIZE", "1KiB")]).unwrap();
    let client = TestClient::with_config(app(), config).await;
    let big = "x".repeat(4096);
    let responses = [
        client.get("/nowhere").await,
        client.put("/healthz").await,
        client.post("/posts").form(&[("title", "no token")]).await,
        client
            .post("/posts")
            .csrf()
            .form(&[("title", big.as_str())])
            .await,
        client.get("/posts/failing/error").await,
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [404, 405, 403, 413, 500]);
    for res in &responses {
        res.assert_header("x-frame-options", "DENY")
            .assert_header("x-content-type-options", "nosniff")
            .assert_dont_see("hunter2")
            .assert_dont_see("panicked");
        assert!(res.header("content-security-policy").is_some());
        assert!(res.header("x-request-id").is_some());
    }
}

#[bao::test]
async fn errors_map_to_status_without_leaking_details() {
    let client = TestClient::new(app()).await;
    client
        .get("/posts/failing/error")
        .await
        .assert_status(500)
        .assert_dont_see("hunter2");
    client.get("/posts/missing/thing").await.assert_status(404);
}

#[bao::test]
async fn every_response_has_security_headers_and_a_request_id() {
    let client = TestClient::new(app()).await;
    for path in ["/posts", "/nowhere", "/healthz"] {
        let res = client.get(path).await;
        assert!(res
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'"));
        res.assert_header("x-frame-options", "DENY")
            .assert_header("x-content-type-options", "nosniff")
            .assert_header("referrer-policy", "strict-origin-when-cross-origin");
        assert_eq!(res.header("x-request-id").map(str::len), Some(32), "{path}");
    }
}

#[bao::test]
async fn request_ids_are_kept_from_the_client_when_valid() {
    let client = TestClient::new(app()).await;
    let res = client
        .get("/posts/search/by-title?q=rust")
        .header("x-request-id", "trace-123")
        .await;
    res.assert_header("x-request-id", "trace-123")
        .assert_see("rust trace-123");
    let res = client
        .get("/posts")
        .header("x-request-id", "bad id with spaces")
        .await;
    assert_ne!(res.header("x-request-id"), Some("bad id with spaces"));
}

#[bao::test]
async fn the_csp_is_configurable() {
    let config = Config::from_vars(&[("BAO_CSP", "default-src 'none'")]).unwrap();
    let client = TestClient::with_config(app(), config).await;
    client
        .get("/posts")
        .await
        .assert_header("content-security-policy", "default-src 'none'");
}

#[bao::test]
async fn probes_and_metrics() {
    let client = TestClient::new(app()).await;
    client
        .get("/healthz")
        .await
        .assert_ok()
        .assert_json(bao::json!({"ok": true}));
    client
        .get("/readyz")
        .await
        .assert_ok()
        .assert_json(bao::json!({"ok": true, "checks": {}}));
    client.get("/posts/5").await.assert_ok();
    client.get("/posts/abc").await.assert_status(404);
    let metrics = client.get("/metrics").await;
    metrics.assert_ok();
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    metrics
        // The scrape itself is the one request in flight.
        .assert_see("bao_http_requests_in_flight 1\n")
        .assert_see(r#"bao_http_requests_total{method="GET",route="/posts/{id}",status="200"} 1"#)
        .assert_see(r#"bao_http_requests_total{method="GET",route="/posts/{id}",status="404"} 1"#)
        .assert_see(
            r#"bao_http_request_duration_seconds_count{method="GET",route="/posts/{id}"} 2"#,
        );
}

#[bao::test]
async fn metrics_can_be_turned_off() {
    let config = Config::from_vars(&[("BAO_METRICS_ENABLED", "false")]).unwrap();
    let client = TestClient::with_config(app(), config).await;
    client.get("/metrics").await.assert_status(404);
}

#[bao::test]
async fn readiness_names_the_failing_check() {
    let app = app()
        .readiness_check("database", || async { Ok(()) })
        .readiness_check("cache", || async { Err("connection refused".to_string()) });
    let client = TestClient::new(app).await;
    client
        .get("/readyz")
        .await
        .assert_status(503)
        .assert_json(bao::json!({
            "ok": false,
            "checks": {"database": "ok", "cache": "error: connection refused"}
        }));
}

#[bao::test]
async fn shutdown_sheds_requests_but_not_probes() {
    let client = TestClient::new(app()).await;
    client.begin_shutdown();
    client
        .get("/healthz")
        .await
        .assert_status(503)
        .assert_json(bao::json!({"ok": false, "reason": "shutting_down"}));
    client
        .get("/readyz")
        .await
        .assert_status(503)
        .assert_json(bao::json!({"ok": false, "reason": "shutting_down"}));
    let shed = client.get("/posts").await;
    shed.assert_status(503)
        .assert_json(bao::json!({"reason": "shutting_down"}));
    assert!(shed.header("x-request-id").is_some());
    assert_eq!(shed.header("retry-after"), Some("5"));
}

#[bao::test]
async fn vendored_assets_are_served_with_long_cache_headers() {
    let client = TestClient::new(app()).await;
    for url in [
        bao::assets::HTMX_URL,
        bao::assets::ALPINE_URL,
        bao::assets::CSS_URL,
    ] {
        let res = client.get(url).await;
        res.assert_ok()
            .assert_header("cache-control", "public, max-age=31536000, immutable");
        assert!(res.text().len() > 1000, "{url} has content");
    }
    client
        .get("/_bao/static/../Cargo.toml")
        .await
        .assert_status(404);
    client.get("/_bao/static/nope.js").await.assert_status(404);
}

#[bao::test]
async fn cookies_are_kept_across_requests() {
    let client = TestClient::new(app()).await;
    client.get("/posts/cookie/get").await.assert_ok();
    assert_eq!(client.get("/posts/cookie/get").await.text(), "");
    client.post("/posts/cookie/set").csrf().await.assert_ok();
    assert_eq!(client.cookie("flavour").as_deref(), Some("ginger"));
    assert_eq!(client.get("/posts/cookie/get").await.text(), "ginger");
}

#[test]
fn the_route_table_is_const_and_complete() {
    let routes: Vec<_> = ROUTES.iter().flat_map(|t| t.iter()).collect();
    assert_eq!(routes.len(), 15);
    let index = routes.iter().find(|r| r.handler == "index").unwrap();
    assert_eq!(
        (index.method, index.path, index.summary),
        ("GET", "/posts", "Lists posts.")
    );
    let all = app().routes();
    assert!(all
        .iter()
        .any(|r| r.path == "/healthz" && r.controller == "bao"));
}

#[test]
fn the_route_table_follows_the_configuration() {
    let off = Config::from_vars(&[("BAO_METRICS_ENABLED", "false")]).unwrap();
    let on = Config::from_vars(&[]).unwrap();
    let paths = |config: &Config| -> Vec<&'static str> {
        app().served_routes(config).iter().map(|r| r.path).collect()
    };
    assert!(!paths(&off).contains(&"/metrics"));
    assert!(paths(&on).contains(&"/metrics"));
    assert!(paths(&off).contains(&"/posts/{id}"));
}

#[bao::test]
async fn metrics_need_the_token_or_a_local_address_in_production() {
    let token = "a-metrics-token-that-is-long-enough-1234";
    let with_token = Config::from_vars(&[("BAO_METRICS_TOKEN", token)]).unwrap();
    let client = TestClient::with_config(app(), with_token).await;
    client.get("/metrics").await.assert_status(401);
    client
        .get("/metrics")
        .header(
            "Authorization",
            "Bearer not-the-metrics-token-but-as-long-as-it",
        )
        .await
        .assert_status(401);
    client
        .get("/metrics")
        .header("Authorization", &format!("Bearer {token}"))
        .await
        .assert_ok()
        .assert_see("bao_http_requests_total");

    let production = Config::from_vars(&[
        ("BAO_ENV", "production"),
        ("BAO_SECRET_KEY", "a-production-secret-that-is-long-enough"),
    ])
    .unwrap();
    let client = TestClient::with_config(app(), production).await;
    client
        .get("/metrics")
        .from_ip("203.0.113.5")
        .await
        .assert_status(403)
        .assert_see("BAO_METRICS_TOKEN");
    client
        .get("/metrics")
        .from_ip("127.0.0.1")
        .await
        .assert_ok();
    let short = Config::from_vars(&[("BAO_METRICS_TOKEN", "short")]).unwrap_err();
    assert_eq!(short.var, "BAO_METRICS_TOKEN");
}

#[bao::test]
async fn invented_methods_share_one_metrics_label() {
    let client = TestClient::new(app()).await;
    for i in 0..500 {
        let method = bao::__private::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let _ = client.request(method, "/").send().await;
    }
    client.get("/").await;
    let metrics = client.get("/metrics").await.text();
    let labels: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("bao_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    assert!(labels.contains("other"), "{metrics}");
    assert!(labels.iter().all(|m| !m.starts_with("BREW")), "{labels:?}");
    assert!(labels.len() <= 3, "{labels:?}");
}
