//! `Form<T>`: an `application/x-www-form-urlencoded` body as `T`, stricter
//! than a plain decoder. A field whose bytes are not UTF-8 is a 400 naming
//! the field (never stored with U+FFFD in place of what was sent), a NUL
//! character is a 422 naming the field (PostgreSQL cannot store it, and no
//! form needs it), and a body that does not fit `T` is a 400 saying why;
//! each answer is the app's error page, or problem details for clients that
//! ask for JSON. The body is limited by `BAO_MAX_BODY_SIZE` (413).

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// A form body, decoded into `T` (see the [module](self) documentation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form<T>(pub T);

impl<T> Form<T> {
    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Form<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = actix_web::web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| {
                    v.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                });
            if !is_form {
                return Err(refuse(
                    &req,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "The form could not be read: send it as application/x-www-form-urlencoded."
                        .into(),
                ));
            }
            let body = body.await?;
            if let Err((status, detail)) = check(&body) {
                return Err(refuse(&req, status, detail));
            }
            serde_urlencoded::from_bytes::<T>(&body)
                .map(Form)
                .map_err(|e| {
                    refuse(
                        &req,
                        StatusCode::BAD_REQUEST,
                        format!("The form could not be read: {e}."),
                    )
                })
        })
    }
}

/// Every field name and value of `body` is UTF-8 once decoded and has no
/// NUL; else the status and what to say.
fn check(body: &[u8]) -> Result<(), (StatusCode, String)> {
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let decode = |raw: &[u8]| -> Option<String> {
            let spaced: Vec<u8> = raw
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&spaced)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        };
        let Some(name) = decode(name) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "The form has a field name that is not UTF-8 text.".into(),
            ));
        };
        let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
        let Some(value) = decode(value) else {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("The field `{shown}` is not UTF-8 text: send the page's form again from a browser."),
            ));
        };
        if name.contains('\0') || value.contains('\0') {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("The field `{shown}` contains a NUL character, which text cannot hold."),
            ));
        }
    }
    Ok(())
}

fn refuse(req: &HttpRequest, status: StatusCode, detail: String) -> actix_web::Error {
    let title = status.canonical_reason().unwrap_or("Bad Request");
    let response = super::page::problem_or_page(req, status, title, &detail);
    actix_web::error::InternalError::from_response(detail, response).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_and_nul_are_named() {
        assert!(check(b"name=Ann+Lee&note=caf%C3%A9").is_ok());
        let (status, detail) = check(b"name=%FF%FE").unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(detail.contains("`name` is not UTF-8"), "{detail}");
        let (status, detail) = check(b"ok=1&note=a%00b").unwrap_err();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(detail.contains("`note` contains a NUL"), "{detail}");
        assert!(check(b"%FF=1").is_err());
        assert!(check(b"").is_ok());
    }
}
