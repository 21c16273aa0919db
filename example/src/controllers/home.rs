//! The home page.

use bao::prelude::*;

/// Serves the site root.
pub struct Home;

/// The context of `views/home/index.html`.
#[bao::view("home/index.html")]
pub struct HomePage {
    pub title: &'static str,
}

#[bao::controller("/")]
impl Home {
    /// The welcome page.
    #[get("/")]
    async fn index() -> View<HomePage> {
        View(HomePage {
            title: "Welcome to Bao",
        })
    }
}
