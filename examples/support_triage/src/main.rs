//! The Support Triage binary: `serve`, `routes`, `describe`, `config`, ...
//! (`bao` forwards app commands here; run `cargo run -- --help` to see them).

fn main() -> std::process::ExitCode {
    bao::cli::main(support_triage::app())
}
