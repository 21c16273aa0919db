//! What auth costs per request, in-process (no sockets): an anonymous page,
//! the same page behind `requires_login` (a session lookup in SQLite), a
//! form post with its CSRF token against the same post exempt from CSRF,
//! and one password check (argon2id at OWASP's cost), which is what a login
//! costs.
//!
//! `cargo bench -p benches --bench auth`

use actix_web::http::header;
use actix_web::test;
use bao::db::Model;
use bao::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::SimpleConnection;

#[bao::model(table = "users")]
pub struct User {
    #[key]
    pub id: i64,
    #[unique]
    pub email: String,
    pub password_hash: String,
    #[default("user")]
    pub role: String,
}

#[derive(serde::Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
}

#[derive(serde::Deserialize)]
pub struct Note {
    #[allow(dead_code)]
    title: String,
}

pub struct Pages;

#[bao::controller("/")]
impl Pages {
    #[get("/public")]
    async fn public() -> &'static str {
        "hello"
    }

    #[get("/private")]
    #[requires_login]
    async fn private() -> &'static str {
        "hello"
    }

    #[post("/notes")]
    async fn notes(_form: Form<Note>) -> &'static str {
        "saved"
    }

    #[post("/notes-exempt")]
    #[csrf_exempt]
    async fn notes_exempt(_form: Form<Note>) -> &'static str {
        "saved"
    }

    #[post("/register")]
    async fn register(auth: Auth, form: Form<Credentials>) -> bao::Result<HttpResponse> {
        let id = auth.register(&form.email, &form.password).await?;
        Ok(auth.login(id).await?.apply(HttpResponse::Ok().finish()))
    }
}

bao::app! {
    controllers: [Pages],
    models: [User],
    auth: User,
}

fn session_cookie(
    res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
) -> String {
    res.headers()
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("bao_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

fn auth(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("bao-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    {
        let pool = bao::db::DbPool::new(&url).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute(&User::info().create_table_sql(bao::db::Dialect::Sqlite))
            .unwrap();
        bao::db::system::migrate(&mut conn).unwrap();
    }
    let config = bao::Config::from_vars(&[
        ("BAO_ENV", "test"),
        ("BAO_DATABASE_URL", &url),
        ("BAO_LOG_LEVEL", "error"),
        ("BAO_SECRET_KEY", "a-benchmark-secret-that-is-long-enough"),
    ])
    .unwrap();
    let rt = actix_rt::Runtime::new().expect("a runtime");
    let service = rt.block_on(bao::__private::service_with_config(app(), config));

    // Sign up (and so in) once; keep the session cookie and its CSRF token.
    let (cookie, token) = rt.block_on(async {
        let res = test::call_service(
            &service,
            test::TestRequest::get().uri("/_bao/csrf").to_request(),
        )
        .await;
        let anonymous = session_cookie(&res);
        let body: serde_json::Value = test::read_body_json(res).await;
        let token = body["csrf_token"].as_str().unwrap().to_string();
        let req = test::TestRequest::post()
            .uri("/register")
            .insert_header((header::COOKIE, anonymous))
            .insert_header(("x-csrf-token", token))
            .set_form([
                ("email", "bench@example.com"),
                ("password", "a long enough password"),
            ])
            .to_request();
        let res = test::call_service(&service, req).await;
        assert!(res.status().is_success(), "{}", res.status());
        let cookie = session_cookie(&res);
        let req = test::TestRequest::get()
            .uri("/_bao/csrf")
            .insert_header((header::COOKIE, cookie.clone()))
            .to_request();
        let body: serde_json::Value = test::call_and_read_body_json(&service, req).await;
        (cookie, body["csrf_token"].as_str().unwrap().to_string())
    });

    let mut get = c.benchmark_group("page");
    get.bench_function("anonymous, public", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/public").to_request();
                assert!(test::call_service(&service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    get.bench_function("signed in, public (cookie sent, not read)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get()
                    .uri("/public")
                    .insert_header((header::COOKIE, cookie.clone()))
                    .to_request();
                assert!(test::call_service(&service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    get.bench_function("signed in, requires_login (session lookup)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get()
                    .uri("/private")
                    .insert_header((header::COOKIE, cookie.clone()))
                    .to_request();
                assert!(test::call_service(&service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    get.finish();

    let mut post = c.benchmark_group("form post");
    post.bench_function("csrf_exempt", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::post()
                    .uri("/notes-exempt")
                    .insert_header((header::COOKIE, cookie.clone()))
                    .set_form([("title", "hello"), ("_csrf", token.as_str())])
                    .to_request();
                assert!(test::call_service(&service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    post.bench_function("CSRF token checked (_csrf field)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::post()
                    .uri("/notes")
                    .insert_header((header::COOKIE, cookie.clone()))
                    .set_form([("title", "hello"), ("_csrf", token.as_str())])
                    .to_request();
                assert!(test::call_service(&service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    post.finish();

    let hash = bao::auth::password::hash_password_blocking("a long enough password");
    let mut login = c.benchmark_group("login");
    login.sample_size(20);
    login.bench_function("argon2id verify (m=19 MiB, t=2, p=1)", |b| {
        b.iter(|| {
            assert_eq!(
                bao::auth::password::verify_password_blocking("a long enough password", &hash),
                bao::auth::Verified::Yes
            );
        })
    });
    login.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, auth);
criterion_main!(benches);
