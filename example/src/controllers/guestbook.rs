//! A guestbook: a form that validates its input, keeps what the visitor typed
//! when it is invalid, and redirects after a successful post.

use bao::prelude::*;
use bao::web::Data;
use serde::Deserialize;
use std::sync::Mutex;

/// Signing and reading the guestbook.
pub struct Guestbook;

/// One signature.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub message: String,
}

/// Every signature, newest last. (Kept in memory; the data layer replaces it
/// with a model.)
#[derive(Default)]
pub struct Entries(Mutex<Vec<Entry>>);

impl Entries {
    fn all(&self) -> Vec<Entry> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn add(&self, entry: Entry) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push(entry);
        }
    }
}

/// The form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct SignForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
}

/// The context of `views/guestbook/index.html`.
#[bao::view("guestbook/index.html")]
pub struct GuestbookPage {
    pub entries: Vec<Entry>,
    pub form: SignForm,
    pub errors: Vec<(&'static str, &'static str)>,
}

impl GuestbookPage {
    /// The error for `field`, if any (used by the template).
    pub fn error(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, message)| message)
    }
}

/// Longest accepted message, in characters.
pub const MAX_MESSAGE: usize = 500;

fn validate(form: &SignForm) -> Vec<(&'static str, &'static str)> {
    let mut errors = Vec::new();
    if form.name.trim().is_empty() {
        errors.push(("name", "Please tell us your name."));
    } else if form.name.chars().count() > 80 {
        errors.push(("name", "Names are at most 80 characters."));
    }
    if form.message.trim().is_empty() {
        errors.push(("message", "Please write a message."));
    } else if form.message.chars().count() > MAX_MESSAGE {
        errors.push(("message", "Messages are at most 500 characters."));
    }
    errors
}

#[bao::controller("/guestbook")]
impl Guestbook {
    /// Lists the signatures and shows the form.
    #[get("/")]
    async fn index(entries: Data<Entries>) -> View<GuestbookPage> {
        View(GuestbookPage {
            entries: entries.all(),
            form: SignForm::default(),
            errors: Vec::new(),
        })
    }

    /// Signs the guestbook; invalid input is shown again with its errors.
    #[post("/")]
    async fn sign(entries: Data<Entries>, form: Form<SignForm>) -> HttpResponse {
        let form = form.into_inner();
        let errors = validate(&form);
        if !errors.is_empty() {
            let page = GuestbookPage {
                entries: entries.all(),
                form,
                errors,
            };
            return match page.render() {
                Ok(html) => HttpResponse::UnprocessableEntity()
                    .content_type("text/html; charset=utf-8")
                    .body(html),
                Err(_) => HttpResponse::InternalServerError().finish(),
            };
        }
        entries.add(Entry {
            name: form.name.trim().to_string(),
            message: form.message.trim().to_string(),
        });
        HttpResponse::SeeOther()
            .insert_header(("location", "/guestbook"))
            .finish()
    }
}

use bao::__private::askama::Template as _;
