//! The installed `bao` command: `cargo install --path bao`.

fn main() -> std::process::ExitCode {
    bao::cli::installed_main()
}
