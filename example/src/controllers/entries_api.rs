//! The guestbook as a JSON API: `/api/v1/entries` lists (paginated, filtered
//! by name, sorted by id or name), creates, shows, updates and deletes
//! entries; `/openapi.json` describes it and `/docs` explores it.

use super::guestbook::Entry;

/// Guestbook entries over JSON.
#[bao::api("/api/v1/entries", model = Entry, filter(name), sort(id, name), per_page = 20, max_per_page = 100)]
pub struct EntriesApi;
