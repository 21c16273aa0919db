//! A real browser for tests: Debian's `chromium`, headless, driven through
//! `chromium-driver`'s WebDriver HTTP API (no browser download, no extra
//! client crate). Under `CI` a missing browser fails the test; elsewhere
//! [`Browser::start`] returns `None` and the test skips, saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One WebDriver session; the driver stops when it is dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    /// Starts chromedriver and a headless chromium session (1280×1100,
    /// no sandbox, no background networking or component updates).
    ///
    /// # Panics
    /// Under `CI` when chromium or chromium-driver is not installed, or when
    /// the driver does not answer within 20 s.
    pub async fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(DRIVER).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium and chromium-driver must be installed under CI (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipping the browser test: chromium is not installed");
            return None;
        }
        let port = super::free_port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver started"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let created: serde_json::Value = http
            .post(format!("{base}/session"))
            .json(&serde_json::json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--window-size=1280,1100",
                ]},
            }}}))
            .send()
            .await
            .expect("a WebDriver session")
            .json()
            .await
            .expect("a WebDriver answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {created}"))
            .to_string();
        Some(Browser {
            driver,
            base,
            session,
            http,
        })
    }

    /// One WebDriver command of this session; its `value`.
    ///
    /// # Panics
    /// When the driver answers with an error.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method.clone(), url);
        let request = if method == reqwest::Method::GET {
            request
        } else {
            request.json(&body)
        };
        let value: serde_json::Value = request
            .send()
            .await
            .expect("the driver answers")
            .json()
            .await
            .expect("JSON from the driver");
        assert!(
            value["value"]["error"].is_null(),
            "WebDriver {path}: {}",
            value["value"]
        );
        value["value"].clone()
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call(
            reqwest::Method::POST,
            "/url",
            serde_json::json!({ "url": url }),
        )
        .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", serde_json::Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML as it is now (after scripts changed it).
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", serde_json::Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                serde_json::json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("an element for {css}: {found}"))
            .to_string()
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            serde_json::json!({}),
        )
        .await;
    }

    /// The text of the open `alert`/`confirm` dialog, waiting up to two
    /// seconds for one to open; `None` when none did.
    pub async fn dialog_text(&self) -> Option<String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            let url = format!("{}/session/{}/alert/text", self.base, self.session);
            let answer: serde_json::Value =
                self.http.get(url).send().await.ok()?.json().await.ok()?;
            if let Some(text) = answer["value"].as_str() {
                return Some(text.to_string());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Answers the open dialog: OK when `accept`, else Cancel.
    pub async fn answer_dialog(&self, accept: bool) {
        let path = if accept {
            "/alert/accept"
        } else {
            "/alert/dismiss"
        };
        self.call(reqwest::Method::POST, path, serde_json::json!({}))
            .await;
    }

    /// Types `text` into the first element matching `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            serde_json::json!({}),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            serde_json::json!({ "text": text }),
        )
        .await;
    }

    /// Waits up to `timeout` for the page to contain `text`; whether it did.
    pub async fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.source().await.contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub async fn screenshot(&self, path: &Path) -> PathBuf {
        use base64::Engine;
        let data = self
            .call(reqwest::Method::GET, "/screenshot", serde_json::Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(path, png).expect("the screenshot is written");
        path.to_path_buf()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
