//! `/_bao/workflows/{run_id}`: a run's steps (order, name, status,
//! attempts, result or error), kept live over server-sent events, with a
//! Replay button for failed runs. Signed-in admins only when the app has
//! users; without them, outside production only.

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

impl RunPage {
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
    cfg.service(crate::http::framework_get("/_bao/workflows/{run_id}").to(show))
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
