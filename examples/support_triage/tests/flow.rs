//! The whole flow through the real HTTP stack, on SQLite and PostgreSQL: a
//! customer opens a ticket, the triage agent (the scripted `Desk` model)
//! classifies it and drafts a reply, an operator approves it (or edits or
//! denies it), the reply reaches the customer's page; organisations never
//! see each other's tickets; idle tickets close; replies are delivered.

use bao::testing::{TestClient, TestDatabase};
use bao::Config;
use support_triage::models::ticket::{Reply, Status, Ticket};
use support_triage::seed::PASSWORD;
use support_triage::triage::Triage;

async fn client(db: &TestDatabase) -> TestClient {
    let config = Config {
        database_url: db.url().to_string(),
        ..Config::for_tests()
    };
    TestClient::with_config(support_triage::app(), config).await
}

fn csrf(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries a CSRF token")
        .to_string()
}

/// Opens a ticket through the public form; its page's path.
async fn open(client: &TestClient, email: &str, subject: &str, body: &str) -> String {
    let form = client.get("/support").await;
    form.assert_ok();
    let token = csrf(&form.text());
    let res = client
        .post("/support")
        .form(&[
            ("email", email),
            ("subject", subject),
            ("body", body),
            ("_csrf", token.as_str()),
        ])
        .await;
    res.assert_status(303);
    res.header("location").expect("a redirect").to_string()
}

async fn sign_in(client: &TestClient, email: &str) {
    client.clear_cookies();
    let form = client.get("/login").await;
    let token = csrf(&form.text());
    client
        .post("/login")
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("_csrf", token.as_str()),
        ])
        .await
        .assert_status(303);
}

/// Carries the ticket's triage on here until it waits or ends.
async fn triage(pool: &bao::db::DbPool, org: i64, id: i64) -> bao::agent::AgentRun {
    Triage::resume(pool, &Ticket::run_id(org, id))
        .await
        .unwrap()
}

fn ids(page: &str) -> (i64, i64) {
    // /support/tickets/ID?key=ORG.SECRET
    let id = page
        .trim_start_matches("/support/tickets/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let org = page
        .split("key=")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (org, id)
}

#[bao::test]
async fn a_ticket_is_triaged_approved_and_answered() {
    for db in TestDatabase::each() {
        let client = client(&db).await;
        let pool = bao::db::DbPool::new(db.url()).unwrap();

        // The customer opens a ticket and gets its page.
        let page = open(
            &client,
            "alice@acme.test",
            "Charged twice for March",
            "My card was charged twice for the March invoice. Please help, it is urgent.",
        )
        .await;
        let (org, id) = ids(&page);
        client
            .get(&page)
            .await
            .assert_ok()
            .assert_see("Charged twice for March")
            .assert_see("No reply yet");

        // The agent searches, classifies, drafts and asks to send.
        let run = triage(&pool, org, id).await;
        assert_eq!(run.status, "waiting", "{run:?}");
        assert_eq!(run.pending[0].tool, "send_reply");
        let ticket = Ticket::find_or_fail(&pool, bao::Tenant(org), id)
            .await
            .unwrap();
        assert_eq!(ticket.category.as_deref(), Some("billing"));
        assert_eq!(ticket.priority.as_deref(), Some("urgent"));
        assert_eq!(ticket.status, Status::AwaitingApproval);

        // Customers and anonymous visitors cannot reach the queue.
        client.clear_cookies();
        client
            .get("/queue")
            .await
            .assert_redirect("/login?next=%2Fqueue");
        sign_in(&client, "alice@acme.test").await;
        client.get("/queue").await.assert_status(403);

        // The operator sees the exact arguments and approves.
        sign_in(&client, "ops@triage.test").await;
        client
            .get("/queue")
            .await
            .assert_ok()
            .assert_see("Charged twice for March")
            .assert_see("awaiting_approval");
        let detail = client.get(&format!("/queue/{org}/{id}")).await;
        detail
            .assert_ok()
            .assert_see("send_reply")
            .assert_see("Duplicate charges are refunded")
            .assert_see("kb/billing.md");
        let token = csrf(&detail.text());
        client
            .post(&format!("/queue/{org}/{id}/approve"))
            .form(&[("_csrf", token.as_str())])
            .await
            .assert_redirect(&format!("/queue/{org}/{id}"));
        let run = triage(&pool, org, id).await;
        assert_eq!(run.status, "completed", "{run:?}");

        // The reply is on the customer's page, approved by the operator.
        client.clear_cookies();
        client
            .get(&page)
            .await
            .assert_ok()
            .assert_see("Duplicate charges are refunded")
            .assert_see("answered");
        let replies = Reply::all(&pool, bao::Tenant(org)).await.unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].approved_by, "ops@triage.test");

        // The delivery task (no gateway configured: delivered here).
        let defs = support_triage::app().tasks().to_vec();
        bao::task::drain(&pool, &defs).await.unwrap();
        let replies = Reply::all(&pool, bao::Tenant(org)).await.unwrap();
        assert!(replies[0].delivered_at.is_some());

        // The admin console shows the run, its approval and the audit entry.
        sign_in(&client, "admin@triage.test").await;
        client
            .get("/_bao/admin/runs?workflow=agent%3Atriage")
            .await
            .assert_ok()
            .assert_see(&Ticket::run_id(org, id));
        client
            .get("/_bao/admin/audit")
            .await
            .assert_ok()
            .assert_see("agent.approve");
        client.clear_cookies();

        // A wrong key is a 404, like a wrong id.
        let wrong = page.replace("key=", "key=0");
        client.get(&wrong).await.assert_status(404);
        client
            .get(&format!("/support/tickets/{id}?key={org}.deadbeef"))
            .await
            .assert_status(404);

        // A week later, with nothing new, the ticket closes.
        let later = bao::chrono::Utc::now().naive_utc() + bao::chrono::Duration::days(8);
        let closed = support_triage::jobs::close_idle_tickets(&pool, later)
            .await
            .unwrap();
        assert_eq!(closed, 1);
        let ticket = Ticket::find_or_fail(&pool, bao::Tenant(org), id)
            .await
            .unwrap();
        assert_eq!(ticket.status, Status::Closed);
    }
}

#[bao::test]
async fn operators_edit_or_deny_and_organisations_stay_apart() {
    for db in TestDatabase::each() {
        let client = client(&db).await;
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        let edited = open(
            &client,
            "alice@acme.test",
            "Export fails with error 500",
            "The CSV export fails with error 500 since this morning.",
        )
        .await;
        let denied = open(
            &client,
            "bob@globex.test",
            "How do I invite a teammate?",
            "How do I add a teammate to our workspace? No rush.",
        )
        .await;
        let (acme, first) = ids(&edited);
        let (globex, second) = ids(&denied);
        assert_ne!(acme, globex, "each organisation is its own tenant");
        triage(&pool, acme, first).await;
        triage(&pool, globex, second).await;

        sign_in(&client, "ops@triage.test").await;
        let detail = client.get(&format!("/queue/{acme}/{first}")).await;
        let token = csrf(&detail.text());
        client
            .post(&format!("/queue/{acme}/{first}/edit"))
            .form(&[
                ("body", "Hi Alice, we fixed the export: please try again."),
                ("_csrf", token.as_str()),
            ])
            .await
            .assert_status(303);
        client
            .post(&format!("/queue/{globex}/{second}/deny"))
            .form(&[("reason", "answer by phone"), ("_csrf", token.as_str())])
            .await
            .assert_status(303);
        assert_eq!(triage(&pool, acme, first).await.status, "completed");
        assert_eq!(triage(&pool, globex, second).await.status, "completed");

        // The edited text was sent, not the draft.
        client.clear_cookies();
        client
            .get(&edited)
            .await
            .assert_see("we fixed the export")
            .assert_dont_see("Error 500 on export usually means");
        // The denied ticket went to a person, with nothing sent.
        let ticket = Ticket::find_or_fail(&pool, bao::Tenant(globex), second)
            .await
            .unwrap();
        assert_eq!(ticket.status, Status::NeedsHuman);
        assert!(Reply::all(&pool, bao::Tenant(globex))
            .await
            .unwrap()
            .is_empty());

        // The API: a customer sees their organisation's tickets only.
        sign_in(&client, "alice@acme.test").await;
        let list = client.get("/api/v1/tickets").await;
        list.assert_ok();
        let body: serde_json::Value = serde_json::from_str(&list.text()).unwrap();
        let subjects: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["subject"].as_str().unwrap())
            .collect();
        assert_eq!(subjects, ["Export fails with error 500"], "{body}");
        assert!(!list.text().contains("key_hash") && !list.text().contains("draft"));
        client
            .get(&format!("/api/v1/tickets/{second}"))
            .await
            .assert_status(404);
        // Opening one through the API starts its triage too.
        let created = client
            .post("/api/v1/tickets")
            .csrf()
            .json(&serde_json::json!({"subject": "Invoice copy", "body": "Where do I find the invoice PDFs?"}))
            .await;
        created.assert_status(201);
        let created: serde_json::Value = serde_json::from_str(&created.text()).unwrap();
        let third = created["id"].as_i64().unwrap();
        assert_eq!(triage(&pool, acme, third).await.status, "waiting");
        client
            .post("/api/v1/tickets")
            .csrf()
            .json(&serde_json::json!({"subject": "x", "body": "short"}))
            .await
            .assert_status(422);
    }
}
