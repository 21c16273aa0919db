//! The admin console at `/_bao/admin`: an overview, workflow runs (filters,
//! keyset pages, cancel / replay one or every run of a filter), agent
//! approvals (the exact arguments; approve or deny with a reason), dead
//! letters (replay, bulk replay, purge), tasks (retry now) and the audit
//! log.
//!
//! Who may use it: in an app with users, signed-in users with the `admin`
//! role (anonymous visitors are sent to the login page, others get 403).
//! With `BAO_ADMIN_TOKEN` set, also a request bearing that token, or a
//! browser that opened a one-time link from `bao admin:link`. In an app
//! without users and without a token the console does not exist (404), as
//! with `BAO_ADMIN_ENABLED=false`.
//!
//! Every action is a POST with the CSRF token, written to the audit log
//! (`admin.*`) under the acting user with what it touched. Pages never
//! count a whole table: counts stop at 10,000 ("10000+"), lists are keyset
//! pages over indexed columns.

mod access;
pub mod pages;
pub mod store;

use crate::config::Config;
use crate::db::DbPool;
use crate::subsystem::{Core, Mounted, Subsystem};
use access::{db_error, guard, login, operator, pool_ready, record, Operator};
use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use pages::{
    capped, AdminPage, ApprovalsPage, AuditPage, DeadLettersPage, Frame, OverviewPage, RunsPage,
    Shadow, TasksPage,
};
use std::sync::Arc;
use store::{AuditFilter, RunFilter, PAGE};

/// The console as a subsystem.
#[derive(Clone, Default)]
pub struct AdminSubsystem {
    /// The app's own templates for pages.
    pub(crate) shadows: Vec<Arc<Shadow>>,
}

pub(crate) struct AdminState {
    db: Option<DbPool>,
    config: Arc<Config>,
    parts: Arc<serde_json::Value>,
    app_name: &'static str,
    /// The app's own templates for pages, by path.
    shadows: Vec<Arc<Shadow>>,
}

impl Subsystem for AdminSubsystem {
    fn name(&self) -> &'static str {
        "admin"
    }

    fn routes(&self) -> Vec<crate::RouteInfo> {
        crate::http::ADMIN_ROUTES.to_vec()
    }

    fn mount(&self, core: &Core) -> Mounted {
        let state = Arc::new(AdminState {
            db: core.db.clone(),
            config: core.config.clone(),
            parts: core.parts.clone(),
            app_name: core.app.name,
            shadows: self.shadows.clone(),
        });
        Mounted::new().data(state).framework_routes(configure)
    }
}

fn configure(cfg: &mut web::ServiceConfig) {
    use crate::http::{framework_get, framework_resource};
    let post = |path: &'static str| framework_resource(path);
    cfg.service(framework_get("/_bao/admin").to(overview))
        .service(framework_get("/_bao/admin/live").to(live))
        .service(framework_get("/_bao/admin/login").to(login))
        .service(framework_get("/_bao/admin/runs").to(runs))
        .service(post("/_bao/admin/runs/bulk").route(web::post().to(runs_bulk)))
        .service(post("/_bao/admin/runs/{id}/{action}").route(web::post().to(run_action)))
        .service(framework_get("/_bao/admin/approvals").to(approvals))
        .service(post("/_bao/admin/approvals/{id}/{decision}").route(web::post().to(decide)))
        .service(framework_get("/_bao/admin/dead-letters").to(dead_letters))
        .service(post("/_bao/admin/dead-letters/bulk").route(web::post().to(letters_bulk)))
        .service(post("/_bao/admin/dead-letters/{id}/replay").route(web::post().to(letter_replay)))
        .service(framework_get("/_bao/admin/tasks").to(tasks))
        .service(post("/_bao/admin/tasks/retry").route(web::post().to(tasks_retry)))
        .service(framework_get("/_bao/admin/audit").to(audit));
}

/// Renders a page, with the app's template for it when it has one, and the
/// cookies its frame needs (the CSRF session, the flash removal).
fn page<T: AdminPage>(st: &AdminState, template: T, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let rendered = st
        .shadows
        .iter()
        .find(|s| s.path == T::PATH)
        .and_then(|s| s.render(&template))
        .unwrap_or_else(|| template.render());
    match rendered {
        Ok(html) => {
            let mut response = HttpResponse::Ok();
            response
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"));
            for cookie in cookies {
                response.cookie(cookie);
            }
            response.body(html)
        }
        Err(error) => {
            tracing::error!(%error, page = T::PATH, "an admin page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

impl Frame {
    fn new(req: &HttpRequest, st: &AdminState, who: &Operator) -> (Frame, Vec<Cookie<'static>>) {
        let (csrf_token, cookie) = crate::auth::csrf_for_request(req);
        let flash = crate::http::flash::read_flash(req);
        let mut cookies: Vec<Cookie<'static>> = cookie.into_iter().collect();
        if !flash.is_empty() {
            cookies.push(crate::http::flash::flash_removal());
        }
        (
            Frame {
                csrf_token,
                operator: who.name(),
                css_url: crate::http::static_files::CSS_URL,
                htmx_url: crate::http::static_files::HTMX_URL,
                htmx_sse_url: crate::http::static_files::HTMX_SSE_URL,
                js_url: crate::http::static_files::JS_URL,
                app_name: st.app_name.to_string(),
                notice: flash.into_iter().map(|f| f.message).next(),
            },
            cookies,
        )
    }
}

/// Of `PAGE + 1` rows loaded, keeps `PAGE` and returns the cursor of the
/// next page (the last row kept) when there is one.
fn next_page<T, K>(rows: &mut Vec<T>, cursor: impl Fn(&T) -> K) -> Option<K> {
    if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(cursor)
    } else {
        None
    }
}

async fn overview(req: HttpRequest, st: web::Data<AdminState>) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let since = crate::support::clock::now_ms() - 24 * 3600 * 1000;
    let loaded = pool
        .run(move |c| {
            pool_ready(c)?;
            let statuses = store::runs_by_status(c, since)?;
            let approvals = store::capped_count(
                c,
                "FROM bao_agent_approvals WHERE status = ?",
                &[store::Bind::Text("pending".into())],
            )?;
            let letters =
                store::capped_count(c, "FROM bao_dead_letters WHERE replayed_at IS NULL", &[])?;
            let audit = store::audit(c, &AuditFilter::default(), 10)?;
            Ok((statuses, approvals, letters, audit))
        })
        .await;
    let (statuses, approvals, letters, audit) = match loaded {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let (frame, cookie) = Frame::new(&req, &st, &who);
    page(
        &st,
        OverviewPage {
            frame,
            statuses: statuses.into_iter().map(|(s, n)| (s, capped(n))).collect(),
            pending_approvals: capped(approvals),
            dead_letters: capped(letters),
            audit,
            parts: st.parts.clone(),
        },
        cookie,
    )
}

/// `GET /_bao/admin/live`: the overview's server-sent events, a message
/// whenever a run's status, an approval or a dead letter changes, from this
/// process or any other on the same database.
async fn live(req: HttpRequest, st: web::Data<AdminState>) -> HttpResponse {
    let (_, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    crate::channel::sse::stream(&req, &pool, crate::channel::ADMIN, "overview")
}

async fn runs(
    req: HttpRequest,
    st: web::Data<AdminState>,
    filter: web::Query<RunFilter>,
) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let filter = filter.into_inner();
    if let Err(message) = filter.check() {
        return actix_web::ResponseError::error_response(&crate::Error::BadRequest(message));
    }
    let query = filter.clone();
    let loaded = pool
        .run(move |c| {
            pool_ready(c)?;
            let rows = store::runs(c, &query, PAGE + 1)?;
            let counted = RunFilter {
                before: String::new(),
                ..query.clone()
            };
            let (clause, binds) = counted.clause();
            let n = store::capped_count(c, &clause, &binds)?;
            Ok((rows, n))
        })
        .await;
    let (mut rows, n) = match loaded {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let next = next_page(&mut rows, |r| format!("{}:{}", r.created_at, r.id));
    let workflows = st.parts["workflows"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let (frame, cookie) = Frame::new(&req, &st, &who);
    page(
        &st,
        RunsPage {
            frame,
            filter,
            runs: rows,
            matching: capped(n),
            next,
            workflows,
            statuses: store::RUN_STATUSES,
        },
        cookie,
    )
}

/// The largest number of runs one bulk action touches.
const BULK_MAX: i64 = 1_000;

#[derive(serde::Deserialize)]
struct BulkForm {
    action: String,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The largest form an action takes.
const FORM_MAX: usize = 64 * 1024;

/// Reads a form body after the CSRF check.
async fn form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<T, HttpResponse> {
    use futures_util::StreamExt;
    let mut payload = body.into_inner();
    crate::auth::session::csrf_guard(req, &mut payload).await?;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            actix_web::ResponseError::error_response(&crate::Error::BadRequest(e.to_string()))
        })?;
        if bytes.len() + chunk.len() > FORM_MAX {
            return Err(HttpResponse::PayloadTooLarge().finish());
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        actix_web::ResponseError::error_response(&crate::Error::BadRequest(format!(
            "the form does not decode: {e}"
        )))
    })
}

fn back(req: &HttpRequest, to: &str, notice: String) -> HttpResponse {
    crate::Redirect::to(to.to_string())
        .flash("notice", notice)
        .respond_to(req)
}

async fn runs_bulk(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
) -> HttpResponse {
    let form: BulkForm = match form(&req, body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    if !matches!(form.action.as_str(), "cancel" | "replay") {
        return actix_web::ResponseError::error_response(&crate::Error::BadRequest(
            "`action` is cancel or replay".into(),
        ));
    }
    let filter = RunFilter {
        workflow: form.workflow.clone(),
        status: form.status.clone(),
        from: form.from.clone(),
        to: form.to.clone(),
        before: String::new(),
    };
    if let Err(message) = filter.check() {
        return actix_web::ResponseError::error_response(&crate::Error::BadRequest(message));
    }
    let ids: Vec<String> = match pool.run(move |c| store::runs(c, &filter, BULK_MAX)).await {
        Ok(rows) => rows.into_iter().map(|r| r.id).collect(),
        Err(e) => return db_error(e),
    };
    let mut changed = Vec::new();
    for id in &ids {
        let done = if form.action == "cancel" {
            crate::workflow::cancel(&pool, id).await
        } else {
            crate::workflow::replay(&pool, id).await
        };
        if matches!(done, Ok(true)) {
            changed.push(id.clone());
        }
    }
    record(
        &req,
        &st,
        &who,
        &format!("admin.runs.{}", form.action),
        Some(format!(
            "workflow={} status={} from={} to={}",
            form.workflow, form.status, form.from, form.to
        )),
        Some(serde_json::json!({"runs": changed, "matched": ids.len()})),
    )
    .await;
    let verb = if form.action == "cancel" {
        "Cancelled"
    } else {
        "Replaying"
    };
    back(
        &req,
        "/_bao/admin/runs",
        format!("{verb} {} of {} matching runs", changed.len(), ids.len()),
    )
}

async fn run_action(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    if let Err(response) = form::<std::collections::HashMap<String, String>>(&req, body).await {
        return response;
    }
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let done = match action.as_str() {
        "cancel" => crate::workflow::cancel(&pool, &id).await,
        "replay" => crate::workflow::replay(&pool, &id).await,
        _ => return crate::http::not_found_response(&req),
    };
    match done {
        Ok(changed) => {
            record(
                &req,
                &st,
                &who,
                &format!("admin.run.{action}"),
                Some(id.clone()),
                Some(serde_json::json!({"changed": changed})),
            )
            .await;
            let notice = match (action.as_str(), changed) {
                ("cancel", true) => format!("Run {id} cancelled"),
                ("replay", true) => format!("Run {id} is replaying: completed steps are kept"),
                _ => format!("Run {id} was not changed: it is not in a state that allows {action}"),
            };
            back(&req, "/_bao/admin/runs", notice)
        }
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

async fn approvals(req: HttpRequest, st: web::Data<AdminState>) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let loaded = pool
        .run(|c| {
            pool_ready(c)?;
            let pending = crate::agent::approvals::list(c, Some("pending"), None, PAGE)?;
            let mut decided = crate::agent::approvals::list(c, None, None, PAGE)?;
            decided.retain(|a| a.status != "pending");
            Ok((pending, decided))
        })
        .await;
    let (pending, decided) = match loaded {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let (frame, cookie) = Frame::new(&req, &st, &who);
    page(
        &st,
        ApprovalsPage {
            frame,
            pending,
            decided,
        },
        cookie,
    )
}

#[derive(serde::Deserialize)]
struct DecisionForm {
    #[serde(default)]
    reason: String,
}

async fn decide(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
    path: web::Path<(i64, String)>,
) -> HttpResponse {
    let (id, decision) = path.into_inner();
    let form: DecisionForm = match form(&req, body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let who = match operator(&req, &st).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let approved = match decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return crate::http::not_found_response(&req),
    };
    let Some(pool) = st.db.clone() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let by = who.name();
    let reason = (!form.reason.trim().is_empty()).then(|| form.reason.trim().to_string());
    let decided = pool
        .run(move |c| {
            crate::agent::approvals::decide(c, id, approved, &by, reason.as_deref()).map_err(|e| {
                match e {
                    crate::agent::DecideError::Database(e) => e,
                    other => crate::db::DbError::Conflict(other.to_string()),
                }
            })
        })
        .await;
    match decided {
        Ok(approval) => {
            record(
                &req,
                &st,
                &who,
                if approved {
                    "admin.approval.approve"
                } else {
                    "admin.approval.deny"
                },
                Some(id.to_string()),
                Some(serde_json::json!({
                    "run": approval.run_id, "tool": approval.tool,
                    "arguments_hash": approval.arguments_hash,
                })),
            )
            .await;
            back(
                &req,
                "/_bao/admin/approvals",
                format!(
                    "Request {id} ({}) {}",
                    approval.tool,
                    if approved { "approved" } else { "denied" }
                ),
            )
        }
        Err(crate::db::DbError::Conflict(why)) => back(&req, "/_bao/admin/approvals", why),
        Err(e) => db_error(e),
    }
}

#[derive(serde::Deserialize)]
struct LettersQuery {
    #[serde(default)]
    queue: String,
    #[serde(default)]
    before: Option<i64>,
}

async fn dead_letters(
    req: HttpRequest,
    st: web::Data<AdminState>,
    query: web::Query<LettersQuery>,
) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let LettersQuery { queue, before } = query.into_inner();
    let q = queue.clone();
    let loaded = pool
        .run(move |c| {
            pool_ready(c)?;
            crate::fault::dlq::page(c, (!q.is_empty()).then_some(q.as_str()), before, PAGE + 1)
        })
        .await;
    let mut letters = match loaded {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let next = next_page(&mut letters, |l| l.id);
    let (frame, cookie) = Frame::new(&req, &st, &who);
    page(
        &st,
        DeadLettersPage {
            frame,
            queue,
            letters,
            next,
        },
        cookie,
    )
}

fn task_attempts(st: &AdminState, queue: &str) -> Option<i32> {
    st.parts["tasks"].as_array().and_then(|tasks| {
        tasks
            .iter()
            .find(|t| t["name"] == queue)
            .and_then(|t| t["max_attempts"].as_i64())
            .map(|n| i32::try_from(n).unwrap_or(1))
    })
}

async fn letter_replay(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
    id: web::Path<i64>,
) -> HttpResponse {
    let id = id.into_inner();
    if let Err(response) = form::<std::collections::HashMap<String, String>>(&req, body).await {
        return response;
    }
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let state = st.clone().into_inner();
    let outcome = pool
        .run(move |c| {
            let letter = crate::fault::dlq::find(c, id)?.ok_or(crate::db::DbError::NotFound)?;
            let attempts = task_attempts(&state, &letter.queue);
            crate::task::replay_dead_letter(c, id, attempts)
        })
        .await;
    match outcome {
        Ok(outcome) => {
            record(
                &req,
                &st,
                &who,
                "admin.dead_letter.replay",
                Some(id.to_string()),
                Some(serde_json::json!({"outcome": outcome})),
            )
            .await;
            back(
                &req,
                "/_bao/admin/dead-letters",
                format!("Dead letter {id}: {outcome}"),
            )
        }
        Err(crate::db::DbError::Conflict(why)) => back(&req, "/_bao/admin/dead-letters", why),
        Err(e) => db_error(e),
    }
}

#[derive(serde::Deserialize)]
struct LettersBulkForm {
    action: String,
    #[serde(default)]
    queue: String,
}

async fn letters_bulk(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
) -> HttpResponse {
    let form: LettersBulkForm = match form(&req, body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let queue = form.queue.clone();
    match form.action.as_str() {
        "purge" => {
            if queue.is_empty() {
                return back(
                    &req,
                    "/_bao/admin/dead-letters",
                    "Choose a queue to purge".into(),
                );
            }
            let q = queue.clone();
            match pool.run(move |c| crate::fault::dlq::purge(c, &q)).await {
                Ok(n) => {
                    record(
                        &req,
                        &st,
                        &who,
                        "admin.dead_letters.purge",
                        Some(queue.clone()),
                        Some(serde_json::json!({"purged": n})),
                    )
                    .await;
                    back(
                        &req,
                        "/_bao/admin/dead-letters",
                        format!("Purged {n} dead letters of {queue}"),
                    )
                }
                Err(e) => db_error(e),
            }
        }
        "replay" => {
            let state = st.clone().into_inner();
            let q = queue.clone();
            let replayed = pool
                .run(move |c| {
                    let letters = crate::fault::dlq::page(
                        c,
                        (!q.is_empty()).then_some(q.as_str()),
                        None,
                        BULK_MAX,
                    )?;
                    let mut done = Vec::new();
                    for letter in letters.into_iter().filter(|l| l.replayed_at.is_none()) {
                        let attempts = task_attempts(&state, &letter.queue);
                        if crate::task::replay_dead_letter(c, letter.id, attempts).is_ok() {
                            done.push(letter.id);
                        }
                    }
                    Ok(done)
                })
                .await;
            match replayed {
                Ok(ids) => {
                    record(
                        &req,
                        &st,
                        &who,
                        "admin.dead_letters.replay",
                        Some(queue.clone()),
                        Some(serde_json::json!({"letters": ids})),
                    )
                    .await;
                    back(
                        &req,
                        "/_bao/admin/dead-letters",
                        format!("Replayed {} dead letters", ids.len()),
                    )
                }
                Err(e) => db_error(e),
            }
        }
        _ => actix_web::ResponseError::error_response(&crate::Error::BadRequest(
            "`action` is replay or purge".into(),
        )),
    }
}

async fn tasks(req: HttpRequest, st: web::Data<AdminState>) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let counts = match pool
        .run(|c| {
            pool_ready(c)?;
            store::task_counts(c)
        })
        .await
    {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let (frame, cookie) = Frame::new(&req, &st, &who);
    let tasks = st.parts["tasks"].as_array().cloned().unwrap_or_default();
    page(
        &st,
        TasksPage {
            frame,
            counts,
            tasks,
        },
        cookie,
    )
}

#[derive(serde::Deserialize)]
struct RetryForm {
    name: String,
}

async fn tasks_retry(
    req: HttpRequest,
    body: web::Payload,
    st: web::Data<AdminState>,
) -> HttpResponse {
    let form: RetryForm = match form(&req, body).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let name = form.name.clone();
    match pool.run(move |c| store::retry_tasks_now(c, &name)).await {
        Ok(n) => {
            record(
                &req,
                &st,
                &who,
                "admin.tasks.retry",
                Some(form.name.clone()),
                Some(serde_json::json!({"tasks": n})),
            )
            .await;
            back(
                &req,
                "/_bao/admin/tasks",
                format!("{n} waiting {} tasks are due now", form.name),
            )
        }
        Err(e) => db_error(e),
    }
}

async fn audit(
    req: HttpRequest,
    st: web::Data<AdminState>,
    filter: web::Query<AuditFilter>,
) -> HttpResponse {
    let (who, pool) = match guard(&req, &st).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let filter = filter.into_inner();
    if let Err(message) = store::day_range(&filter.from, &filter.to) {
        return actix_web::ResponseError::error_response(&crate::Error::BadRequest(message));
    }
    let query = filter.clone();
    let mut entries = match pool
        .run(move |c| {
            pool_ready(c)?;
            store::audit(c, &query, PAGE + 1)
        })
        .await
    {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    let next = next_page(&mut entries, |e| e.id);
    let (frame, cookie) = Frame::new(&req, &st, &who);
    page(
        &st,
        AuditPage {
            frame,
            filter,
            entries,
            next,
        },
        cookie,
    )
}
