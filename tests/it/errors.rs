//! Invalid input, one mistake per fixture: exit 2, a located message with a
//! caret and a hint, and nothing written.

use std::fs;

use crate::support::{filter, gitopsc, repo_root, write_case};

#[test]
fn every_invalid_fixture_is_a_located_error_that_writes_nothing() {
    insta::glob!("../fixtures/invalid", "*.txtar", |path| {
        let case = fs::read_to_string(path).unwrap();
        let expected_kind = case
            .lines()
            .find_map(|l| l.strip_prefix("# kind: "))
            .unwrap_or_else(|| panic!("{} names its error kind", path.display()))
            .trim()
            .to_string();
        let dir = crate::support::tempdir();
        write_case(&case, dir.path());
        let rendered = dir.path().join("rendered");
        fs::create_dir_all(rendered.join("dev")).unwrap();
        fs::write(rendered.join("dev/keep.yaml"), "kept: true\n").unwrap();
        let run = gitopsc(&["render"], dir.path());
        assert_eq!(run.code, 2, "{}: exit code\n{}", path.display(), run.stderr);
        assert!(
            run.stdout.is_empty(),
            "{}: nothing printed to stdout",
            path.display()
        );
        assert!(
            run.stderr.starts_with(&format!("error[{expected_kind}]")),
            "{}: expected error[{expected_kind}], got:\n{}",
            path.display(),
            run.stderr
        );
        assert!(
            run.stderr.contains("-->"),
            "{}: names file, line and column",
            path.display()
        );
        assert!(
            run.stderr.contains("= help:"),
            "{}: gives a hint",
            path.display()
        );
        let left: Vec<_> = walkdir::WalkDir::new(&rendered)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().to_path_buf())
            .collect();
        assert_eq!(
            left,
            vec![rendered.join("dev/keep.yaml")],
            "{}: rendered/ untouched",
            path.display()
        );
        // A refused credential is named and located, never shown.
        if let Some(secret) = case.lines().find_map(|l| l.strip_prefix("# secret: ")) {
            assert!(
                !run.stderr.contains(secret.trim()),
                "{}: the message shows the secret:\n{}",
                path.display(),
                run.stderr
            );
        }
        insta::assert_snapshot!(filter(&run.stderr, &[dir.path()]));
    });
    let _ = repo_root();
}

#[test]
fn every_kind_of_input_error_has_a_fixture() {
    let dir = repo_root().join("tests/fixtures/invalid");
    let mut kinds = std::collections::BTreeSet::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        kinds.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("# kind: "))
                .map(str::to_string),
        );
    }
    use gitopsc::error::ErrorKind::*;
    // Io, Git and Usage errors come from the machine or the command line, not from a file.
    for kind in [
        Syntax,
        UnknownField,
        InvalidType,
        InvalidValue,
        UnknownReference,
        Cycle,
        Patch,
        Template,
        Include,
        Secret,
        Policy,
    ] {
        assert!(
            kinds.contains(kind.name()),
            "no fixture exercises `{}`",
            kind.name()
        );
    }
    assert!(kinds.len() >= 11 && fs::read_dir(&dir).unwrap().count() >= 40);
}

/// Environments resolve side by side before any compiles on, yet the error
/// reported is the first in name order: `a`'s patch (a late stage) before
/// `b`'s misspelled app (resolve), whichever finished first.
#[test]
fn the_first_environment_in_name_order_reports_its_error_whatever_the_stage() {
    use gitopsc::error::ErrorKind;
    use gitopsc::sources::Sources;
    let blueprint = "system: {name: demo}\nlayers: [apps]\nenvironments:\n  a: {}\n  b: {}\n\
                     apps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {http: 8080}\n";
    let late = "patches:\n  - target: {kind: Deployment, name: api}\n    ops:\n      - {op: replace, path: /metadata/name, value: other}\n";
    let early = "apps:\n  apu:\n    replicas: 2\n";
    let compile = |a: &str, b: &str| {
        let mut sources = Sources::new();
        sources.insert_text("blueprints/system.yaml", blueprint);
        sources.insert_text("overlays/a.yaml", a);
        sources.insert_text("overlays/b.yaml", b);
        gitopsc::compile(std::sync::Arc::new(sources), &gitopsc::EnvSelection::All)
            .expect_err("the project is in error")
    };
    let both = compile(late, early);
    assert_eq!(both.kind, ErrorKind::Patch, "{}", both.message);
    let file = |e: &gitopsc::error::Error| e.origin.as_ref().map(|o| o.file.clone());
    assert_eq!(file(&both).as_deref(), Some("overlays/a.yaml"));
    let only_b = compile("{}\n", early);
    assert_eq!(
        only_b.kind,
        ErrorKind::UnknownReference,
        "{}",
        only_b.message
    );
    assert_eq!(file(&only_b).as_deref(), Some("overlays/b.yaml"));
}
