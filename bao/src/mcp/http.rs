//! The MCP server over streamable HTTP at `/_bao/mcp`, on the running app
//! (`BAO_MCP_HTTP=1`). Every request carries a bearer token: an API token
//! of a user with the `admin` role, or `BAO_ADMIN_TOKEN`. Requests are
//! handed to rmcp's streamable HTTP service (stateless, JSON answers).

use super::{operate, BaoMcp, HttpActor, Toolbox};
use crate::subsystem::{Core, Mounted, Subsystem};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// The path the server answers at.
pub const PATH: &str = "/_bao/mcp";

/// The HTTP transport as a subsystem: mounted only with `BAO_MCP_HTTP=1`.
#[derive(Clone, Default)]
pub struct McpSubsystem;

struct McpState {
    service: StreamableHttpService<BaoMcp, NeverSessionManager>,
    admin_token: Option<String>,
}

impl Subsystem for McpSubsystem {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn routes(&self) -> Vec<crate::RouteInfo> {
        crate::http::MCP_ROUTES.to_vec()
    }

    fn mount(&self, core: &Core) -> Mounted {
        if !core.config.mcp_http {
            return Mounted::new();
        }
        let ops = operate::Ops::new(core.config.clone(), core.db.clone());
        let mut toolbox = Toolbox::new(super::secret_values(&core.config));
        let parts = core.parts.clone();
        toolbox.add([super::describe_tool(move || Ok((*parts).clone()))], false);
        toolbox.add(operate::tools(&ops), core.config.mcp_allow_write);
        let server = BaoMcp::new(toolbox, core.app.name);
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            // Every request is authenticated by a bearer token, so the
            // Host check (a defence for unauthenticated local servers) is
            // left to the app's own front.
            .disable_allowed_hosts()
            .with_max_request_body_bytes(1024 * 1024);
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        let state = Arc::new(McpState {
            service,
            admin_token: core.config.admin_token.clone(),
        });
        Mounted::new().data(state).framework_routes(|cfg| {
            cfg.service(crate::http::framework_resource(PATH).to(endpoint));
        })
    }
}

/// Who sent `req`, or the answer refusing it.
#[allow(clippy::result_large_err)]
async fn actor(req: &HttpRequest, st: &McpState) -> Result<String, HttpResponse> {
    let unauthorized = |why: &str| {
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(serde_json::json!({"error": why}))
    };
    let Some(sent) = crate::auth::session::bearer_token(req) else {
        return Err(unauthorized(
            "send `Authorization: Bearer <token>`: an API token of an admin (`bao tokens:issue`) or BAO_ADMIN_TOKEN",
        ));
    };
    if let Some(token) = st.admin_token.as_deref() {
        if crate::support::crypto::constant_time_eq(sent.as_bytes(), token.as_bytes()) {
            return Ok("mcp-http:admin-token".into());
        }
    }
    if !crate::auth::has_users(req) {
        return Err(unauthorized(
            "this token is not BAO_ADMIN_TOKEN (the app has no users, so only that token works)",
        ));
    }
    match crate::auth::require(req, Some("admin")).await {
        Ok(user) => Ok(format!("mcp-http:{}", user.email)),
        Err(response) => Err(response),
    }
}

async fn endpoint(req: HttpRequest, body: web::Bytes, st: web::Data<McpState>) -> HttpResponse {
    let who = match actor(&req, &st).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    // actix-web speaks http 0.2, rmcp http 1: rebuild the request.
    let mut request = ::http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let Ok(mut request) = request.body(http_body_util::Full::new(body)) else {
        return HttpResponse::BadRequest().finish();
    };
    request.extensions_mut().insert(HttpActor(who));
    let response = st.service.handle(request).await;
    let (parts, body) = response.into_parts();
    let mut out = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(parts.status.as_u16())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    let frames = http_body_util::BodyStream::new(body).filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame
                .into_data()
                .ok()
                .map(Ok::<_, std::convert::Infallible>),
            Err(never) => match never {},
        }
    });
    out.streaming(frames)
}
