//! Auth and security through the real HTTP stack, on SQLite and PostgreSQL:
//! sessions, CSRF, passwords, throttling, roles, API tokens, tenants and the
//! audit log.

use bao::auth::{tokens, Auth, AuthError};
use bao::db::{DbPool, Model};
use bao::prelude::*;
use bao::testing::{TestClient, TestDatabase};
use bao::{Config, CurrentUser, OptionalUser, Tenant};
use diesel::connection::SimpleConnection;
use serde::Deserialize;
use std::time::Duration;

#[bao::model(table = "users")]
#[derive(Debug, Clone)]
pub struct User {
    #[key]
    pub id: i64,
    #[unique]
    pub email: String,
    pub password_hash: String,
    #[default("user")]
    pub role: String,
    pub tenant_id: Option<i64>,
    pub created_at: bao::chrono::NaiveDateTime,
}

#[bao::model(table = "notes", tenant_scoped)]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Note {
    #[key]
    pub id: i64,
    pub tenant_id: i64,
    pub title: String,
}

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
    next: Option<String>,
}

#[derive(Deserialize, serde::Serialize)]
pub struct NoteForm {
    title: String,
}

pub struct Sessions;

#[bao::controller("/")]
impl Sessions {
    #[get("/me")]
    async fn me(user: OptionalUser) -> String {
        match user.0 {
            Some(u) => format!("signed in as {} ({})", u.email, u.role),
            None => "anonymous".into(),
        }
    }

    #[post("/register")]
    async fn register(auth: Auth, form: Form<Credentials>) -> bao::Result<HttpResponse> {
        match auth.register(&form.email, &form.password).await {
            Ok(id) => Ok(auth
                .login(id)
                .await?
                .apply(HttpResponse::Created().finish())),
            Err(
                e @ (AuthError::EmailTaken
                | AuthError::EmailUnavailable
                | AuthError::InvalidEmail
                | AuthError::WeakPassword(_)),
            ) => Ok(HttpResponse::UnprocessableEntity().body(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    #[post("/login")]
    async fn login(auth: Auth, form: Form<Credentials>) -> bao::Result<Redirect> {
        let id = auth.attempt(&form.email, &form.password).await?;
        let next = bao::auth::safe_next(form.next.as_deref());
        Ok(auth
            .login(id)
            .await?
            .redirect(&next)
            .flash("notice", "Welcome back"))
    }

    #[post("/logout")]
    async fn logout(auth: Auth) -> bao::Result<Redirect> {
        Ok(auth.logout().await?.redirect("/"))
    }

    #[post("/password")]
    #[requires_login]
    async fn password(
        auth: Auth,
        user: CurrentUser,
        form: Form<Credentials>,
    ) -> bao::Result<Redirect> {
        Ok(auth
            .change_password(user.id, &form.email, &form.password)
            .await?
            .redirect("/me"))
    }
}

pub struct Notes;

#[bao::controller("/notes", requires_login)]
impl Notes {
    #[get("/")]
    async fn index(db: Db, tenant: Tenant) -> bao::Result<Json<Vec<Note>>> {
        Ok(Json(Note::all(&db, tenant).await?))
    }

    #[get("/{id}")]
    async fn show(db: Db, tenant: Tenant, id: i64) -> bao::Result<Json<Note>> {
        Ok(Json(Note::find_or_fail(&db, tenant, id).await?))
    }

    #[post("/")]
    async fn create(db: Db, tenant: Tenant, form: Form<NoteForm>) -> bao::Result<Json<Note>> {
        let new = NewNote {
            title: form.into_inner().title,
            // Whatever a client sends, the tenant is the user's.
            tenant_id: 999,
        };
        Ok(Json(Note::create(&db, tenant, new).await?))
    }

    /// The model's own insert struct as the form: `tenant_id` need not be
    /// sent, and is the user's whatever is sent.
    #[post("/direct")]
    async fn create_direct(db: Db, tenant: Tenant, form: Form<NewNote>) -> bao::Result<Json<Note>> {
        Ok(Json(Note::create(&db, tenant, form.into_inner()).await?))
    }

    #[post("/{id}/rename")]
    async fn rename(
        db: Db,
        tenant: Tenant,
        id: i64,
        form: Form<NoteForm>,
    ) -> bao::Result<Json<Note>> {
        let note = Note::find_or_fail(&db, tenant, id).await?;
        let changes = UpdateNote {
            title: Some(form.into_inner().title),
            tenant_id: Some(999),
        };
        Ok(Json(note.update(&db, tenant, changes).await?))
    }

    #[delete("/{id}")]
    async fn delete(db: Db, tenant: Tenant, id: i64) -> bao::Result<HttpResponse> {
        let note = Note::find_or_fail(&db, tenant, id).await?;
        note.delete(&db, tenant).await?;
        Ok(HttpResponse::NoContent().finish())
    }

    #[get("/public/count")]
    #[public]
    async fn public_count() -> &'static str {
        "public inside a login-only controller"
    }
}

pub struct Admin;

#[bao::controller("/admin", requires_role("admin"))]
impl Admin {
    #[get("/")]
    async fn index(user: CurrentUser) -> String {
        format!("admin area for {}", user.email)
    }
}

pub struct Api;

#[bao::controller("/api/notes", requires_login)]
impl Api {
    #[post("/")]
    async fn create(db: Db, tenant: Tenant, body: Json<NoteForm>) -> bao::Result<HttpResponse> {
        let new = NewNote {
            title: body.into_inner().title,
            tenant_id: 0,
        };
        let note = Note::create(&db, tenant, new).await?;
        Ok(HttpResponse::Created().json(note))
    }
}

bao::app! {
    controllers: [Sessions, Notes, Admin, Api],
    models: [User, Note],
    auth: User,
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    let mut conn = pool.get().unwrap();
    let ddl = format!(
        "{}{}CREATE UNIQUE INDEX users_email ON users (email);",
        User::info().create_table_sql(db.dialect()),
        Note::info().create_table_sql(db.dialect())
    );
    conn.batch_execute(&ddl).unwrap();
    bao::db::system::migrate(&mut conn).unwrap();
    pool
}

fn config(db: &TestDatabase, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("BAO_ENV", "test"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "warn"),
        (
            "BAO_SECRET_KEY",
            "an-example-secret-key-that-is-long-enough",
        ),
    ];
    vars.extend_from_slice(extra);
    Config::from_vars(&vars).unwrap()
}

const PASSWORD: &str = "correct horse battery";

async fn register(client: &TestClient, email: &str) {
    client
        .post("/register")
        .csrf()
        .form(&[("email", email), ("password", PASSWORD)])
        .await
        .assert_status(201);
}

async fn login(client: &TestClient, email: &str) {
    client
        .post("/login")
        .csrf()
        .form(&[("email", email), ("password", PASSWORD)])
        .await
        .assert_redirect("/");
}

async fn count_notes(pool: &DbPool) -> i64 {
    let rows = pool
        .run(|c| {
            use diesel::prelude::*;
            note::table.count().get_result::<i64>(c).map_err(Into::into)
        })
        .await
        .unwrap();
    rows
}

async fn audit_actions(pool: &DbPool) -> Vec<String> {
    pool.run(|c| bao::auth::store::recent_audit(c, 1000))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect()
}

#[bao::test]
async fn login_rotates_the_session_and_logout_kills_copied_cookies() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        client.get("/me").await.assert_see("anonymous");
        register(&client, "ann@example.com").await;
        client
            .get("/me")
            .await
            .assert_see("signed in as ann@example.com (user)");
        client.post("/logout").csrf().await.assert_redirect("/");
        client.get("/me").await.assert_see("anonymous");

        // Before login: an anonymous session value and its CSRF token.
        let anonymous_token = client.csrf_token();
        let anonymous_cookie = client.cookie("bao_session").unwrap();
        let res = client
            .post("/login")
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("_csrf", anonymous_token.as_str()),
            ])
            .await;
        res.assert_redirect("/");
        let session_cookie = client.cookie("bao_session").unwrap();
        assert_ne!(
            session_cookie, anonymous_cookie,
            "login issues a new session id"
        );
        assert_ne!(
            client.csrf_token(),
            anonymous_token,
            "and so a new CSRF token"
        );
        client
            .post("/logout")
            .form(&[("_csrf", anonymous_token.as_str())])
            .await
            .assert_status(403);
        // The flash set by login shows once.
        client
            .get("/me")
            .await
            .assert_see("signed in as ann@example.com");

        // Logout: the old cookie, replayed, is anonymous.
        client.post("/logout").csrf().await.assert_redirect("/");
        client.get("/me").await.assert_see("anonymous");
        client.set_cookie("bao_session", &session_cookie);
        client.get("/me").await.assert_see("anonymous");
        client
            .get("/notes")
            .await
            .assert_redirect("/login?next=%2Fnotes");
        let actions = audit_actions(&pool).await;
        for action in ["register", "login", "logout"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} in {actions:?}"
            );
        }
    }
}

#[bao::test]
async fn tampered_and_expired_sessions_are_anonymous() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "bob@example.com").await;
        let cookie = client.cookie("bao_session").unwrap();
        let mut tampered = cookie.clone().into_bytes();
        tampered[0] = if tampered[0] == b'a' { b'b' } else { b'a' };
        client.set_cookie("bao_session", std::str::from_utf8(&tampered).unwrap());
        client.get("/me").await.assert_see("anonymous");
        client.set_cookie("bao_session", "not-even-hex");
        client.get("/me").await.assert_see("anonymous");

        client.set_cookie("bao_session", &cookie);
        client
            .get("/me")
            .await
            .assert_see("signed in as bob@example.com");
        // Idle for longer than BAO_SESSION_IDLE_TIMEOUT (24h by default).
        pool.get()
            .unwrap()
            .batch_execute("UPDATE bao_sessions SET last_seen_at = last_seen_at - 100000")
            .unwrap();
        client.get("/me").await.assert_see("anonymous");

        // Past the absolute lifetime, however active.
        login(&client, "bob@example.com").await;
        pool.get()
            .unwrap()
            .batch_execute("UPDATE bao_sessions SET expires_at = 0")
            .unwrap();
        client.get("/me").await.assert_see("anonymous");
        let left = pool.get().unwrap();
        drop(left);
        assert_eq!(bao::auth::purge_expired_sessions(&pool).await.unwrap(), 0);
    }
}

#[bao::test]
async fn unsafe_requests_need_the_csrf_token_whatever_the_content_type() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "carol@example.com").await;
        pool.get()
            .unwrap()
            .batch_execute("UPDATE users SET tenant_id = 1")
            .unwrap();
        client
            .post("/notes")
            .form(&[("title", "no token")])
            .await
            .assert_status(403)
            .assert_see("CSRF");
        client
            .post("/notes")
            .form(&[("title", "bad token"), ("_csrf", &"f".repeat(64))])
            .await
            .assert_status(403);
        client
            .post("/notes")
            .body("text/plain", "title=cross-site")
            .await
            .assert_status(403);
        client
            .post("/notes")
            .json(&bao::json!({"title": "cross-site json"}))
            .await
            .assert_status(403);
        client.post("/notes").await.assert_status(403);
        client.delete("/notes/1").await.assert_status(403);
        client.post("/logout").await.assert_status(403);
        client.get("/me").await.assert_see("carol@example.com");
        assert_eq!(count_notes(&pool).await, 0, "nothing was written");

        client
            .post("/notes")
            .csrf()
            .form(&[("title", "with the token")])
            .await
            .assert_ok();
        client
            .post("/notes")
            .header("X-CSRF-Token", &client.csrf_token())
            .body("application/x-www-form-urlencoded", "title=header+token")
            .await
            .assert_ok();
        assert_eq!(count_notes(&pool).await, 2);
        // A tenant-scoped model's insert struct works as the form.
        let direct = client
            .post("/notes/direct")
            .csrf()
            .form(&[("title", "straight into NewNote")])
            .await;
        direct.assert_ok();
        assert_eq!(direct.json::<serde_json::Value>()["tenant_id"], 1);
        client
            .post("/notes/direct")
            .csrf()
            .form(&[("title", "elsewhere?"), ("tenant_id", "999")])
            .await
            .assert_ok()
            .assert_see("\"tenant_id\":1");
        assert_eq!(count_notes(&pool).await, 4);
        assert!(audit_actions(&pool)
            .await
            .iter()
            .any(|a| a == "csrf_denied"));
    }
}

#[bao::test]
async fn passwords_are_argon2id_and_login_answers_alike_for_unknown_accounts() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "dan@example.com").await;
        let hash: String = pool
            .run(|c| {
                use diesel::prelude::*;
                user::table
                    .select(user::password_hash)
                    .first::<String>(c)
                    .map_err(Into::into)
            })
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains(PASSWORD));

        let anon = TestClient::with_config(app(), config(&db, &[])).await;
        let wrong = anon
            .post("/login")
            .csrf()
            .form(&[("email", "dan@example.com"), ("password", "wrong password")])
            .await;
        let unknown = anon
            .post("/login")
            .csrf()
            .form(&[
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ])
            .await;
        wrong.assert_status(401);
        unknown.assert_status(401);
        assert_eq!(wrong.text(), unknown.text());

        // Registration checks the email, the policy and uniqueness.
        for (email, password, expected) in [
            ("not-an-email", PASSWORD, "valid email"),
            ("eve@example.com", "short", "at least 10"),
            // An address with an account gets a neutral refusal.
            ("DAN@example.com", PASSWORD, "cannot be used to register"),
        ] {
            anon.post("/register")
                .csrf()
                .form(&[("email", email), ("password", password)])
                .await
                .assert_status(422)
                .assert_see(expected);
        }

        // An app may choose to say so (BAO_REGISTRATION_REVEALS=true).
        let revealing =
            TestClient::with_config(app(), config(&db, &[("BAO_REGISTRATION_REVEALS", "true")]))
                .await;
        revealing
            .post("/register")
            .csrf()
            .form(&[("email", "dan@example.com"), ("password", PASSWORD)])
            .await
            .assert_status(422)
            .assert_see("already exists");

        // SQL meta-characters are data, not SQL.
        anon.post("/login")
            .csrf()
            .form(&[("email", "' OR 1=1 --"), ("password", "' OR '1'='1")])
            .await
            .assert_status(401);

        // A hash with older, weaker parameters is upgraded at login.
        let weak =
            bao::auth::password::hash_password_with_params("pw-123456789", 8 * 1024, 1, 1).unwrap();
        let weak = weak.as_str();
        pool.get()
            .unwrap()
            .batch_execute(&format!("UPDATE users SET password_hash = '{weak}'"))
            .unwrap();
        let verified = bao::auth::verify_password("pw-123456789", weak).await;
        if !matches!(verified, bao::auth::Verified::Rehash(_)) {
            panic!("the fixture hash must verify as outdated, got {verified:?}");
        }
        anon.post("/login")
            .csrf()
            .form(&[("email", "dan@example.com"), ("password", "pw-123456789")])
            .await
            .assert_redirect("/");
        let upgraded: String = pool
            .run(|c| {
                use diesel::prelude::*;
                user::table
                    .select(user::password_hash)
                    .first::<String>(c)
                    .map_err(Into::into)
            })
            .await
            .unwrap();
        assert!(upgraded.contains("m=19456,t=2,p=1"), "{upgraded}");

        // Changing the password ends every other session.
        let other = TestClient::with_config(app(), config(&db, &[])).await;
        other
            .post("/login")
            .csrf()
            .form(&[("email", "dan@example.com"), ("password", "pw-123456789")])
            .await
            .assert_redirect("/");
        anon.post("/password")
            .csrf()
            .form(&[
                ("email", "pw-123456789"),
                ("password", "a brand new password"),
            ])
            .await
            .assert_redirect("/me");
        anon.get("/me").await.assert_see("dan@example.com");
        other.get("/me").await.assert_see("anonymous");
    }
}

#[bao::test]
async fn login_throttling_per_account_and_per_address() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "erin@example.com").await;
        for _ in 0..5 {
            client
                .post("/login")
                .csrf()
                .form(&[
                    ("email", "erin@example.com"),
                    ("password", "nope nope nope"),
                ])
                .await
                .assert_status(401);
        }
        let res = client
            .post("/login")
            .csrf()
            .form(&[("email", "erin@example.com"), ("password", PASSWORD)])
            .await;
        res.assert_status(429);
        let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");

        // Per address: one IP trying many accounts.
        for i in 0..5 {
            client
                .post("/login")
                .csrf()
                .from_ip("203.0.113.9")
                .form(&[
                    ("email", format!("user{i}@example.com").as_str()),
                    ("password", "x"),
                ])
                .await
                .assert_status(401);
        }
        client
            .post("/login")
            .csrf()
            .from_ip("203.0.113.9")
            .form(&[("email", "someone@example.com"), ("password", "x")])
            .await
            .assert_status(429);
        // Another address is not affected.
        client
            .post("/login")
            .csrf()
            .from_ip("198.51.100.1")
            .form(&[("email", "someone@example.com"), ("password", "x")])
            .await
            .assert_status(401);
    }
}

#[bao::test]
async fn strangers_guessing_a_password_do_not_lock_out_its_owner() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let owner = TestClient::with_config(app(), config(&db, &[])).await;
        register(&owner, "ida@example.com").await;
        assert!(
            owner.cookie("bao_device").is_some(),
            "signing in marks the browser"
        );
        owner.post("/logout").csrf().await.assert_redirect("/");
        // A stranger exhausts the account's attempts from elsewhere...
        let stranger = TestClient::with_config(app(), config(&db, &[])).await;
        for _ in 0..5 {
            stranger
                .post("/login")
                .csrf()
                .from_ip("203.0.113.50")
                .form(&[("email", "ida@example.com"), ("password", "a guess, wrong")])
                .await
                .assert_status(401);
        }
        stranger
            .post("/login")
            .csrf()
            .from_ip("198.51.100.50")
            .form(&[("email", "ida@example.com"), ("password", PASSWORD)])
            .await
            .assert_status(429);
        // ...and a forged device cookie does not help them.
        stranger.set_cookie("bao_device", "1.00ff");
        stranger
            .post("/login")
            .csrf()
            .from_ip("198.51.100.51")
            .form(&[("email", "ida@example.com"), ("password", PASSWORD)])
            .await
            .assert_status(429);
        // The owner's own browser still signs in.
        owner
            .post("/login")
            .csrf()
            .from_ip("192.0.2.7")
            .form(&[("email", "ida@example.com"), ("password", PASSWORD)])
            .await
            .assert_redirect("/");
        owner.get("/me").await.assert_see("ida@example.com");
    }
}

#[bao::test]
async fn simultaneous_logins_are_counted_before_they_are_checked() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "gus@example.com").await;
        // 40 at once for one account from one address: 39 wrong, 1 right.
        let attempts = (0..40).map(|i| {
            let password = if i == 20 {
                PASSWORD
            } else {
                "wrong password here"
            };
            client
                .post("/login")
                .csrf()
                .from_ip("203.0.113.40")
                .form(&[("email", "gus@example.com"), ("password", password)])
                .send()
        });
        let answers = futures_util::future::join_all(attempts).await;
        let checked = answers.iter().filter(|r| r.status() != 429).count();
        assert!(
            checked <= 5,
            "at most the limit (5) of passwords are checked, not {checked} ({:?})",
            db.dialect()
        );
        assert_eq!(
            answers.len() - checked,
            40 - checked,
            "the rest are throttled"
        );
    }
}

#[bao::test]
async fn a_flood_of_refusals_cannot_fill_the_audit_log() {
    let db = TestDatabase::sqlite();
    let pool = setup(&db);
    let client = TestClient::with_config(app(), config(&db, &[])).await;
    for _ in 0..200 {
        client.clear_cookies();
        client
            .post("/notes")
            .from_ip("203.0.113.66")
            .form(&[("title", "x")])
            .await
            .assert_status(403);
    }
    client.clear_cookies();
    client
        .post("/notes")
        .from_ip("198.51.100.66")
        .form(&[("title", "x")])
        .await
        .assert_status(403);
    let rows = pool
        .run(|c| bao::auth::store::recent_audit(c, 1000))
        .await
        .unwrap();
    let flooded = rows
        .iter()
        .filter(|r| r.action == "csrf_denied" && r.ip.as_deref() == Some("203.0.113.66"))
        .count();
    assert!(flooded <= 10, "{flooded} rows for one address in a minute");
    assert!(
        rows.iter()
            .any(|r| r.action == "csrf_denied" && r.ip.as_deref() == Some("198.51.100.66")),
        "another address is still audited"
    );
    // Retention: entries older than BAO_AUDIT_RETENTION go.
    let deleted = pool
        .run(|c| bao::auth::store::prune_audit(c, -10))
        .await
        .unwrap();
    assert!(deleted >= flooded);
    let bad = Config::from_vars(&[("BAO_AUDIT_RETENTION", "forever")]).unwrap_err();
    assert_eq!(bad.var, "BAO_AUDIT_RETENTION");
}

#[bao::test]
async fn registrations_are_limited_per_address() {
    let db = TestDatabase::sqlite();
    let _pool = setup(&db);
    let client =
        TestClient::with_config(app(), config(&db, &[("BAO_LOGIN_MAX_FAILURES", "2")])).await;
    // 4 x the login limit per window and address.
    for i in 0..8 {
        client
            .post("/register")
            .csrf()
            .from_ip("203.0.113.77")
            .form(&[
                ("email", format!("bulk{i}@example.com").as_str()),
                ("password", PASSWORD),
            ])
            .await
            .assert_status(201);
        client.clear_cookies();
    }
    let refused = client
        .post("/register")
        .csrf()
        .from_ip("203.0.113.77")
        .form(&[("email", "bulk9@example.com"), ("password", PASSWORD)])
        .await;
    refused.assert_status(429);
    assert!(refused.header("retry-after").is_some());
    // Another address may still register.
    client
        .post("/register")
        .csrf()
        .from_ip("198.51.100.77")
        .form(&[("email", "elsewhere@example.com"), ("password", PASSWORD)])
        .await
        .assert_status(201);
}

#[bao::test]
async fn login_redirects_only_to_this_site() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "fay@example.com").await;
        for (next, expected) in [
            ("https://evil.example", "/"),
            ("//evil.example/x", "/"),
            ("/\\evil.example", "/"),
            ("/notes?page=2", "/notes?page=2"),
        ] {
            client
                .post("/login")
                .csrf()
                .form(&[
                    ("email", "fay@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ])
                .await
                .assert_redirect(expected);
        }
        // Anonymous JSON clients get 401, browsers a login redirect.
        let anon = TestClient::with_config(app(), config(&db, &[])).await;
        anon.get("/notes")
            .header("Accept", "application/json")
            .await
            .assert_status(401);
        anon.get("/notes?page=2")
            .await
            .assert_redirect("/login?next=%2Fnotes%3Fpage%3D2");
        anon.get("/notes/public/count").await.assert_ok();
    }
}

#[bao::test]
async fn roles_guard_admin_pages_and_denials_are_audited() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "gus@example.com").await;
        client
            .get("/admin")
            .await
            .assert_status(403)
            .assert_see("admin");
        assert!(audit_actions(&pool)
            .await
            .iter()
            .any(|a| a == "permission_denied"));
        pool.get()
            .unwrap()
            .batch_execute("UPDATE users SET role = 'admin'")
            .unwrap();
        client
            .get("/admin")
            .await
            .assert_ok()
            .assert_see("admin area for gus@example.com");
    }
}

#[bao::test]
async fn api_tokens_authenticate_until_revoked_or_expired() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        register(&client, "hal@example.com").await;
        pool.get()
            .unwrap()
            .batch_execute("UPDATE users SET tenant_id = 7")
            .unwrap();
        let users = app().users_table().unwrap();
        let issued = pool
            .run(move |c| {
                tokens::issue(c, users, 1, "ci", None)
                    .map_err(|e| bao::db::DbError::Query(e.to_string()))
            })
            .await
            .unwrap();
        assert!(issued.token.starts_with("bao_") && issued.token.len() == 68);
        let bearer = format!("Bearer {}", issued.token);

        let api = TestClient::with_config(app(), config(&db, &[])).await;
        api.get("/notes")
            .header("Authorization", &bearer)
            .await
            .assert_ok()
            .assert_json(bao::json!([]));
        // A bearer request without a session cookie needs no CSRF token.
        api.post("/api/notes")
            .header("Authorization", &bearer)
            .json(&bao::json!({"title": "from CI"}))
            .await
            .assert_status(201);
        // With a session cookie, it does.
        api.set_cookie("bao_session", &"a".repeat(64));
        api.post("/api/notes")
            .header("Authorization", &bearer)
            .json(&bao::json!({"title": "cookie too"}))
            .await
            .assert_status(403);
        api.clear_cookies();
        api.get("/notes")
            .header("Authorization", "Bearer bao_0000")
            .await
            .assert_status(401);

        let listed = pool
            .run(|c| tokens::list(c, 1).map_err(|e| bao::db::DbError::Query(e.to_string())))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some());
        assert_eq!(listed[0].prefix, &issued.token[..12]);

        let plaintext = issued.token.clone();
        pool.run(move |c| {
            tokens::revoke(c, &plaintext).map_err(|e| bao::db::DbError::Query(e.to_string()))
        })
        .await
        .unwrap();
        api.get("/notes")
            .header("Authorization", &bearer)
            .await
            .assert_status(401);

        let expiring = pool
            .run(move |c| {
                tokens::issue(c, users, 1, "short", Some(Duration::from_secs(3600)))
                    .map_err(|e| bao::db::DbError::Query(e.to_string()))
            })
            .await
            .unwrap();
        let expiring_bearer = format!("Bearer {}", expiring.token);
        api.get("/notes")
            .header("Authorization", &expiring_bearer)
            .await
            .assert_ok();
        pool.get()
            .unwrap()
            .batch_execute("UPDATE bao_api_tokens SET expires_at = 1")
            .unwrap();
        api.get("/notes")
            .header("Authorization", &expiring_bearer)
            .await
            .assert_status(401);
        let actions = audit_actions(&pool).await;
        for action in ["token_issued", "token_revoked"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} in {actions:?}"
            );
        }
        assert!(matches!(
            pool.run(move |c| Ok(tokens::issue(c, users, 99, "x", None)))
                .await
                .unwrap(),
            Err(tokens::TokenError::NoSuchUser(99))
        ));
    }
}

#[bao::test]
async fn tenants_cannot_see_or_touch_each_others_rows() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let a = TestClient::with_config(app(), config(&db, &[])).await;
        let b = TestClient::with_config(app(), config(&db, &[])).await;
        register(&a, "ann@a.example").await;
        register(&b, "bob@b.example").await;
        pool.get()
            .unwrap()
            .batch_execute(
                "UPDATE users SET tenant_id = 1 WHERE email = 'ann@a.example'; \
                 UPDATE users SET tenant_id = 2 WHERE email = 'bob@b.example';",
            )
            .unwrap();
        let note: serde_json::Value = a
            .post("/notes")
            .csrf()
            .form(&[("title", "'; DROP TABLE notes; --")])
            .await
            .json();
        assert_eq!(note["tenant_id"], 1, "stamped with the user's tenant");
        assert_eq!(note["title"], "'; DROP TABLE notes; --");
        let id = note["id"].as_i64().unwrap();

        b.get("/notes").await.assert_json(bao::json!([]));
        b.get(&format!("/notes/{id}")).await.assert_status(404);
        b.post(&format!("/notes/{id}/rename"))
            .csrf()
            .form(&[("title", "stolen")])
            .await
            .assert_status(404);
        b.delete(&format!("/notes/{id}"))
            .csrf()
            .await
            .assert_status(404);
        // Guessing other ids, including huge ones, finds nothing; SQL in a
        // path parameter is not an id.
        for guess in [0, id + 1, i64::MAX] {
            b.get(&format!("/notes/{guess}")).await.assert_status(404);
        }
        b.get("/notes/1%20OR%201=1").await.assert_status(404);
        b.get("/notes/99999999999999999999999")
            .await
            .assert_status(404);

        let renamed: serde_json::Value = a
            .post(&format!("/notes/{id}/rename"))
            .csrf()
            .form(&[("title", "mine")])
            .await
            .json();
        assert_eq!(renamed["title"], "mine");
        assert_eq!(renamed["tenant_id"], 1, "an update cannot move a row");
        a.get("/notes").await.assert_see("mine");
        assert_eq!(count_notes(&pool).await, 1);

        // Without a tenant, a user gets 403, never all rows.
        let c = TestClient::with_config(app(), config(&db, &[])).await;
        register(&c, "cat@nowhere.example").await;
        c.get("/notes").await.assert_status(403);

        // The helpers themselves filter by tenant.
        assert_eq!(Note::count(&pool, Tenant(1)).await.unwrap(), 1);
        assert_eq!(Note::count(&pool, Tenant(2)).await.unwrap(), 0);
        assert!(Note::find(&pool, Tenant(2), id).await.unwrap().is_none());
        let changed = Note::atomic_update(&pool, Tenant(1), id, |n| {
            n.tenant_id = 2;
            n.title = "atomic".into();
        })
        .await
        .unwrap();
        assert_eq!((changed.tenant_id, changed.title.as_str()), (1, "atomic"));
        assert!(Note::query(Tenant(2))
            .fetch::<Note>(&pool)
            .await
            .unwrap()
            .is_empty());
    }
}

#[test]
fn the_route_table_records_who_may_call_each_route() {
    let routes = app().routes();
    let access = |path: &str, method: &str| {
        routes
            .iter()
            .find(|r| r.path == path && r.method == method)
            .map(|r| r.access)
            .unwrap()
    };
    assert_eq!(access("/notes", "GET"), "login");
    assert_eq!(access("/notes/public/count", "GET"), "public");
    assert_eq!(access("/admin", "GET"), "role:admin");
    assert_eq!(access("/me", "GET"), "public");
    assert_eq!(access("/password", "POST"), "login");
}

#[path = "../../bao-codegen/templates/auth/user.rs.tmpl"]
mod generated_user;

#[test]
fn make_auth_plans_its_migration_from_the_model_it_writes() {
    use bao::db::Schema;
    assert_eq!(
        Schema::from_models(&[generated_user::User::info()]),
        Schema::from_models(&[bao::auth::USER_MODEL]),
        "bao::auth::USER_MODEL must describe templates/auth/user.rs.tmpl"
    );
}
