//! `/_bao/workflows`: the latest runs, filtered by status or workflow, a
//! page at a time; `/_bao/workflows/{run_id}`: a run's steps (order, name,
//! status, attempts, when, result or error), kept live over server-sent
//! events, with a Replay button for failed runs. Signed-in admins only when
//! the app has users; without them, outside production only.

use super::store::{self, RunRow, StepRow};
use crate::config::Environment;
use crate::db::DbPool;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use askama::Template;

#[derive(Template)]
#[template(path = "workflow_run.html")]
struct RunPage {
    run: RunRow,
    steps: Vec<StepRow>,
    csrf_token: String,
    css_url: &'static str,
    script_url: &'static str,
}

/// Runs listed per page.
const LIST_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "workflow_runs.html")]
struct RunsList {
    runs: Vec<RunRow>,
    filter: super::store::RunFilter,
    statuses: &'static [&'static str],
    /// The cursor of the next (older) page, when there is one.
    older: Option<String>,
    css_url: &'static str,
}

impl RunsList {
    fn when(&self, ms: &i64) -> String {
        crate::support::units::format_ms_utc(*ms)
    }

    /// The query string of the next page, keeping the filters.
    fn older_query(&self, before: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status", self.filter.status.as_str()),
            ("workflow", self.filter.workflow.as_str()),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        query.append_pair("before", before);
        query.finish()
    }
}

impl RunPage {
    fn when(&self, ms: &i64) -> String {
        crate::support::units::format_ms_utc(*ms)
    }

    fn preview(&self, step: &StepRow) -> String {
        let text = step
            .error
            .as_deref()
            .or(step.result.as_deref())
            .unwrap_or("");
        let mut preview: String = text.chars().take(120).collect();
        if text.chars().count() > 120 {
            preview.push('…');
        }
        preview
    }
}

/// What the run pages read.
pub(crate) struct Pages {
    pub(crate) db: Option<DbPool>,
    pub(crate) env: Environment,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::framework_get("/_bao/workflows").to(list))
        .service(crate::http::framework_get("/_bao/workflows/{run_id}").to(show))
        .service(crate::http::framework_get("/_bao/workflows/{run_id}/state").to(state))
        .service(
            crate::http::framework_resource("/_bao/workflows/{run_id}/replay")
                .route(web::post().to(replay)),
        );
}

/// Admins of an app with users; anyone outside production otherwise.
#[allow(clippy::result_large_err)]
async fn allowed(req: &HttpRequest, rt: &Pages) -> Result<(), HttpResponse> {
    crate::auth::operator(req, rt.env).await
}

async fn load(rt: &Pages, run_id: String) -> Option<(RunRow, Vec<StepRow>)> {
    let pool = rt.db.clone()?;
    pool.run(move |c| {
        crate::db::system::migrate(c)?;
        let Some(run) = store::find_run(c, &run_id)? else {
            return Ok(None);
        };
        let steps = store::steps(c, &run_id)?;
        Ok(Some((run, steps)))
    })
    .await
    .ok()
    .flatten()
}

async fn list(
    req: HttpRequest,
    rt: web::Data<Pages>,
    filter: web::Query<super::store::RunFilter>,
) -> HttpResponse {
    if let Err(response) = allowed(&req, &rt).await {
        return response;
    }
    let mut filter = filter.into_inner();
    // Days are the admin console's filter; this page lists the latest runs.
    filter.from.clear();
    filter.to.clear();
    let statuses = super::store::RUN_STATUSES;
    if !filter.status.is_empty() && !statuses.contains(&filter.status.as_str()) {
        return HttpResponse::BadRequest()
            .content_type("text/html; charset=utf-8")
            .body(crate::http::page::error_page(
                400,
                "Bad request",
                &format!(
                    "`{}` is not a run status; the statuses are {}",
                    filter.status,
                    statuses.join(", ")
                ),
            ));
    }
    let Some(pool) = rt.db.clone() else {
        return crate::http::not_found_response(&req);
    };
    let query = filter.clone();
    let loaded = pool
        .run(move |c| {
            crate::db::system::migrate(c)?;
            super::store::runs(c, &query, LIST_PAGE + 1)
        })
        .await;
    let mut runs = match loaded {
        Ok(runs) => runs,
        Err(e) => return actix_web::ResponseError::error_response(&crate::Error::from(e)),
    };
    let older = if runs.len() as i64 > LIST_PAGE {
        runs.truncate(LIST_PAGE as usize);
        runs.last().map(|r| format!("{}:{}", r.created_at, r.id))
    } else {
        None
    };
    let page = RunsList {
        runs,
        filter,
        statuses,
        older,
        css_url: crate::http::static_files::CSS_URL,
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(error) => {
            tracing::error!(%error, "the workflow runs page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn show(req: HttpRequest, rt: web::Data<Pages>, run_id: web::Path<String>) -> HttpResponse {
    if let Err(response) = allowed(&req, &rt).await {
        return response;
    }
    let Some((run, steps)) = load(&rt, run_id.into_inner()).await else {
        return crate::http::not_found_response(&req);
    };
    let (csrf_token, cookie) = crate::auth::csrf_for_request(&req);
    let page = RunPage {
        run,
        steps,
        csrf_token,
        css_url: crate::http::static_files::CSS_URL,
        script_url: crate::http::static_files::WORKFLOW_JS_URL,
    };
    match page.render() {
        Ok(html) => {
            let mut response = HttpResponse::Ok();
            response
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(cookie) = cookie {
                response.cookie(cookie);
            }
            response.body(html)
        }
        Err(error) => {
            tracing::error!(%error, "the workflow page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The run and its steps as JSON: what the page redraws from each time its
/// `workflow` channel says something changed.
async fn state(req: HttpRequest, rt: web::Data<Pages>, run_id: web::Path<String>) -> HttpResponse {
    if let Err(response) = allowed(&req, &rt).await {
        return response;
    }
    match load(&rt, run_id.into_inner()).await {
        Some((run, steps)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"run": run, "steps": steps})),
        None => crate::http::not_found_response(&req),
    }
}

async fn replay(
    req: HttpRequest,
    body: web::Payload,
    rt: web::Data<Pages>,
    run_id: web::Path<String>,
) -> HttpResponse {
    let mut payload = body.into_inner();
    if let Err(response) = crate::auth::session::csrf_guard(&req, &mut payload).await {
        return response;
    }
    if let Err(response) = allowed(&req, &rt).await {
        return response;
    }
    let Some(pool) = rt.db.clone() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let run_id = run_id.into_inner();
    match super::replay(&pool, &run_id).await {
        Ok(true) => crate::Redirect::to(format!("/_bao/workflows/{run_id}"))
            .flash("notice", "Replaying: completed steps are kept")
            .respond_to(&req),
        Ok(false) => HttpResponse::Conflict()
            .content_type("text/html; charset=utf-8")
            .body(crate::http::page::error_page(
                409,
                "Conflict",
                "Only failed or cancelled runs can be replayed.",
            )),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}
