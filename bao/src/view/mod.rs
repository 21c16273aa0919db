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
                HttpResponse::InternalServerError()
                    .content_type("text/html; charset=utf-8")
                    .body(error_page(
                        500,
                        "Something went wrong",
                        "The page could not be rendered.",
                    ))
            }
        }
    }
}

pub(crate) use crate::http::page::{error_page, escape_html};
