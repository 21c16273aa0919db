//! Attribute macros of the Bao web framework. Each is a shim over `bao-codegen`;
//! use them through the `bao` crate (`#[bao::controller]`, `bao::app!`, ...).

use proc_macro::TokenStream;

/// Turns an `impl` block into a controller: `#[get("/")]`, `#[post("/{id}")]`, ...
/// on its `async fn`s become routes under the base path.
#[proc_macro_attribute]
pub fn controller(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::controller::expand(args.into(), item.into()).into()
}

/// Serves a model as a JSON resource: `#[bao::api("/api/v1/notes", model = Note)] pub struct NotesApi;`.
#[proc_macro_attribute]
pub fn api(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::api::expand(args.into(), item.into()).into()
}

/// A durable workflow: `#[bao::workflow(retries = 3)] async fn onboard(ctx: WorkflowCtx, input: Signup) -> bao::Result<Welcome>`.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::workflow::expand(args.into(), item.into()).into()
}

/// An AI agent: `#[bao::agent(name = "research", max_steps = 10)] impl ResearchBot { #[tool] async fn search(&self, q: String) -> bao::Result<String> { .. } }`.
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::agent::expand(args.into(), item.into()).into()
}

/// `#[tool]` marks a method of a `#[bao::agent]` impl block as a tool; on
/// its own it is an error that says so.
#[proc_macro_attribute]
pub fn tool(_args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::agent::stray_tool(item.into()).into()
}

/// Decides who may listen to a channel kind: `#[bao::channel("orders")]` on
/// `async fn may_watch(user: CurrentUser, id: i64, db: Db) -> bao::Result<bool>`,
/// listed in `bao::app! { channels: [may_watch] }`.
#[proc_macro_attribute]
pub fn channel(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::channel::expand(
        bao_codegen::channel::Flavor::Authorize,
        args.into(),
        item.into(),
    )
    .into()
}

/// A two-way WebSocket at `/_bao/ws/{kind}/{id}`: `#[bao::ws("echo")]` on
/// `async fn echo(socket: bao::channels::Socket, id: String) -> bao::Result<()>`,
/// listed in `bao::app! { channels: [echo] }`.
#[proc_macro_attribute]
pub fn ws(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::channel::expand(
        bao_codegen::channel::Flavor::Socket,
        args.into(),
        item.into(),
    )
    .into()
}

/// A durable background task: `#[bao::task(retries = 3)] async fn send_receipt(order_id: i64) -> bao::Result<()>`.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::task::expand(args.into(), item.into()).into()
}

/// A recurring schedule: `#[bao::every("30s")] async fn heartbeat(ctx: TaskCtx)`,
/// `#[bao::every("monday at 9am")]`, `#[bao::every(cron = "0 */5 * * * *", tz = "Europe/Paris")]`.
#[proc_macro_attribute]
pub fn every(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::schedule::expand(args.into(), item.into()).into()
}

/// Retries an async function that returns a `Result`:
/// `#[bao::retry(attempts = 3, backoff = "500ms")]`.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::retry::expand(args.into(), item.into()).into()
}

/// Assembles an app from its parts: `bao::app! { controllers: [Home] }`.
#[proc_macro]
pub fn app(input: TokenStream) -> TokenStream {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let mut layout = bao_codegen::app::AppLayout {
        has_askama_config: root
            .as_ref()
            .is_some_and(|r| r.join("askama.toml").is_file()),
        has_error_template: root
            .as_ref()
            .is_some_and(|r| r.join("views").join("error.html").is_file()),
        ..Default::default()
    };
    if let Some(entries) = root.and_then(|r| std::fs::read_dir(r.join("views").join("admin")).ok())
    {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_file() && name.ends_with(".html") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                layout.admin_templates.push((name, text));
            }
        }
        layout.admin_templates.sort();
    }
    bao_codegen::app::expand(input.into(), &layout).into()
}

/// Makes a struct the typed context of a template under `views/`.
#[proc_macro_attribute]
pub fn view(args: TokenStream, item: TokenStream) -> TokenStream {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let layout = bao_codegen::view::CrateLayout {
        has_views_dir: root.as_ref().is_some_and(|r| r.join("views").is_dir()),
        has_askama_config: root
            .as_ref()
            .is_some_and(|r| r.join("askama.toml").is_file()),
        template_dirs: root
            .iter()
            .flat_map(|r| [r.join("views"), r.join("templates")])
            .filter(|d| d.is_dir())
            .collect(),
    };
    bao_codegen::view::expand(args.into(), item.into(), layout).into()
}

/// Runs an `async fn` test on Bao's runtime.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    bao_codegen::test_attr::expand(args.into(), item.into()).into()
}

/// Maps a struct to a database table: `#[bao::model(table = "posts")]`.
#[proc_macro_attribute]
pub fn model(args: TokenStream, item: TokenStream) -> TokenStream {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").and_then(|dir| {
        std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml")).ok()
    });
    let layout = bao_codegen::model::CrateLayout {
        has_diesel: manifest.is_none_or(|m| bao_codegen::model::manifest_depends_on(&m, "diesel")),
    };
    bao_codegen::model::expand(args.into(), item.into(), layout).into()
}

/// Stores an enum of unit variants as text: `#[derive(bao::TextEnum)]`, then
/// `#[text_enum]` on the model field.
#[proc_macro_derive(TextEnum)]
pub fn text_enum(input: TokenStream) -> TokenStream {
    bao_codegen::text_enum::expand(input.into()).into()
}
