//! `#[bao::api]` resources through the real HTTP stack, on SQLite and
//! PostgreSQL: pagination, filters, sorting, strict bodies with per-field
//! problems, PATCH and PUT, delete, login and tenants, and the OpenAPI
//! document.

use bao::db::{DbPool, Model};
use bao::testing::{TestClient, TestDatabase};
use bao::Config;
use diesel::connection::SimpleConnection;

#[derive(Debug, Clone, Copy, PartialEq, bao::TextEnum)]
pub enum Status {
    Open,
    Closed,
}

#[bao::model(table = "tasks")]
#[derive(Debug, Clone)]
pub struct Task {
    #[key]
    pub id: i64,
    #[unique]
    #[validate(length(min = 1, max = 40))]
    pub name: String,
    #[validate(range(min = 0, max = 1000))]
    pub count: i32,
    pub done: bool,
    pub price: Option<bao::bigdecimal::BigDecimal>,
    pub due: Option<bao::chrono::NaiveDateTime>,
    pub starts: Option<bao::chrono::NaiveDate>,
    #[text_enum]
    #[default("open")]
    pub status: Status,
    pub created_at: bao::chrono::NaiveDateTime,
    pub updated_at: bao::chrono::NaiveDateTime,
}

#[bao::api("/api/tasks", model = Task, filter(status, done), sort(name, count, created_at), per_page = 2, max_per_page = 3)]
pub struct TasksApi;

#[bao::model(table = "users")]
pub struct User {
    #[key]
    pub id: i64,
    #[unique]
    pub email: String,
    pub password_hash: String,
    #[default("user")]
    pub role: String,
    pub tenant_id: Option<i64>,
}

#[bao::model(table = "notes", tenant_scoped)]
pub struct Note {
    #[key]
    pub id: i64,
    pub tenant_id: i64,
    pub title: String,
}

#[bao::api("/api/notes", model = Note, only(index, show, create))]
pub struct NotesApi;

#[bao::api("/api/admin/tasks", model = Task, requires_role("admin"), only(index))]
pub struct AdminTasksApi;

#[bao::model(table = "memos")]
pub struct Memo {
    #[key]
    pub id: i64,
    #[belongs_to(User)]
    pub user_id: i64,
    pub text: String,
}

/// Each user's own memos.
#[bao::api("/api/memos", model = Memo, owned_by = user_id)]
pub struct MemosApi;

/// Tasks as posts: anyone lists and reads; creating is overridden and needs
/// a login.
pub struct PostsApi;

#[bao::api("/api/posts", model = Task, only(index, show, create))]
impl PostsApi {
    /// Creates a task named after the signed-in user.
    #[requires_login]
    async fn create(user: bao::CurrentUser, db: bao::Db) -> bao::Result<bao::web::HttpResponse> {
        let task = Task::create(
            &db,
            NewTask {
                name: format!("{}'s task", user.email),
                count: 1,
                ..Default::default()
            },
        )
        .await?;
        Ok(bao::web::HttpResponse::Created()
            .json(serde_json::json!({"id": task.id, "by": user.email})))
    }
}

bao::app! {
    name: "API test",
    apis: [TasksApi, NotesApi, AdminTasksApi, PostsApi, MemosApi],
    models: [Task, User, Note, Memo],
    auth: User,
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    let mut conn = pool.get().unwrap();
    let ddl = format!(
        "{}{}{}{}CREATE UNIQUE INDEX tasks_name ON tasks (name);",
        Task::info().create_table_sql(db.dialect()),
        User::info().create_table_sql(db.dialect()),
        Note::info().create_table_sql(db.dialect()),
        Memo::info().create_table_sql(db.dialect()),
    );
    conn.batch_execute(&ddl).unwrap();
    bao::db::system::migrate(&mut conn).unwrap();
    pool
}

async fn client(db: &TestDatabase) -> TestClient {
    let config = Config::from_vars(&[
        ("BAO_ENV", "test"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "warn"),
        ("BAO_MAX_BODY_SIZE", "4KiB"),
    ])
    .unwrap();
    TestClient::with_config(app(), config).await
}

fn problem_fields(res: &bao::testing::TestResponse) -> Vec<String> {
    let body: serde_json::Value = res.json();
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["field"].as_str().unwrap(),
                        e["message"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[bao::test]
async fn create_validates_every_field_and_writes_nothing_when_invalid() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let api = client(&db).await;
        let created = api
            .post("/api/tasks")
            .json(&serde_json::json!({
                "name": "Write docs", "count": 3, "done": false, "price": "12.50",
                "due": "2026-12-01T09:30:00", "starts": "2026-11-30", "status": "closed"
            }))
            .await;
        created
            .assert_status(201)
            .assert_header("location", "/api/tasks/1");
        let row: serde_json::Value = created.json();
        assert_eq!(row["name"], "Write docs");
        assert_eq!(row["status"], "closed");
        assert_eq!(row["price"], "12.5", "decimals come back normalized");
        // Timestamps go out in RFC 3339 with their offset (UTC), as the
        // OpenAPI `date-time` format says...
        assert_eq!(row["due"], "2026-12-01T09:30:00Z");
        assert!(row["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
        // ...and come in with any offset, or none (taken as UTC).
        let offset: serde_json::Value = api
            .patch("/api/tasks/1")
            .json(&bao::json!({"due": "2026-12-01T11:30:00+02:00"}))
            .await
            .json();
        assert_eq!(offset["due"], "2026-12-01T09:30:00Z", "{offset}");

        // Defaults and optional fields may be left out.
        let minimal: serde_json::Value = api
            .post("/api/tasks")
            .json(&serde_json::json!({"name": "Minimal", "count": 0, "done": true}))
            .await
            .json();
        assert_eq!(
            (minimal["status"].as_str(), minimal["price"].is_null()),
            (Some("open"), true)
        );

        let bad = api
            .post("/api/tasks")
            .json(&serde_json::json!({
                "name": null, "count": "three", "done": true, "status": "archived",
                "id": 99, "created_at": "2020-01-01T00:00:00", "colour": "red"
            }))
            .await;
        bad.assert_status(422)
            .assert_header("content-type", "application/problem+json");
        let fields = problem_fields(&bad);
        for expected in [
            "id: is set by the server",
            "created_at: is set by the server",
            "colour: is not a field of this resource",
            "name: must not be null",
            "count: expected i32",
            "status: `archived` is not one of open, closed",
        ] {
            assert!(
                fields.iter().any(|f| f.starts_with(expected)),
                "{expected} in {fields:?}"
            );
        }
        let missing = api.post("/api/tasks").json(&serde_json::json!({})).await;
        missing.assert_status(422);
        let fields = problem_fields(&missing);
        for expected in [
            "name: is required",
            "count: is required",
            "done: is required",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} in {fields:?}"
            );
        }
        // Declared rules, on create and on update.
        let ruled = api
            .post("/api/tasks")
            .json(&serde_json::json!({"name": "", "count": 1001, "done": true}))
            .await;
        ruled.assert_status(422);
        assert_eq!(
            problem_fields(&ruled),
            [
                "name: must be at least 1 characters (has 0)",
                "count: must be at most 1000"
            ]
        );
        api.patch("/api/tasks/1")
            .json(&serde_json::json!({"count": -1}))
            .await
            .assert_status(422)
            .assert_see("must be at least 0");
        api.post("/api/tasks")
            .body("application/json", "{\"name\": ")
            .await
            .assert_status(400)
            .assert_see("malformed JSON");
        api.post("/api/tasks")
            .body("application/json", "[1, 2]")
            .await
            .assert_status(400)
            .assert_see("JSON object");
        api.post("/api/tasks")
            .body("text/plain", "name=x")
            .await
            .assert_status(415);
        let big = "x".repeat(8192);
        api.post("/api/tasks")
            .json(&serde_json::json!({"name": big, "count": 1, "done": true}))
            .await
            .assert_status(413);
        api.post("/api/tasks")
            .json(&serde_json::json!({"name": "Write docs", "count": 1, "done": true}))
            .await
            .assert_status(409);
        assert_eq!(
            Task::count(&pool).await.unwrap(),
            2,
            "nothing else was written"
        );
        // The server keeps serving.
        api.get("/api/tasks/1").await.assert_ok();
    }
}

#[bao::test]
async fn nul_characters_are_refused_with_the_field_on_every_database() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let api = client(&db).await;
        let refused = api
            .post("/api/tasks")
            .json(&serde_json::json!({"name": "bad\u{0000}name", "count": 1, "done": false}))
            .await;
        refused.assert_status(422);
        let fields = problem_fields(&refused);
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("name: contains a NUL character")),
            "{fields:?} ({:?})",
            db.dialect()
        );
        api.get("/api/tasks?status=open%00")
            .await
            .assert_status(400);
    }
}

#[bao::test]
async fn index_paginates_filters_and_sorts_from_allow_lists() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let api = client(&db).await;
        for (name, count, done) in [
            ("b", 2, false),
            ("a", 5, true),
            ("d", 1, false),
            ("c", 9, true),
        ] {
            api.post("/api/tasks")
                .json(&serde_json::json!({"name": name, "count": count, "done": done}))
                .await
                .assert_status(201);
        }
        let page: serde_json::Value = api.get("/api/tasks").await.json();
        assert_eq!(
            page["meta"],
            serde_json::json!({"page": 1, "per_page": 2, "total": 4, "pages": 2})
        );
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        let names = |v: &serde_json::Value| -> Vec<String> {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect()
        };
        let sorted: serde_json::Value = api.get("/api/tasks?sort=name&per_page=3").await.json();
        assert_eq!(names(&sorted), ["a", "b", "c"]);
        let desc: serde_json::Value = api
            .get("/api/tasks?sort=-count&page=2&per_page=2")
            .await
            .json();
        assert_eq!(names(&desc), ["b", "d"]);
        let clamped: serde_json::Value = api.get("/api/tasks?per_page=500").await.json();
        assert_eq!(
            clamped["meta"]["per_page"], 3,
            "per_page is clamped to max_per_page"
        );
        let filtered: serde_json::Value = api.get("/api/tasks?done=true&sort=name").await.json();
        assert_eq!(names(&filtered), ["a", "c"]);
        assert_eq!(filtered["meta"]["total"], 2);
        let by_status: serde_json::Value = api.get("/api/tasks?status=open").await.json();
        assert_eq!(by_status["meta"]["total"], 4);
        let beyond: serde_json::Value = api.get("/api/tasks?page=99").await.json();
        assert!(beyond["data"].as_array().unwrap().is_empty());
        for bad in [
            "/api/tasks?sort=password",
            "/api/tasks?count=5",
            "/api/tasks?page=0",
            "/api/tasks?per_page=-1",
            "/api/tasks?done=maybe",
            "/api/tasks?status=archived",
        ] {
            api.get(bad)
                .await
                .assert_status(400)
                .assert_header("content-type", "application/problem+json");
        }
        // SQL in a filter value is a value.
        let quoted: serde_json::Value = api
            .get("/api/tasks?status=open'%20OR%20'1'='1")
            .await
            .json();
        assert_eq!(quoted["status"], 400);
    }
}

#[bao::test]
async fn show_update_replace_and_delete() {
    for db in TestDatabase::each() {
        let _pool = setup(&db);
        let api = client(&db).await;
        api.post("/api/tasks")
            .json(&serde_json::json!({"name": "t", "count": 1, "done": false, "price": "1.00"}))
            .await
            .assert_status(201);
        api.get("/api/tasks/1")
            .await
            .assert_ok()
            .assert_json(serde_json::json!({"name": "t"}));
        for missing in [
            "/api/tasks/2",
            "/api/tasks/99999999999999999999999",
            "/api/tasks/abc",
        ] {
            api.get(missing)
                .await
                .assert_status(404)
                .assert_header("content-type", "application/problem+json");
        }
        let patched: serde_json::Value = api
            .patch("/api/tasks/1")
            .json(&serde_json::json!({"done": true}))
            .await
            .json();
        assert_eq!(
            (patched["done"].as_bool(), patched["price"].as_str()),
            (Some(true), Some("1"))
        );
        api.patch("/api/tasks/1")
            .json(&serde_json::json!({"count": null}))
            .await
            .assert_status(422);
        api.patch("/api/tasks/1")
            .json(&serde_json::json!({}))
            .await
            .assert_ok();
        // PUT replaces: required fields must be there, optional ones are cleared.
        api.put("/api/tasks/1")
            .json(&serde_json::json!({"name": "t2"}))
            .await
            .assert_status(422);
        let replaced: serde_json::Value = api
            .put("/api/tasks/1")
            .json(&serde_json::json!({"name": "t2", "count": 7, "done": false}))
            .await
            .json();
        assert_eq!(
            (replaced["count"].as_i64(), replaced["price"].is_null()),
            (Some(7), true)
        );
        api.patch("/api/tasks/77")
            .json(&serde_json::json!({"done": true}))
            .await
            .assert_status(404);
        api.delete("/api/tasks/1").await.assert_status(204);
        api.delete("/api/tasks/1").await.assert_status(404);
        api.get("/api/tasks/1").await.assert_status(404);
    }
}

#[bao::test]
async fn login_roles_csrf_and_tenants_apply_to_apis() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let api = client(&db).await;
        // A tenant-scoped resource needs a signed-in user, even without
        // `requires_login`.
        api.get("/api/notes").await.assert_status(401);
        api.post("/api/notes")
            .json(&serde_json::json!({"title": "x"}))
            .await
            .assert_status(401);
        api.get("/api/admin/tasks").await.assert_status(401);

        pool.get()
            .unwrap()
            .batch_execute(
                "INSERT INTO users (email, password_hash, role, tenant_id) VALUES ('a@x.example', 'x', 'user', 1);\
                 INSERT INTO users (email, password_hash, role, tenant_id) VALUES ('b@x.example', 'x', 'admin', 2);",
            )
            .unwrap();
        let users = app().users_table().unwrap();
        let token = |user: i64| {
            let pool = pool.clone();
            async move {
                pool.run(move |c| {
                    bao::auth::tokens::issue(c, users, user, "t", None)
                        .map_err(|e| bao::db::DbError::Query(e.to_string()))
                })
                .await
                .unwrap()
                .token
            }
        };
        let (a, b) = (
            format!("Bearer {}", token(1).await),
            format!("Bearer {}", token(2).await),
        );
        let note: serde_json::Value = api
            .post("/api/notes")
            .header("Authorization", &a)
            .json(&serde_json::json!({"title": "tenant one"}))
            .await
            .json();
        assert_eq!(note["tenant_id"], 1);
        api.post("/api/notes")
            .header("Authorization", &a)
            .json(&serde_json::json!({"title": "x", "tenant_id": 2}))
            .await
            .assert_status(422);
        let id = note["id"].as_i64().unwrap();
        api.get(&format!("/api/notes/{id}"))
            .header("Authorization", &b)
            .await
            .assert_status(404);
        let seen: serde_json::Value = api
            .get("/api/notes")
            .header("Authorization", &b)
            .await
            .json();
        assert_eq!(seen["meta"]["total"], 0);
        // Only `only(..)` actions are routed.
        api.delete(&format!("/api/notes/{id}"))
            .header("Authorization", &a)
            .await
            .assert_status(405);

        api.get("/api/admin/tasks")
            .header("Authorization", &a)
            .await
            .assert_status(403);
        api.get("/api/admin/tasks")
            .header("Authorization", &b)
            .await
            .assert_ok();

        // An owned resource: rows are stamped with their creator, who alone
        // lists, reads, changes and deletes them.
        api.get("/api/memos").await.assert_status(401);
        let memo: serde_json::Value = api
            .post("/api/memos")
            .header("Authorization", &a)
            .json(&serde_json::json!({"text": "mine"}))
            .await
            .assert_status(201)
            .json();
        assert_eq!(memo["user_id"], 1);
        let res = api
            .post("/api/memos")
            .header("Authorization", &a)
            .json(&serde_json::json!({"text": "theirs", "user_id": 2}))
            .await;
        res.assert_status(422);
        assert_eq!(
            problem_fields(&res),
            ["user_id: is set by the server: rows belong to the signed-in user"]
        );
        let memo_url = format!("/api/memos/{}", memo["id"]);
        let seen: serde_json::Value = api
            .get("/api/memos")
            .header("Authorization", &b)
            .await
            .json();
        assert_eq!(seen["meta"]["total"], 0);
        api.get(&memo_url)
            .header("Authorization", &b)
            .await
            .assert_status(404);
        api.patch(&memo_url)
            .header("Authorization", &b)
            .json(&serde_json::json!({"text": "taken"}))
            .await
            .assert_status(404);
        api.put(&memo_url)
            .header("Authorization", &b)
            .json(&serde_json::json!({"text": "taken"}))
            .await
            .assert_status(404);
        api.delete(&memo_url)
            .header("Authorization", &b)
            .await
            .assert_status(404);
        api.put(&memo_url)
            .header("Authorization", &a)
            .json(&serde_json::json!({"text": "still mine"}))
            .await
            .assert_ok()
            .assert_json(serde_json::json!({"text": "still mine", "user_id": 1}));
        let mine: serde_json::Value = api
            .get("/api/memos")
            .header("Authorization", &a)
            .await
            .json();
        assert_eq!(mine["meta"]["total"], 1);
        api.delete(&memo_url)
            .header("Authorization", &a)
            .await
            .assert_status(204);

        // An overridden action: its own handler and access.
        api.post("/api/posts")
            .json(&serde_json::json!({}))
            .await
            .assert_status(401);
        api.post("/api/posts")
            .header("Authorization", &a)
            .json(&serde_json::json!({}))
            .await
            .assert_status(201)
            .assert_json(serde_json::json!({"by": "a@x.example"}));
        api.get("/api/posts").await.assert_ok();

        // A browser session posting JSON needs its CSRF token.
        api.set_cookie("bao_session", &"a".repeat(64));
        api.post("/api/tasks")
            .json(&serde_json::json!({"name": "n", "count": 1, "done": true}))
            .await
            .assert_status(403);
        api.post("/api/tasks")
            .csrf()
            .json(&serde_json::json!({"name": "n", "count": 1, "done": true}))
            .await
            .assert_status(201);
    }
}

#[test]
fn the_openapi_document_describes_schemas_paths_and_security() {
    let doc: serde_json::Value =
        serde_json::from_str(&openapi().to_pretty_json().unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Task",
        "TaskCreate",
        "TaskUpdate",
        "TaskPage",
        "Note",
        "NoteCreate",
        "Problem",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
    assert_eq!(
        schemas["TaskCreate"]["required"],
        serde_json::json!(["name", "count", "done"])
    );
    assert_eq!(schemas["TaskCreate"]["additionalProperties"], false);
    let name = &schemas["TaskCreate"]["properties"]["name"];
    assert_eq!(
        (name["minLength"].as_u64(), name["maxLength"].as_u64()),
        (Some(1), Some(40))
    );
    assert_eq!(schemas["Task"]["properties"]["count"]["maximum"], 1000.0);
    assert!(
        schemas["TaskCreate"]["properties"]["id"].is_null(),
        "the server's fields are not writable"
    );
    assert_eq!(
        schemas["Task"]["properties"]["status"]["enum"],
        serde_json::json!(["open", "closed"])
    );
    assert_eq!(
        schemas["Task"]["properties"]["due"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(schemas["Task"]["properties"]["due"]["format"], "date-time");
    assert!(schemas["NoteCreate"]["properties"]["tenant_id"].is_null());
    assert!(
        schemas["MemoCreate"]["properties"]["user_id"].is_null(),
        "the owner is set by the server"
    );
    assert!(
        doc["paths"]["/api/memos"]["get"]["security"].is_array(),
        "owned means signed in"
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (bearer["scheme"].as_str(), bearer["bearerFormat"].as_str()),
        (Some("bearer"), Some("bao-token"))
    );
    let cookie = &doc["components"]["securitySchemes"]["cookieSession"];
    assert_eq!(
        (cookie["in"].as_str(), cookie["name"].as_str()),
        (Some("cookie"), Some("bao_session"))
    );
    let paths = &doc["paths"];
    assert!(paths["/api/tasks"]["get"]["security"].is_null(), "public");
    assert!(
        paths["/api/notes"]["get"]["security"].is_array(),
        "tenant-scoped means signed in"
    );
    assert!(paths["/api/admin/tasks"]["get"]["responses"]["403"].is_object());
    assert!(paths["/api/notes/{id}"]["delete"].is_null(), "only(..)");
    assert!(
        paths["/api/posts"]["post"]["security"].is_array(),
        "the override's access"
    );
    assert!(paths["/api/posts"]["get"]["security"].is_null());
    for code in ["201", "400", "409", "413", "415", "422"] {
        assert!(
            paths["/api/tasks"]["post"]["responses"][code].is_object(),
            "{code}"
        );
    }
    assert_eq!(
        paths["/api/tasks"]["get"]["tags"],
        serde_json::json!(["TasksApi"])
    );
    let params: Vec<&str> = paths["/api/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["page", "per_page", "sort", "status", "done"]);
    // Deterministic: the same code, the same bytes.
    assert_eq!(
        openapi().to_pretty_json().unwrap(),
        openapi().to_pretty_json().unwrap()
    );
    let routes = app().routes();
    assert!(routes.iter().any(|r| r.path == "/openapi.json"));
    assert!(routes
        .iter()
        .any(|r| r.path == "/api/notes" && r.access == "login"));
}

#[bao::test]
async fn docs_are_served_offline_and_off_in_production() {
    let db = TestDatabase::sqlite();
    let _pool = setup(&db);
    let api = client(&db).await;
    let spec = api.get("/openapi.json").await;
    spec.assert_ok()
        .assert_header("content-type", "application/json");
    assert_eq!(spec.text(), openapi().to_pretty_json().unwrap());
    let docs = api.get("/docs").await;
    docs.assert_ok()
        .assert_see(bao::assets::SWAGGER_JS_URL)
        .assert_see(bao::assets::SWAGGER_CSS_URL)
        .assert_dont_see("https://")
        .assert_dont_see("cdn");
    api.get(bao::assets::SWAGGER_JS_URL).await.assert_ok();
    api.get(bao::assets::DOCS_JS_URL).await.assert_ok();
    let production = Config::from_vars(&[
        ("BAO_ENV", "production"),
        ("BAO_SECRET_KEY", "a-production-secret-that-is-long-enough"),
        ("BAO_DATABASE_URL", db.url()),
    ])
    .unwrap();
    let prod = TestClient::with_config(app(), production.clone()).await;
    prod.get("/docs").await.assert_status(404);
    prod.get("/openapi.json").await.assert_ok();
    let enabled = Config {
        docs_enabled: true,
        ..production
    };
    TestClient::with_config(app(), enabled)
        .await
        .get("/docs")
        .await
        .assert_ok();
}
