//! The guestbook as a JSON API: `/api/v1/entries` lists (paginated, filtered
//! by name, sorted by id or name), shows and creates entries, like the page
//! (anyone may sign; nobody may change or delete what others wrote);
//! `/openapi.json` describes it and `/docs` explores it.

use super::guestbook::Entry;

/// Guestbook entries over JSON.
#[bao::api("/api/v1/entries", model = Entry, only(index, show, create), filter(name), sort(id, name), per_page = 20, max_per_page = 100)]
pub struct EntriesApi;
