//! Flash messages: set on a [`Redirect`](crate::Redirect), shown once on the
//! next page. They travel in the signed `bao_flash` cookie; its value is
//! `MAC.HEX` where HEX is the JSON of the messages in hexadecimal, so no
//! client or proxy re-encodes it and the MAC checks the bytes it signed.

use crate::config::{Config, Environment};
use crate::support::crypto::Signer;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest};
use serde::{Deserialize, Serialize};

/// The flash cookie's name.
pub const FLASH_COOKIE: &str = "bao_flash";

/// One flash message: shown once, on the next page rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashMessage {
    /// `notice`, `alert`, `error` or any level the app styles.
    pub level: String,
    /// The text.
    pub message: String,
}

/// The flash messages a request brought (signed, so nobody can plant one).
pub(crate) fn read_flash(req: &HttpRequest) -> Vec<FlashMessage> {
    let (Some(signer), Some(cookie)) = (
        req.app_data::<web::Data<Signer>>(),
        req.cookie(FLASH_COOKIE),
    ) else {
        return Vec::new();
    };
    decode(signer, cookie.value()).unwrap_or_default()
}

fn decode(signer: &Signer, value: &str) -> Option<Vec<FlashMessage>> {
    let (mac, data) = value.split_once('.')?;
    if !signer.verify("flash", data, mac) {
        return None;
    }
    let json = crate::support::crypto::unhex_bytes(data)?;
    serde_json::from_slice(&json).ok()
}

/// The cookie carrying `messages` to the next request, or `None` when the
/// app state is missing (a bare actix-web service).
pub(crate) fn flash_cookie(
    req: &HttpRequest,
    messages: &[FlashMessage],
) -> Option<Cookie<'static>> {
    let signer = req.app_data::<web::Data<Signer>>()?;
    let secure = req
        .app_data::<web::Data<Config>>()
        .is_some_and(|c| c.env != Environment::Development);
    Some(build_cookie(signer, secure, messages))
}

fn build_cookie(signer: &Signer, secure: bool, messages: &[FlashMessage]) -> Cookie<'static> {
    let data = crate::support::crypto::hex(&serde_json::to_vec(messages).unwrap_or_default());
    let mac = signer.sign("flash", &data);
    Cookie::build(FLASH_COOKIE, format!("{mac}.{data}"))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::minutes(5))
        .finish()
}

/// The cookie that removes the flash once shown.
pub(crate) fn flash_removal() -> Cookie<'static> {
    let mut cookie = Cookie::build(FLASH_COOKIE, "").path("/").finish();
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_survive_percent_decoding() {
        let signer = Signer::new("k".repeat(64).as_str());
        let messages = vec![FlashMessage {
            level: "notice".into(),
            message: "Saved; ok, \"quoted\" é 100%".into(),
        }];
        let cookie = build_cookie(&signer, false, &messages);
        // What a browser sends back is what a server-side decoder sees:
        // nothing in the value may change under percent-decoding.
        let parsed = Cookie::parse_encoded(format!("{}={}", FLASH_COOKIE, cookie.value()))
            .expect("a cookie");
        assert_eq!(parsed.value(), cookie.value());
        assert_eq!(decode(&signer, parsed.value()), Some(messages));
    }

    #[test]
    fn a_changed_message_is_refused() {
        let signer = Signer::new("k".repeat(64).as_str());
        let cookie = build_cookie(&signer, false, &[]);
        let (mac, _) = cookie.value().split_once('.').expect("mac.data");
        let forged = format!(
            "{mac}.{}",
            crate::support::crypto::hex(b"[{\"level\":\"x\",\"message\":\"y\"}]")
        );
        assert_eq!(decode(&signer, &forged), None);
    }
}
