//! The everyday commands through the real binary: check, diff, graph,
//! schema, init, completions.

use std::fs;

use crate::support::{
    copy_dir, copy_inputs, filter, git, gitopsc, gitopsc_env, projects, repo_root,
};

/// A temp copy of the repo's own project, rendered.
fn rendered_project() -> tempfile::TempDir {
    let dir = crate::support::tempdir();
    copy_inputs(&repo_root(), dir.path());
    copy_dir(&repo_root().join("rendered"), &dir.path().join("rendered"));
    dir
}

#[test]
fn check_is_quiet_when_fresh_and_names_stale_files() {
    let dir = rendered_project();
    let fresh = gitopsc(&["check"], dir.path());
    assert_eq!(
        (fresh.code, fresh.stdout.as_str()),
        (0, "rendered/ is up to date\n"),
        "{}",
        fresh.stderr
    );
    // Every environment by name: answered from the index like `All`, but this
    // in-process call keeps no stat cache, which would land in the user's cache
    // directory (the binary's goes under the target directory, see `support`).
    let every = gitopsc::EnvSelection::Only(vec!["dev".into(), "prod".into(), "staging".into()]);
    let answer = gitopsc::commands::check::staleness(dir.path(), &every).unwrap();
    assert!(
        answer.is_fresh() && !answer.rendered,
        "unchanged inputs are answered from the index, without a render"
    );

    let overlay = dir.path().join("overlays/staging.yaml");
    let text = fs::read_to_string(&overlay)
        .unwrap()
        .replace("api: {replicas: 2}", "api: {replicas: 3}");
    fs::write(&overlay, text).unwrap();
    let stale = gitopsc(&["check"], dir.path());
    assert_eq!(stale.code, 1);
    insta::assert_snapshot!("check_stale", stale.stdout);

    assert_eq!(gitopsc(&["render"], dir.path()).code, 0);
    assert_eq!(gitopsc(&["check"], dir.path()).code, 0);
    assert_eq!(
        gitopsc(&["check"], dir.path()).code,
        0,
        "the second check answers from stat alone"
    );

    // Hand edits of rendered files are caught from the index, without a render.
    let deployment = dir
        .path()
        .join("rendered/prod/apps/web/deployment-web.yaml");
    fs::write(
        &deployment,
        fs::read_to_string(&deployment)
            .unwrap()
            .replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 9"),
    )
    .unwrap();
    fs::remove_file(dir.path().join("rendered/dev/apps/web/service-web.yaml")).unwrap();
    let whole = gitopsc(&["check"], dir.path());
    assert_eq!(
        whole.code, 1,
        "a check cached as fresh still sees the edit: {}",
        whole.stdout
    );
    let edited = gitopsc(&["check", "--env", "prod", "--env", "dev"], dir.path());
    assert_eq!(edited.code, 1);
    insta::assert_snapshot!("check_hand_edited", edited.stdout);
}

#[test]
fn check_names_files_a_render_would_remove() {
    let dir = rendered_project();
    let blueprint = dir.path().join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    let start = text.find("  db-backup:\n").unwrap();
    fs::write(&blueprint, &text[..start]).unwrap();
    let overlay = dir.path().join("overlays/prod.yaml");
    let pinned = fs::read_to_string(&overlay).unwrap();
    let lines: Vec<&str> = pinned.split_inclusive('\n').collect();
    let at = lines.iter().position(|l| *l == "  db-backup:\n").unwrap();
    let kept: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at && *i != at + 1)
        .map(|(_, l)| *l)
        .collect();
    fs::write(&overlay, kept).unwrap();
    let stale = gitopsc(&["check", "--env", "dev"], dir.path());
    assert_eq!(stale.code, 1);
    assert!(
        stale
            .stdout
            .contains("  extra    rendered/dev/data/db-backup/cronjob-db-backup.yaml\n"),
        "{}",
        stale.stdout
    );
    assert_eq!(gitopsc(&["render"], dir.path()).code, 0);
    assert!(
        !dir.path().join("rendered/dev/data/db-backup").exists(),
        "a removed app's files are gone"
    );
    assert_eq!(gitopsc(&["check"], dir.path()).code, 0);
}

#[test]
fn check_fails_with_exit_2_on_bad_input() {
    let dir = rendered_project();
    fs::write(
        dir.path().join("overlays/dev.yaml"),
        "apps: {api: {replicas: many}}\n",
    )
    .unwrap();
    let run = gitopsc(&["check"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("overlays/dev.yaml:1:"),
        "{}",
        run.stderr
    );
}

/// A git repository holding a fresh starter project, committed.
fn starter_repo() -> tempfile::TempDir {
    let dir = crate::support::tempdir();
    let run = gitopsc(&["init", "--name", "shop", "."], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    dir
}

#[test]
fn diff_previews_the_working_tree_and_compares_revisions() {
    let dir = starter_repo();
    let clean = gitopsc(&["diff"], dir.path());
    assert_eq!(
        (clean.code, clean.stdout.as_str()),
        (0, "no changes\n"),
        "{}",
        clean.stderr
    );

    let overlay = dir.path().join("overlays/prod.yaml");
    fs::write(
        &overlay,
        fs::read_to_string(&overlay)
            .unwrap()
            .replace("replicas: 2", "replicas: 4"),
    )
    .unwrap();
    let blueprint = dir.path().join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap().replace(
        "layers: [apps]",
        "layers: [apps]\n\nsecretStores:\n  vault: {}",
    );
    let text = text.replace(
        "    ports: {http: 8080}\n",
        "    ports: {http: 8080}\n    secrets: {API_TOKEN: \"vault:shop/web#token\"}\n",
    );
    fs::write(&blueprint, text).unwrap();

    let working = gitopsc(&["diff"], dir.path());
    assert_eq!(working.code, 1, "{}", working.stderr);
    insta::assert_snapshot!("diff_text", working.stdout);
    let only_prod = gitopsc(
        &["diff", "--env", "prod", "--format", "markdown"],
        dir.path(),
    );
    assert_eq!(only_prod.code, 1);
    insta::assert_snapshot!("diff_markdown_prod", only_prod.stdout);
    let json = gitopsc(&["diff", "--format", "json"], dir.path());
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed["changed"], true);
    assert_eq!(parsed["environments"].as_array().unwrap().len(), 3);

    git(
        dir.path(),
        &["commit", "-q", "-am", "more replicas, a secret"],
    );
    let revisions = gitopsc(&["diff", "--base", "HEAD~1", "--head", "HEAD"], dir.path());
    assert_eq!(revisions.code, 1);
    assert_eq!(
        revisions.stdout, working.stdout,
        "the same change, read from git objects"
    );
    let same = gitopsc(&["diff", "--base", "HEAD"], dir.path());
    assert_eq!((same.code, same.stdout.as_str()), (0, "no changes\n"));
    let bad = gitopsc(&["diff", "--base", "no-such-rev"], dir.path());
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no-such-rev"), "{}", bad.stderr);
}

#[test]
fn init_writes_a_project_that_passes_check() {
    let dir = crate::support::tempdir();
    let run = gitopsc(&["init", "new-project"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let project = dir.path().join("new-project");
    let check = gitopsc(&["check"], &project);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let blueprint = fs::read_to_string(project.join("blueprints/system.yaml")).unwrap();
    assert!(blueprint.starts_with("# yaml-language-server: $schema=.schema/blueprint.json\n"));
    assert!(blueprint.contains("name: new-project"));
    assert!(
        project
            .join("rendered/prod/gitops/kustomization.yaml")
            .exists()
    );
    let again = gitopsc(&["init", "new-project"], dir.path());
    assert_eq!(again.code, 2, "an existing blueprint is never overwritten");
    insta::assert_snapshot!("init_twice", filter(&again.stderr, &[dir.path()]));
}

#[test]
fn committed_editor_schemas_are_current() {
    let blueprint = gitopsc(&["schema"], &repo_root());
    let overlay = gitopsc(&["schema", "--kind", "overlay"], &repo_root());
    for (name, path) in projects() {
        let dir = path.join("blueprints/.schema");
        assert_eq!(
            fs::read_to_string(dir.join("blueprint.json")).unwrap(),
            blueprint.stdout,
            "{name}: run `gitopsc schema`"
        );
        assert_eq!(
            fs::read_to_string(dir.join("overlay.json")).unwrap(),
            overlay.stdout,
            "{name}: run `gitopsc schema --kind overlay`"
        );
    }
}

#[test]
fn the_readme_shows_the_current_graph() {
    let run = gitopsc(&["graph", "--env", "prod"], &repo_root());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```mermaid\n{}```", run.stdout)),
        "README's graph is stale: paste `gitopsc graph --env prod`"
    );
    let dot = gitopsc(&["graph", "--env", "prod", "--format", "dot"], &repo_root());
    assert!(
        dot.stdout
            .contains("\"api\" -> \"pgbouncer\" [label=\"uses\"];"),
        "{}",
        dot.stdout
    );
    let unknown = gitopsc(&["graph", "--env", "prd"], &repo_root());
    assert_eq!(unknown.code, 2, "{}", unknown.stdout);
    assert!(
        unknown.stderr.contains("did you mean `prod`"),
        "{}",
        unknown.stderr
    );
}

/// Runs bash with `gitopsc completions bash` sourced and presses TAB after
/// `words` (the last one being completed), the way bash's programmable
/// completion calls the function it registered; prints COMPREPLY a line each.
fn bash_complete(words: &[&str], cwd: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_gitopsc"))
        .parent()
        .unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <(gitopsc completions bash)\n\
         COMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_TYPE=9\n\
         _clap_complete_gitopsc gitopsc {} {}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" "),
        words.len() - 1,
        quoted[words.len() - 1],
        quoted[words.len() - 2],
    );
    let mut cmd = std::process::Command::new("bash");
    crate::support::hermetic(&mut cmd);
    cmd.args(["--norc", "--noprofile", "-c", &script])
        .current_dir(cwd)
        .env_remove("GITOPSC_ROOT")
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn env_completes_to_the_projects_environment_names_in_bash() {
    let root = repo_root();
    let maya = root.join("examples/maya");
    let names = |words: &[&str], cwd: &std::path::Path| bash_complete(words, cwd, &[]);
    assert_eq!(
        names(&["gitopsc", "render", "--env", ""], &root),
        ["dev", "prod", "staging"]
    );
    assert_eq!(
        names(&["gitopsc", "check", "--env", "st"], &root),
        ["staging"]
    );
    let elsewhere = crate::support::tempdir();
    let maya_root = maya.display().to_string();
    assert_eq!(
        names(
            &["gitopsc", "diff", "--root", &maya_root, "--env", "p"],
            elsewhere.path()
        ),
        ["prod"],
        "the project named by --root"
    );
    assert_eq!(
        bash_complete(
            &["gitopsc", "graph", "--env", ""],
            elsewhere.path(),
            &[("GITOPSC_ROOT", &maya_root)]
        ),
        ["dev", "prod", "staging"],
        "or by GITOPSC_ROOT"
    );
    assert!(
        names(&["gitopsc", "render", "--env", ""], elsewhere.path()).is_empty(),
        "no blueprint, no names (and no file names either)"
    );
    assert!(names(&["gitopsc", "pub"], &root).contains(&"publish".to_string()));
}

/// zsh's and fish's registered functions call the binary the same way with
/// their own variables (clap_complete's `env` shells); their answers, through it.
#[test]
fn env_completes_in_zsh_and_fish_too() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = gitopsc(&["completions", shell], &repo_root());
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        assert!(
            script.stdout.contains("COMPLETE"),
            "{shell}: {}",
            script.stdout
        );
    }
    let words = ["--", "gitopsc", "render", "--env", "d"];
    let zsh = gitopsc_env(
        &words,
        &repo_root(),
        &[("COMPLETE", "zsh"), ("_CLAP_COMPLETE_INDEX", "3")],
    );
    assert_eq!(
        (zsh.code, zsh.stdout.as_str()),
        (0, "dev"),
        "{}",
        zsh.stderr
    );
    let fish = gitopsc_env(&words, &repo_root(), &[("COMPLETE", "fish")]);
    assert_eq!(
        (fish.code, fish.stdout.trim_end()),
        (0, "dev"),
        "{}",
        fish.stderr
    );
}

/// Colour as no-color.org and FORCE_COLOR / CLICOLOR_FORCE say: an empty
/// `NO_COLOR` is no request, a forcing variable colours even a pipe.
#[test]
fn diff_colour_follows_no_color_and_force_color() {
    let dir = starter_repo();
    let overlay = dir.path().join("overlays/prod.yaml");
    let text = fs::read_to_string(&overlay)
        .unwrap()
        .replace("replicas: 2", "replicas: 4");
    fs::write(&overlay, text).unwrap();
    let run = |env: &[(&str, &str)]| crate::support::gitopsc_env(&["diff"], dir.path(), env).stdout;
    // The suite sets NO_COLOR=1 for every run; each case says what it needs.
    assert!(
        run(&[("NO_COLOR", ""), ("FORCE_COLOR", "1")]).contains('\u{1b}'),
        "forced"
    );
    assert!(
        run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]).contains('\u{1b}'),
        "empty NO_COLOR is unset"
    );
    assert!(
        !run(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")]).contains('\u{1b}'),
        "NO_COLOR wins"
    );
    assert!(
        !run(&[("FORCE_COLOR", "0")]).contains('\u{1b}'),
        "a pipe, not forced"
    );
}
