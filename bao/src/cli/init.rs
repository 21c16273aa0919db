//! `bao init`: writes a new app that compiles, serves and passes its tests.

use super::{fail, InitArgs};
use bao_codegen::scaffold::{init_files, AppNames, BaoDependency};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) fn run(args: &InitArgs) -> ExitCode {
    let names = match AppNames::from_display(&args.name) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let root = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&names.package));
    if !args.force && is_non_empty_dir(&root) {
        return fail(format!(
            "`{}` exists and is not empty: choose another --path, or pass --force to write Bao's files into it",
            root.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(&root) {
        return fail(format!("cannot create `{}`: {e}", root.display()));
    }
    let bao = match dependency(args, &root) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let files = init_files(&names, &bao);
    for file in &files {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return fail(format!("cannot create `{}`: {e}", parent.display()));
            }
        }
        if let Err(e) = std::fs::write(&path, &file.contents) {
            return fail(format!("cannot write `{}`: {e}", path.display()));
        }
    }
    // A development secret of its own, so that sessions survive every
    // restart of `bao run`; `.env` is ignored by git and never overwritten.
    let env = root.join(".env");
    if !env.exists() {
        let contents = format!(
            "# Development settings of this checkout (not committed). Production sets its own.\nBAO_SECRET_KEY={}\n",
            crate::support::crypto::random_hex(32)
        );
        if let Err(e) = std::fs::write(&env, contents) {
            return fail(format!("cannot write `{}`: {e}", env.display()));
        }
    }
    println!("Created {} in {}/", names.display, root.display());
    for file in &files {
        println!("  {}", file.path);
    }
    println!(
        "\nNext:\n  cd {}\n  bao run      # http://127.0.0.1:8000\n  bao test",
        root.display()
    );
    ExitCode::SUCCESS
}

fn is_non_empty_dir(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => path.exists(),
    }
}

/// `to` as seen from `from` (both absolute): `../../bao`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    out
}

/// Where the new app gets `bao` from: the flag (written relative to the
/// app, so the pair can move together, e.g. an app inside a repository
/// that holds `bao`), or the checkout this CLI was built from, or the
/// registry version of this CLI.
fn dependency(args: &InitArgs, root: &Path) -> Result<BaoDependency, String> {
    if let Some(version) = &args.bao_version {
        return Ok(BaoDependency::Version(version.clone()));
    }
    if let Some(path) = &args.bao_path {
        let path = path
            .canonicalize()
            .map_err(|e| format!("--bao-path `{}`: {e}", path.display()))?;
        if !path.join("Cargo.toml").is_file() {
            return Err(format!(
                "--bao-path `{}` holds no Cargo.toml: point it at the `bao` crate's folder",
                path.display()
            ));
        }
        let app = root
            .canonicalize()
            .map_err(|e| format!("`{}`: {e}", root.display()))?;
        return Ok(BaoDependency::Path(
            relative(&app, &path).display().to_string(),
        ));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    if built_from.join("Cargo.toml").is_file() {
        return Ok(BaoDependency::Path(built_from.display().to_string()));
    }
    Ok(BaoDependency::Version(
        env!("CARGO_PKG_VERSION").to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::{Path, PathBuf};

    #[test]
    fn paths_are_written_relative_to_the_app() {
        assert_eq!(
            relative(
                Path::new("/work/repo/examples/app"),
                Path::new("/work/repo/bao")
            ),
            PathBuf::from("../../bao")
        );
        assert_eq!(
            relative(Path::new("/work/app"), Path::new("/work/app/vendor/bao")),
            PathBuf::from("vendor/bao")
        );
    }
}
