//! Typed views: askama templates in the app's `views/` folder whose context is
//! a struct (`#[bao::view("posts/index.html")]`), so a variable the struct does
//! not have is a compile error. Autoescaping is on for `.html` templates.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};

/// A rendered template as a response: `200`, `text/html`. The example app
/// (`example/src/controllers/home.rs`) does exactly this:
///
/// ```text
/// #[bao::view("home/index.html")]
/// pub struct HomePage { pub title: String }
///
/// #[get("/")]
/// async fn index() -> View<HomePage> {
///     View(HomePage { title: "Welcome".into() })
/// }
/// ```
pub struct View<T>(pub T);

/// What every page can use besides its struct's fields: `{{ csrf_token }}`,
/// `{{ csrf_field }}` (the hidden form input), `{% for f in flash %}`
/// (messages set with `Redirect::flash`) and `current_user` (who is signed
/// in, if anyone). `#[bao::view]` implements
/// [`Page`] so that templates see them.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// This browser's CSRF token.
    pub csrf_token: String,
    /// Messages to show once.
    pub flash: Vec<crate::http::FlashMessage>,
    /// The signed-in user (`{% if let Some(user) = current_user %}`), in
    /// apps with a user model.
    pub current_user: Option<crate::auth::CurrentUser>,
}

/// A typed template with Bao's page context; `#[bao::view]` implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Bao view",
    label = "not a view",
    note = "add #[bao::view(\"path/under/views.html\")] to the struct `{Self}`"
)]
pub trait Page {
    /// Renders the template with `ctx`.
    fn render_page(&self, ctx: &PageContext) -> askama::Result<String>;
}

/// `{{ csrf_field }}`: the hidden `_csrf` input every form posting to the app
/// carries. Not escaped again by askama.
#[derive(Debug, Clone, Copy)]
pub struct CsrfField<'a>(pub &'a str);

impl std::fmt::Display for CsrfField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            crate::auth::CSRF_FIELD,
            escape_html(self.0)
        )
    }
}

impl askama::filters::HtmlSafe for CsrfField<'_> {}

impl<T: Page> View<T> {
    /// Renders the template without a request (no CSRF token, no flash).
    /// A handler returns the `View` itself, or `view.with_status(422)`, so
    /// that the page gets this browser's CSRF token.
    pub fn render(&self) -> askama::Result<String> {
        self.0.render_page(&PageContext::default())
    }

    /// The page with another status, e.g. `422` for a form shown again with
    /// its errors: `Ok(View(page).with_status(422).respond_to(&req))`.
    ///
    /// # Panics
    /// If `status` is not a valid HTTP status code (100-999).
    pub fn with_status(self, status: u16) -> WithStatus<Self> {
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or_else(|_| panic!("View::with_status: {status} is not an HTTP status"));
        WithStatus(self, status)
    }
}

/// A response with its status replaced (`View::with_status`).
pub struct WithStatus<R>(pub R, pub actix_web::http::StatusCode);

impl<R: Responder> Responder for WithStatus<R> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let mut response = self.0.respond_to(req).map_into_boxed_body();
        *response.status_mut() = self.1;
        response
    }
}

impl<T: Page> From<T> for View<T> {
    fn from(template: T) -> Self {
        View(template)
    }
}

impl<T: Page> Responder for View<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let (csrf_token, new_cookie) = crate::auth::csrf_for_request(req);
        let flash = crate::http::flash::read_flash(req);
        let current_user = crate::auth::resolved_user(req);
        let ctx = PageContext {
            csrf_token,
            flash,
            current_user,
        };
        match self.0.render_page(&ctx) {
            Ok(html) => {
                let mut response = HttpResponse::Ok();
                response
                    .content_type("text/html; charset=utf-8")
                    .insert_header((header::CACHE_CONTROL, "no-cache"));
                if let Some(cookie) = new_cookie {
                    response.cookie(cookie);
                }
                if !ctx.flash.is_empty() {
                    response.cookie(crate::http::flash::flash_removal());
                }
                response.body(html)
            }
            Err(error) => {
                tracing::error!(%error, template = std::any::type_name::<T>(), "template failed to render");
                crate::http::page::html_error(
                    HttpResponse::InternalServerError(),
                    500,
                    "Something went wrong",
                    "The page could not be rendered.",
                )
            }
        }
    }
}

pub(crate) use crate::http::page::escape_html;
pub use crate::http::page::ErrorInfo;

/// The app's error page: Bao's HTML error answers (404, 405, 500, 503, ..)
/// rendered with the app's `views/error.html`, so they carry its layout and
/// a way home. `bao::app!` registers one when that file exists; the template
/// sees `status`, `title` and `detail` besides the page context.
#[derive(Clone, Copy)]
pub struct ErrorPage {
    render: fn(&ErrorInfo, &PageContext) -> askama::Result<String>,
}

impl ErrorPage {
    /// An error page rendered by `render` (what `bao::app!` generates).
    pub fn new(render: fn(&ErrorInfo, &PageContext) -> askama::Result<String>) -> ErrorPage {
        ErrorPage { render }
    }
}

impl std::fmt::Debug for ErrorPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrorPage")
    }
}

/// The subsystem that serves the app's error page to the request pipeline.
#[derive(Clone, Default)]
pub(crate) struct ErrorPages {
    pub(crate) page: Option<ErrorPage>,
}

impl crate::subsystem::Subsystem for ErrorPages {
    fn name(&self) -> &'static str {
        "error-pages"
    }

    fn mount(&self, _core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        match self.page {
            Some(page) => crate::subsystem::Mounted::new().data(std::sync::Arc::new(page)),
            None => crate::subsystem::Mounted::new(),
        }
    }
}

/// The page layer around every request (inside Bao's request middleware):
/// the signed-in user is looked up before a page's handler, so layouts can
/// show it, and Bao's error answers get the app's error page.
pub(crate) async fn page_layer(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    crate::auth::preload_for_page(req.request()).await;
    let res = next.call(req).await?;
    Ok(restyle_error(res))
}

/// `res` with Bao's error page replaced by the app's, when the response is
/// one of Bao's HTML error answers and the app has a `views/error.html`.
pub(crate) fn restyle_error<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>> {
    let info = res.response().extensions().get::<ErrorInfo>().cloned();
    let page = res
        .request()
        .app_data::<actix_web::web::Data<ErrorPage>>()
        .map(|p| *p.get_ref());
    let (Some(info), Some(page)) = (info, page) else {
        return res.map_into_left_body();
    };
    let req = res.request();
    let (csrf_token, cookie) = crate::auth::csrf_for_request(req);
    let ctx = PageContext {
        csrf_token,
        // Flash messages wait for the next real page.
        flash: Vec::new(),
        current_user: crate::auth::resolved_user(req),
    };
    match (page.render)(&info, &ctx) {
        Ok(html) => {
            let (req, response) = res.into_parts();
            let mut response = response.set_body(html);
            if let Some(cookie) = cookie {
                let _ = response.add_cookie(&cookie);
            }
            actix_web::dev::ServiceResponse::new(req, response.map_into_boxed_body())
                .map_into_right_body()
        }
        Err(error) => {
            tracing::error!(%error, "views/error.html failed to render; Bao's page was sent");
            res.map_into_left_body()
        }
    }
}
