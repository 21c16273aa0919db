//! Bao's own HTML error page, for answers given before or without the
//! app's templates.

/// What one of Bao's HTML error answers says. It rides on the response, so
/// that an app with a `views/error.html` shows it in its own layout (see
/// [`crate::view::ErrorPage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The HTTP status (404, 500, ..).
    pub status: u16,
    /// A short title: "Not found".
    pub title: String,
    /// One sentence on what happened or what to do.
    pub detail: String,
}

/// An HTML error answer with Bao's own page, marked with its [`ErrorInfo`]
/// so that the app's `views/error.html` may replace the page.
pub(crate) fn html_error(
    mut builder: actix_web::HttpResponseBuilder,
    status: u16,
    title: &str,
    detail: &str,
) -> actix_web::HttpResponse {
    let mut response = builder
        .content_type("text/html; charset=utf-8")
        .body(error_page(status, title, detail));
    response.extensions_mut().insert(ErrorInfo {
        status,
        title: title.to_string(),
        detail: detail.to_string(),
    });
    response
}

/// An error answer in the form the client wants: problem details (RFC
/// 9457) for clients asking for JSON, else the HTML error page (the app's,
/// when it has one).
pub(crate) fn problem_or_page(
    req: &actix_web::HttpRequest,
    status: actix_web::http::StatusCode,
    title: &str,
    detail: &str,
) -> actix_web::HttpResponse {
    if super::wants_json(req) {
        actix_web::HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank",
                "title": title,
                "status": status.as_u16(),
                "detail": detail,
            }))
    } else {
        html_error(
            actix_web::HttpResponse::build(status),
            status.as_u16(),
            title,
            detail,
        )
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
