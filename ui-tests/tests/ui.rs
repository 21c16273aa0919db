use std::path::PathBuf;

/// trybuild compiles each case in its own crate under
/// `<target>/tests/trybuild/ui-tests`, where askama looks for templates in
/// `templates/`; copy this crate's `views/` there so cases can use views.
fn install_views() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                manifest.join("..").join(t)
            }
        })
        .unwrap_or_else(|| manifest.join("../target"));
    let dest = target.join("tests/trybuild/ui-tests/templates");
    std::fs::create_dir_all(&dest).expect("create the trybuild templates folder");
    for entry in std::fs::read_dir(manifest.join("views")).expect("ui-tests/views exists") {
        let path = entry.expect("readable views folder").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, dest.join(name)).expect("copy a view");
    }
}

#[test]
fn ui() {
    install_views();
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*/*.rs");
}
