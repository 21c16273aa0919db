//! A guestbook: a form that validates its input, keeps what the visitor typed
//! when it is invalid, and redirects after a successful post.

use bao::prelude::*;
use serde::Deserialize;

/// Signing and reading the guestbook.
pub struct Guestbook;

/// One signature, stored in the `entries` table
/// (`migrations/20261127000000_create_entries`).
#[bao::model(table = "entries")]
#[derive(Debug, Clone)]
pub struct Entry {
    #[key]
    pub id: i64,
    #[validate(length(min = 1, max = 80))]
    pub name: String,
    #[validate(length(min = 1, max = 500))]
    pub message: String,
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
    /// This page's signatures, newest first.
    pub entries: Vec<Entry>,
    pub page: i64,
    pub pages: i64,
    pub form: SignForm,
    pub errors: Vec<(&'static str, &'static str)>,
}

/// Signatures per page.
pub const PER_PAGE: i64 = 50;

/// `?page=` on the guestbook.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
}

impl GuestbookPage {
    /// Page `page` (clamped to the pages there are), with `form` and `errors`.
    async fn load(
        db: &bao::db::DbPool,
        page: Option<i64>,
        form: SignForm,
        errors: Vec<(&'static str, &'static str)>,
    ) -> bao::Result<GuestbookPage> {
        let total = Entry::count(db).await?;
        let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
        let page = page.unwrap_or(1).clamp(1, pages);
        let entries = Entry::query()
            .order(entry::id.desc())
            .paginate(page, PER_PAGE)
            .fetch(db)
            .await?;
        Ok(GuestbookPage {
            entries,
            page,
            pages,
            form,
            errors,
        })
    }
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

/// One signature as a list item: the page renders each, and new ones go to
/// open pages over the `guestbook` channel.
#[bao::view("guestbook/entry.html")]
pub struct EntryItem {
    pub entry: Entry,
}

/// Anyone may watch the guestbook (its one channel is `all`).
#[bao::channel("guestbook")]
pub async fn anyone_may_watch(id: String) -> bao::Result<bool> {
    Ok(id == "all")
}

/// A two-way socket at `/_bao/ws/echo/{name}`: each message comes back
/// prefixed with the name.
#[bao::ws("echo")]
pub async fn echo(mut socket: bao::channels::Socket, id: String) -> bao::Result<()> {
    while let Some(text) = socket.recv().await {
        socket.send(format!("{id}: {text}")).await?;
    }
    Ok(())
}

#[bao::controller("/guestbook")]
impl Guestbook {
    /// Shows the form and the signatures, newest first, a page at a time.
    #[get("/")]
    async fn index(db: Db, query: Query<PageQuery>) -> bao::Result<View<GuestbookPage>> {
        let page = GuestbookPage::load(&db, query.page, SignForm::default(), Vec::new()).await?;
        Ok(View(page))
    }

    /// Signs the guestbook; invalid input is shown again with its errors.
    #[post("/")]
    async fn sign(req: HttpRequest, db: Db, form: Form<SignForm>) -> bao::Result<HttpResponse> {
        let form = form.into_inner();
        let errors = validate(&form);
        if !errors.is_empty() {
            let page = GuestbookPage::load(&db, None, form, errors).await?;
            // Through the request, so the form keeps this browser's CSRF token.
            return Ok(View(page).with_status(422).respond_to(&req));
        }
        let entry = NewEntry {
            name: form.name.trim().to_string(),
            message: form.message.trim().to_string(),
        };
        let thanks = format!("Thanks for signing, {}!", entry.name);
        let entry = Entry::create(&db, entry).await?;
        // Every open guestbook page (in any process) shows it at once.
        let item = View(EntryItem { entry }).render()?;
        bao::channels::publish_event(&db, "guestbook", "all", "entry", item).await?;
        Ok(Redirect::to("/guestbook")
            .flash("notice", thanks)
            .respond_to(&req))
    }
}
