//! The tutorial app's binary: `cargo run -p example -- serve`.

fn main() -> std::process::ExitCode {
    bao::cli::main(example::app())
}
