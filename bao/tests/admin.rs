//! The admin console through the HTTP stack, on SQLite and PostgreSQL:
//! access per role, CSRF on every action, audit rows under the acting
//! user, bulk actions over a filter, approvals with their exact arguments,
//! dead letters; and, in an app without users, the token and the one-time
//! link through a real server and a cookie-keeping client.

use bao::ai::{self, Router, Scripted};
use bao::auth::Auth;
use bao::db::{DbPool, Model};
use bao::prelude::*;
use bao::testing::{free_port, wait_until_healthy, TestClient, TestDatabase};
use bao::workflow::{self, StepError, WorkflowCtx};
use bao::Config;
use diesel::connection::SimpleConnection;
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub created_at: bao::chrono::NaiveDateTime,
}

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
}

pub struct Sessions;

#[bao::controller("/")]
impl Sessions {
    #[post("/register")]
    async fn register(auth: Auth, form: Form<Credentials>) -> bao::Result<HttpResponse> {
        let id = auth.register(&form.email, &form.password).await?;
        Ok(auth
            .login(id)
            .await?
            .apply(HttpResponse::Created().finish()))
    }
}

static BROKEN: AtomicBool = AtomicBool::new(true);

#[bao::workflow(name = "charge", retries = 0)]
async fn charge(ctx: WorkflowCtx, amount: i64) -> bao::Result<i64> {
    let charged: i64 = ctx
        .step("charge", || async move {
            if BROKEN.load(Ordering::SeqCst) {
                Err(StepError::permanent("the card was declined"))
            } else {
                Ok(amount)
            }
        })
        .await?;
    Ok(charged)
}

#[derive(Default)]
pub struct Ops;

/// You run operations.
#[bao::agent(name = "ops", max_steps = 3)]
impl Ops {
    /// Posts to a channel.
    #[tool(requires_approval)]
    async fn post(&self, channel: String, text: String) -> bao::Result<String> {
        Ok(format!("posted to #{channel}: {text}"))
    }
}

bao::app! {
    controllers: [Sessions],
    models: [User],
    auth: User,
    workflows: [charge],
    agents: [Ops],
}

mod tokenless {
    // The same console in an app without users.
    bao::app! { name: "No users" }
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    let mut conn = pool.get().unwrap();
    let ddl = format!(
        "{}CREATE UNIQUE INDEX users_email ON users (email);",
        User::info().create_table_sql(db.dialect()),
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

async fn sign_up(client: &TestClient, email: &str) {
    client
        .post("/register")
        .csrf()
        .form(&[("email", email), ("password", "correct horse battery")])
        .await
        .assert_status(201);
}

async fn make_admin(pool: &DbPool, email: &str) {
    let email = email.to_string();
    pool.run(move |c| {
        use diesel::prelude::*;
        diesel::update(user::table.filter(user::email.eq(email)))
            .set(user::role.eq("admin"))
            .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
}

async fn audit_rows(pool: &DbPool) -> Vec<(String, Option<i64>, String)> {
    pool.run(|c| bao::auth::store::recent_audit(c, 1000))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.user_id, r.detail.unwrap_or_default()))
        .collect()
}

async fn status(pool: &DbPool, id: &str) -> String {
    let id = id.to_string();
    pool.run(move |c| bao::workflow::store::find_run(c, &id))
        .await
        .unwrap()
        .unwrap()
        .status
}

#[bao::test]
async fn only_admins_use_the_console_and_every_action_is_audited() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        BROKEN.store(true, Ordering::SeqCst);
        let client = TestClient::with_config(app(), config(&db, &[])).await;

        // Anonymous: to the login page. A plain user: 403.
        client
            .get("/_bao/admin")
            .await
            .assert_redirect("/login?next=%2F_bao%2Fadmin");
        sign_up(&client, "user@example.com").await;
        client.get("/_bao/admin").await.assert_status(403);
        client.get("/_bao/admin/runs").await.assert_status(403);
        // The overview's live events are the console's too.
        client.get("/_bao/admin/live").await.assert_status(403);

        // An admin.
        client.clear_cookies();
        sign_up(&client, "ops@example.com").await;
        make_admin(&pool, "ops@example.com").await;
        let mut failed = Vec::new();
        for amount in 0..3 {
            failed.push(charge::start(&pool, amount).await.unwrap().id);
        }
        let settings = workflow::WorkerSettings {
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(10),
        };
        while workflow::run_one(&pool, &[charge::definition()], "test-worker", settings)
            .await
            .unwrap()
        {}
        assert_eq!(status(&pool, &failed[0]).await, "failed");
        let overview = client.get("/_bao/admin").await;
        overview
            .assert_ok()
            .assert_see("ops@example.com")
            .assert_see("/_bao/admin/runs?status=failed\">3</a>")
            .assert_see("charge");
        let runs = client
            .get("/_bao/admin/runs?status=failed&workflow=charge")
            .await;
        runs.assert_ok()
            .assert_see(&failed[1])
            .assert_see("the card was declined");

        // Actions need the CSRF token.
        let replay_one = format!("/_bao/admin/runs/{}/replay", failed[0]);
        client.post(&replay_one).await.assert_status(403);
        assert_eq!(status(&pool, &failed[0]).await, "failed", "nothing changed");
        client
            .post(&replay_one)
            .csrf()
            .form(&[("x", "y")])
            .await
            .assert_redirect("/_bao/admin/runs");
        assert_eq!(status(&pool, &failed[0]).await, "pending");
        client
            .get("/_bao/admin/runs")
            .await
            .assert_see("is replaying: completed steps are kept");

        // A bulk action over a filter.
        client
            .post("/_bao/admin/runs/bulk")
            .csrf()
            .form(&[
                ("action", "replay"),
                ("workflow", "charge"),
                ("status", "failed"),
            ])
            .await
            .assert_redirect("/_bao/admin/runs");
        for id in &failed {
            assert_eq!(status(&pool, id).await, "pending", "{id}");
        }
        client
            .post("/_bao/admin/runs/bulk")
            .csrf()
            .form(&[
                ("action", "cancel"),
                ("workflow", "charge"),
                ("status", "pending"),
            ])
            .await
            .assert_redirect("/_bao/admin/runs");
        for id in &failed {
            assert_eq!(status(&pool, id).await, "cancelled", "{id}");
        }

        // Audited under the acting user, with what was touched.
        let admin_id = pool
            .run(|c| {
                use diesel::prelude::*;
                user::table
                    .filter(user::email.eq("ops@example.com"))
                    .select(user::id)
                    .first::<i64>(c)
                    .map_err(Into::into)
            })
            .await
            .unwrap();
        let rows = audit_rows(&pool).await;
        let find = |action: &str| {
            rows.iter()
                .find(|(a, _, _)| a == action)
                .unwrap_or_else(|| panic!("{action} in {rows:?}"))
                .clone()
        };
        let (_, by, detail) = find("admin.run.replay");
        assert_eq!(by, Some(admin_id));
        assert!(detail.contains("ops@example.com"), "{detail}");
        let (_, _, detail) = find("admin.runs.cancel");
        for id in &failed {
            assert!(detail.contains(id.as_str()), "{detail}");
        }
        client
            .get("/_bao/admin/audit?action=admin.runs.cancel")
            .await
            .assert_ok()
            .assert_see("admin.runs.cancel")
            .assert_dont_see("admin.run.replay");
    }
}

#[bao::test]
async fn approvals_show_the_exact_arguments_and_are_decided_once() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        ai::install(Router::new().provider(Scripted::new([
            "CALL: post({\"channel\": \"ops\", \"text\": \"restart <web-1> & db\"})",
            "FINAL: done",
        ])));
        let run = Ops::run(&pool, "restart the web server").await.unwrap();
        assert_eq!(run.status, "waiting");
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        sign_up(&client, "ops@example.com").await;
        make_admin(&pool, "ops@example.com").await;
        let page = client.get("/_bao/admin/approvals").await;
        page.assert_ok()
            .assert_see("ops wants to call <code>post</code>")
            // Pretty-printed and escaped.
            .assert_see("  &#34;text&#34;: &#34;restart &#60;web-1&#62; &#38; db&#34;")
            .assert_dont_see("<web-1>");
        let id = pool
            .run(|c| bao::agent::approvals::list(c, Some("pending"), None, 10))
            .await
            .unwrap()[0]
            .id;
        let deny = format!("/_bao/admin/approvals/{id}/deny");
        client.post(&deny).await.assert_status(403);
        client
            .post(&deny)
            .csrf()
            .form(&[("reason", "not during business hours")])
            .await
            .assert_redirect("/_bao/admin/approvals");
        let decided = pool
            .run(move |c| bao::agent::approvals::find(c, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decided.status, "denied");
        assert_eq!(decided.decided_by.as_deref(), Some("ops@example.com"));
        assert_eq!(decided.reason.as_deref(), Some("not during business hours"));
        // A second decision is refused and says so.
        client
            .post(&format!("/_bao/admin/approvals/{id}/approve"))
            .csrf()
            .form(&[("reason", "")])
            .await
            .assert_redirect("/_bao/admin/approvals");
        client
            .get("/_bao/admin/approvals")
            .await
            .assert_see("is denied already: a request is decided once");
        let rows = audit_rows(&pool).await;
        assert!(
            rows.iter()
                .any(|(a, _, d)| a == "admin.approval.deny" && d.contains("post")),
            "{rows:?}"
        );
    }
}

#[bao::test]
async fn dead_letters_are_listed_replayed_and_purged() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        for n in 0..3 {
            bao::dead_letter(
                &pool,
                "webhooks",
                &serde_json::json!({"n": n}),
                "HTTP 500",
                5,
            )
            .await
            .unwrap();
        }
        bao::dead_letter(
            &pool,
            "emails",
            &serde_json::json!({"to": "a@b.c"}),
            "bounced",
            3,
        )
        .await
        .unwrap();
        let client = TestClient::with_config(app(), config(&db, &[])).await;
        sign_up(&client, "ops@example.com").await;
        make_admin(&pool, "ops@example.com").await;
        client
            .get("/_bao/admin/dead-letters?queue=webhooks")
            .await
            .assert_ok()
            .assert_see("HTTP 500")
            .assert_dont_see("bounced");
        let first = pool
            .run(|c| bao::fault::dlq::list(c, Some("webhooks"), 10))
            .await
            .unwrap()
            .last()
            .unwrap()
            .id;
        client
            .post(&format!("/_bao/admin/dead-letters/{first}/replay"))
            .csrf()
            .form(&[("x", "y")])
            .await
            .assert_redirect("/_bao/admin/dead-letters");
        client
            .post("/_bao/admin/dead-letters/bulk")
            .csrf()
            .form(&[("action", "replay"), ("queue", "webhooks")])
            .await
            .assert_redirect("/_bao/admin/dead-letters");
        client
            .get("/_bao/admin/dead-letters")
            .await
            .assert_see("Replayed 2 dead letters");
        let letters = pool
            .run(|c| bao::fault::dlq::list(c, None, 10))
            .await
            .unwrap();
        assert!(letters
            .iter()
            .filter(|l| l.queue == "webhooks")
            .all(|l| l.replayed_at.is_some()));
        client
            .post("/_bao/admin/dead-letters/bulk")
            .csrf()
            .form(&[("action", "purge"), ("queue", "emails")])
            .await
            .assert_redirect("/_bao/admin/dead-letters");
        let letters = pool
            .run(|c| bao::fault::dlq::list(c, Some("emails"), 10))
            .await
            .unwrap();
        assert!(letters.is_empty());
        let rows = audit_rows(&pool).await;
        for action in [
            "admin.dead_letter.replay",
            "admin.dead_letters.replay",
            "admin.dead_letters.purge",
        ] {
            assert!(
                rows.iter().any(|(a, _, _)| a == action),
                "{action} in {rows:?}"
            );
        }
        // Off: 404 everywhere.
        let off =
            TestClient::with_config(app(), config(&db, &[("BAO_ADMIN_ENABLED", "false")])).await;
        off.get("/_bao/admin").await.assert_status(404);
    }
}

#[bao::test]
async fn runs_are_paged_by_keyset_and_counts_are_capped() {
    let db = TestDatabase::sqlite();
    let pool = setup(&db);
    // 10,050 runs, inserted directly.
    pool.run(|c| {
        let mut sql = String::from("BEGIN;");
        for i in 0..10_050 {
            sql.push_str(&format!(
                "INSERT INTO bao_workflow_runs (id, workflow, version, status, input, attempts, lease_token, created_at, updated_at) \
                 VALUES ('r{i:05}', 'charge', 1, 'completed', '0', 1, 0, {t}, {t});",
                t = 1_800_000_000_000i64 + i
            ));
        }
        sql.push_str("COMMIT;");
        c.batch_execute(&sql)?;
        Ok(())
    })
    .await
    .unwrap();
    let client = TestClient::with_config(app(), config(&db, &[])).await;
    sign_up(&client, "ops@example.com").await;
    make_admin(&pool, "ops@example.com").await;
    let first = client.get("/_bao/admin/runs").await;
    first
        .assert_ok()
        .assert_see("10000+")
        .assert_see("r10049")
        .assert_dont_see("r09999");
    let next = first.text();
    let needle = "id=\"next-page\" href=\"";
    let at = next.find(needle).unwrap() + needle.len();
    let href = next[at..at + next[at..].find('"').unwrap()].replace("&#38;", "&");
    let second = client.get(&href).await;
    second
        .assert_ok()
        .assert_see("r09999")
        .assert_see("r09950")
        .assert_dont_see("r10000");

    // By day (UTC): every run was created on 2027-01-15.
    client
        .get("/_bao/admin/runs?from=2027-01-15&to=2027-01-15")
        .await
        .assert_ok()
        .assert_see("10000+")
        .assert_see("from=2027-01-15&#38;to=2027-01-15&#38;before=");
    client
        .get("/_bao/admin/runs?from=2027-01-16")
        .await
        .assert_ok()
        .assert_see("<span id=\"matching\">0</span>");
    client
        .get("/_bao/admin/runs?to=2027-01-14")
        .await
        .assert_ok()
        .assert_see("<span id=\"matching\">0</span>");
    client
        .get("/_bao/admin/runs?from=15/01/2027")
        .await
        .assert_status(400)
        .assert_see("YYYY-MM-DD");
    client
        .get("/_bao/admin/runs?from=2027-01-16&to=2027-01-15")
        .await
        .assert_status(400)
        .assert_see("swap them");
    client
        .get("/_bao/admin/audit?from=2027-13-01")
        .await
        .assert_status(400);
}

#[test]
fn without_users_the_console_needs_the_token_or_a_one_time_link() {
    let db = TestDatabase::sqlite();
    let token = "a-long-admin-token-for-the-console-tests";
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let port_text = port.to_string();
    let config = Config::from_vars(&[
        ("BAO_PORT", port_text.as_str()),
        ("BAO_WORKERS", "1"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "off"),
        ("BAO_ADMIN_TOKEN", token),
        (
            "BAO_SECRET_KEY",
            "an-example-secret-key-that-is-long-enough",
        ),
    ])
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        bao::__private::block_on(bao::serve_until(tokenless::app(), config, async move {
            while rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }))
    });
    assert!(wait_until_healthy(&addr, Duration::from_secs(10)));
    bao::__private::block_on(async {
        let base = format!("http://{addr}");
        let anonymous = reqwest::get(format!("{base}/_bao/admin")).await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert!(anonymous.text().await.unwrap().contains("bao admin:link"));
        let bearer = reqwest::Client::new()
            .get(format!("{base}/_bao/admin"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = bearer.status();
        assert_eq!(status, 200, "{}", bearer.text().await.unwrap());
        let wrong = reqwest::Client::new()
            .get(format!("{base}/_bao/admin"))
            .bearer_auth("not-the-token-but-just-as-long-as-it")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);

        // A one-time link, as `bao admin:link` makes it.
        let link = "0123456789abcdef0123456789abcdef";
        let pool = DbPool::new(db.url()).unwrap();
        pool.run(move |c| {
            bao::db::system::migrate(c)?;
            bao::admin::store::create_link(c, &sha256(link), 60_000)
        })
        .await
        .unwrap();
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = browser
            .get(format!("{base}/_bao/admin/login?token={link}"))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let page = browser
            .get(format!("{base}/_bao/admin"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("admin-link"));
        // Used once.
        let again = reqwest::get(format!("{base}/_bao/admin/login?token={link}"))
            .await
            .unwrap();
        assert_eq!(again.status(), 403);
    });
    tx.send(()).unwrap();
    server.join().unwrap().unwrap();

    // Without a token, an app without users has no console at all.
    bao::__private::block_on(async {
        let client = TestClient::with_config(
            tokenless::app(),
            Config::from_vars(&[("BAO_DATABASE_URL", db.url()), ("BAO_LOG_LEVEL", "off")]).unwrap(),
        )
        .await;
        client.get("/_bao/admin").await.assert_status(404);
    });
}

#[test]
fn the_route_table_says_the_console_and_run_pages_are_for_admins() {
    let routes = app().routes();
    let access = |path: &str| {
        routes
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("{path} is in the route table"))
            .access
    };
    assert_eq!(access("/_bao/admin"), "role:admin");
    assert_eq!(access("/_bao/admin/runs/bulk"), "role:admin");
    assert_eq!(access("/_bao/workflows/{run_id}"), "role:admin");
    assert_eq!(access("/_bao/admin/login"), "public");
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
