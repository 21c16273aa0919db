//! `TestResponse` and its assertions; a failing assertion prints the response.

use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;

/// A response received by `TestClient`, with its body read.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl TestResponse {
    pub(crate) async fn read(response: ServiceResponse<BoxBody>) -> TestResponse {
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body())
            .await
            .map(|b| b.to_vec())
            .unwrap_or_else(|_| b"<body could not be read>".to_vec());
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// If the body is not JSON of type `T`.
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not the expected JSON ({e}){}",
                self.describe()
            )
        })
    }

    /// Asserts a 2xx status.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.is_success(),
            "expected a 2xx status, got {}{}",
            self.status,
            self.describe()
        );
        self
    }

    /// Asserts the exact status.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status{}",
            self.describe()
        );
        self
    }

    /// Asserts the body contains `text`.
    #[track_caller]
    pub fn assert_see(&self, text: &str) -> &Self {
        assert!(
            self.text().contains(text),
            "expected the body to contain {text:?}{}",
            self.describe()
        );
        self
    }

    /// Asserts the body does not contain `text`.
    #[track_caller]
    pub fn assert_dont_see(&self, text: &str) -> &Self {
        assert!(
            !self.text().contains(text),
            "expected the body not to contain {text:?}{}",
            self.describe()
        );
        self
    }

    /// Asserts a redirect (3xx) to `location`.
    #[track_caller]
    pub fn assert_redirect(&self, location: &str) -> &Self {
        assert!(
            self.status.is_redirection(),
            "expected a redirect, got {}{}",
            self.status,
            self.describe()
        );
        assert_eq!(
            self.header("location"),
            Some(location),
            "unexpected redirect target{}",
            self.describe()
        );
        self
    }

    /// Asserts a header's value.
    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        assert_eq!(
            self.header(name),
            Some(value),
            "unexpected `{name}` header{}",
            self.describe()
        );
        self
    }

    /// Asserts the body is JSON containing `expected`: every key of an expected
    /// object must be present with a matching value (extra keys are allowed);
    /// arrays and scalars must be equal.
    #[track_caller]
    pub fn assert_json(&self, expected: serde_json::Value) -> &Self {
        let actual: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("expected a JSON body ({e}){}", self.describe()));
        if let Err(path) = contains(&actual, &expected, "$") {
            panic!(
                "JSON mismatch at {path}: expected {expected}{}",
                self.describe()
            );
        }
        self
    }

    fn describe(&self) -> String {
        let text = self.text();
        let shown: String = text.chars().take(4000).collect();
        let more = if shown.len() < text.len() {
            "\n[... truncated]"
        } else {
            ""
        };
        format!("\n--- response: {} ---\n{shown}{more}\n---", self.status)
    }
}

fn contains(
    actual: &serde_json::Value,
    expected: &serde_json::Value,
    path: &str,
) -> Result<(), String> {
    use serde_json::Value;
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let at = format!("{path}.{key}");
                match a.get(key) {
                    Some(actual) => contains(actual, value, &at)?,
                    None => return Err(at),
                }
            }
            Ok(())
        }
        (a, e) if a == e => Ok(()),
        _ => Err(path.to_string()),
    }
}
