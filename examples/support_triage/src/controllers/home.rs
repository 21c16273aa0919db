//! The home page: where customers and operators start.

use bao::prelude::*;

/// Serves the site root.
pub struct Home;

/// The context of `views/home/index.html`.
#[bao::view("home/index.html")]
pub struct HomePage {
    pub signed_in: Option<String>,
}

#[bao::controller("/")]
impl Home {
    /// The welcome page.
    #[get("/")]
    async fn index(user: OptionalUser) -> View<HomePage> {
        View(HomePage {
            signed_in: user.0.map(|u| u.email),
        })
    }
}
