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

impl<T: askama::Template> View<T> {
    /// Renders the template to a string.
    pub fn render(&self) -> askama::Result<String> {
        self.0.render()
    }
}

impl<T: askama::Template> From<T> for View<T> {
    fn from(template: T) -> Self {
        View(template)
    }
}

impl<T: askama::Template> Responder for View<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        match self.0.render() {
            Ok(html) => HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .body(html),
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

/// A self-contained error page (no template of the app needed).
pub(crate) fn error_page(status: u16, title: &str, detail: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {title}</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"bao-container\">\
         <h1>{status} {title}</h1><p class=\"bao-muted\">{detail}</p></main></body></html>",
        css = crate::http::static_files::CSS_URL,
        title = escape_html(title),
        detail = escape_html(detail),
    )
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
