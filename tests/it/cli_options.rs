//! The options that fit gitopsc into daily work, through the real binary:
//! finding the project from a subdirectory, `check --quiet` and `--format
//! json`, `graph` over every environment, `--color`, the shallow-clone hint
//! of `diff --base`, and the markdown diff folding what environments share.

use std::fs;

use gitopsc::discovery::levels_up_to_project;

use crate::support::{copy_dir, copy_inputs, git, gitopsc, gitopsc_env, repo_root, write_case};

fn rendered_copy_of_this_repo() -> tempfile::TempDir {
    let dir = crate::support::tempdir();
    copy_inputs(&repo_root(), dir.path());
    copy_dir(&repo_root().join("rendered"), &dir.path().join("rendered"));
    dir
}

#[test]
fn discovery_walks_up_to_the_nearest_project_and_no_further() {
    let dir = crate::support::tempdir();
    for sub in [
        "p/blueprints",
        "p/overlays/deep",
        "p/inner/blueprints",
        "p/vendored/.git",
        "p/vendored/sub",
        "p/ceiled/sub",
    ] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let p = dir.path().join("p");
    let ceiling = [dir.path().to_path_buf()];
    assert_eq!(levels_up_to_project(&p, &ceiling), Some(0));
    assert_eq!(
        levels_up_to_project(&p.join("overlays/deep"), &ceiling),
        Some(2)
    );
    assert_eq!(
        levels_up_to_project(&p.join("inner/blueprints"), &ceiling),
        Some(1),
        "the nearest project wins, as the nearest Cargo.toml does"
    );
    assert_eq!(
        levels_up_to_project(&p.join("vendored/sub"), &ceiling),
        None,
        "a directory holding `.git` is a repository boundary"
    );
    assert_eq!(
        levels_up_to_project(&p.join("ceiled/sub"), &[p.join("ceiled")]),
        None,
        "a GIT_CEILING_DIRECTORIES entry is not entered"
    );
}

#[test]
fn every_command_finds_the_project_from_a_subdirectory() {
    let dir = rendered_copy_of_this_repo();
    let deep = dir.path().join("rendered/prod/apps");
    let check = gitopsc(&["check"], &deep);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (0, "rendered/ is up to date\n"),
        "{}",
        check.stderr
    );
    let render = gitopsc(&["render", "--env", "dev"], &dir.path().join("overlays"));
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(
        render.stdout.contains("into ../rendered"),
        "{}",
        render.stdout
    );
    let graph = gitopsc(&["graph", "--env", "prod"], &dir.path().join("blueprints"));
    assert_eq!(graph.code, 0, "{}", graph.stderr);

    // `--root` still wins over what discovery would find.
    let other = crate::support::tempdir();
    let elsewhere = gitopsc(
        &["check", "--root", &other.path().display().to_string()],
        &deep,
    );
    assert_eq!(elsewhere.code, 2);
    assert!(
        elsewhere.stderr.contains("no blueprint found"),
        "{}",
        elsewhere.stderr
    );
    // Outside any project the error is the one it always was.
    let none = gitopsc(&["check"], other.path());
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no blueprint found"),
        "{}",
        none.stderr
    );
}

#[test]
fn check_and_render_work_on_the_projects_holding_the_given_files() {
    let repo = crate::support::tempdir();
    assert_eq!(
        gitopsc(&["init", "--name", "top", "."], repo.path()).code,
        0
    );
    assert_eq!(
        gitopsc(&["init", "--name", "ops", "deploy"], repo.path()).code,
        0
    );
    let nested = repo.path().join("deploy/overlays/prod.yaml");
    let text = fs::read_to_string(&nested).unwrap();
    fs::write(&nested, text.replace("replicas: 2", "replicas: 3")).unwrap();
    let one = gitopsc(&["check", "deploy/overlays/prod.yaml"], repo.path());
    assert_eq!(one.code, 1, "{}", one.stderr);
    assert!(
        one.stdout
            .contains("run `gitopsc render --root deploy` to update it"),
        "{}",
        one.stdout
    );
    assert!(
        !one.stdout.contains("project "),
        "one project needs no heading"
    );
    let both = gitopsc(
        &[
            "check",
            "blueprints/system.yaml",
            "deploy/rendered/dev/kustomization.yaml",
            "deploy/overlays/gone.yaml",
        ],
        repo.path(),
    );
    assert_eq!(both.code, 1);
    insta::assert_snapshot!("check_two_projects", both.stdout);
    let elsewhere = crate::support::tempdir();
    let none = gitopsc(&["check", "README.md"], elsewhere.path());
    assert_eq!(
        (none.code, none.stdout.as_str()),
        (0, "no gitopsc project holds the given paths\n"),
        "{}",
        none.stderr
    );
    let root_wins = gitopsc(
        &["check", "--root", ".", "deploy/overlays/prod.yaml"],
        repo.path(),
    );
    assert_eq!(
        root_wins.code, 0,
        "--root names the project; the paths are ignored"
    );
    let json = gitopsc(
        &[
            "check",
            "--format",
            "json",
            "blueprints",
            "deploy/blueprints",
        ],
        repo.path(),
    );
    assert_eq!(json.code, 2, "one JSON report, one project");

    let render = gitopsc(&["render", "deploy/overlays/prod.yaml"], repo.path());
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(
        render.stdout.contains("into deploy/rendered"),
        "{}",
        render.stdout
    );
    assert_eq!(
        gitopsc(&["check", "deploy/blueprints", "blueprints"], repo.path()).code,
        0
    );
}

#[test]
fn check_quiet_prints_nothing_and_json_names_each_environment() {
    let dir = rendered_copy_of_this_repo();
    let quiet = gitopsc(&["check", "--quiet"], dir.path());
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""));
    let fresh = gitopsc(&["check", "--format", "json"], dir.path());
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let parsed: serde_json::Value = serde_json::from_str(&fresh.stdout).unwrap();
    assert_eq!(parsed["status"], "ok");
    let names: Vec<&str> = parsed["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "staging", "prod"], "promotion order");

    let deployment = dir
        .path()
        .join("rendered/prod/apps/web/deployment-web.yaml");
    let text = fs::read_to_string(&deployment).unwrap();
    fs::write(
        &deployment,
        text.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 30"),
    )
    .unwrap();
    let quiet = gitopsc(&["check", "-q"], dir.path());
    assert_eq!((quiet.code, quiet.stdout.as_str()), (1, ""));
    let stale = gitopsc(&["check", "--format", "json"], dir.path());
    assert_eq!(stale.code, 1);
    insta::assert_snapshot!("check_json_hand_edited", stale.stdout);
    let both = gitopsc(&["check", "--quiet", "--format", "json"], dir.path());
    assert_eq!(both.code, 2, "quiet and a format contradict each other");
}

#[test]
fn graph_draws_every_environment_unless_one_is_named() {
    let all = gitopsc(&["graph"], &repo_root());
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert!(
        all.stdout
            .starts_with("%% gitopsc graph of neotool in dev, staging, prod\nflowchart LR\n"),
        "{}",
        all.stdout
    );
    for env in ["dev", "staging", "prod"] {
        assert!(
            all.stdout
                .contains(&format!("  subgraph env_{env}[\"{env}\"]\n"))
        );
        assert!(
            all.stdout
                .contains(&format!("    {env}__api -->|uses| {env}__pgbouncer\n"))
        );
    }
    let dot = gitopsc(&["graph", "--format", "dot"], &repo_root());
    assert!(
        dot.stdout
            .contains("    \"prod/api\" -> \"prod/pgbouncer\" [label=\"uses\"];\n")
    );
    assert!(dot.stdout.ends_with("  }\n}\n"), "{}", dot.stdout);
    let two = gitopsc(&["graph", "--env", "prod", "--env", "dev"], &repo_root());
    assert_eq!(two.code, 0);
    assert!(
        two.stdout
            .starts_with("%% gitopsc graph of neotool in dev, prod\n")
    );
    let one = gitopsc(&["graph", "--env", "prod"], &repo_root());
    assert!(
        one.stdout
            .starts_with("%% gitopsc graph of neotool in prod\n")
    );
    assert!(
        !one.stdout.contains("subgraph env_"),
        "one environment draws alone"
    );
}

#[test]
fn color_flag_overrides_the_environment() {
    let dir = crate::support::tempdir();
    assert_eq!(
        gitopsc(&["init", "--name", "shop", "."], dir.path()).code,
        0
    );
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    let overlay = dir.path().join("overlays/prod.yaml");
    let text = fs::read_to_string(&overlay)
        .unwrap()
        .replace("replicas: 2", "replicas: 4");
    fs::write(&overlay, text).unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| gitopsc_env(args, dir.path(), env).stdout;
    assert!(run(&["diff", "--color", "always"], &[("NO_COLOR", "1")]).contains('\u{1b}'));
    assert!(
        !run(
            &["--color", "never", "diff"],
            &[("FORCE_COLOR", "1"), ("NO_COLOR", "")]
        )
        .contains('\u{1b}')
    );
    assert!(
        run(
            &["diff", "--color", "auto"],
            &[("FORCE_COLOR", "1"), ("NO_COLOR", "")]
        )
        .contains('\u{1b}'),
        "auto defers to the variables"
    );
    let bad = gitopsc(&["diff", "--color", "sometimes"], dir.path());
    assert_eq!(bad.code, 2);
}

#[test]
fn diff_base_in_a_shallow_clone_says_to_fetch_the_history() {
    let origin = crate::support::tempdir();
    assert_eq!(
        gitopsc(&["init", "--name", "shop", "."], origin.path()).code,
        0
    );
    git(origin.path(), &["init", "-q", "-b", "main"]);
    git(origin.path(), &["add", "-A"]);
    git(origin.path(), &["commit", "-q", "-m", "start"]);
    git(
        origin.path(),
        &["commit", "-q", "--allow-empty", "-m", "second"],
    );
    let clones = crate::support::tempdir();
    let url = format!("file://{}", origin.path().display());
    git(
        clones.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let shallow = clones.path().join("shallow");
    let run = gitopsc(&["diff", "--base", "HEAD~1"], &shallow);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("cannot resolve revision `HEAD~1`"),
        "{}",
        run.stderr
    );
    // actions/checkout fetches one commit unless told `fetch-depth: 0`:
    // https://github.com/actions/checkout#fetch-all-history-for-all-tags-and-branches
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    let full = clones.path().join("full");
    git(clones.path(), &["clone", "-q", &url, "full"]);
    let deep = gitopsc(&["diff", "--base", "no-such-rev"], &full);
    assert_eq!(deep.code, 2);
    assert!(
        !deep.stderr.contains("fetch-depth"),
        "a full clone gets no such hint"
    );
}

/// Two apps whose environments differ around the image line (`STAGE`), and
/// an image per environment for `web`.
fn two_apps(tag: &str) -> String {
    format!(
        "-- blueprints/system.yaml --\nsystem: {{name: demo}}\nlayers: [apps]\nenvironments: {{dev: {{}}, staging: {{}}, prod: {{}}}}\napps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:{tag}\n    ports: {{http: 8080}}\n    env: {{STAGE: \"{{{{ env.name }}}}\"}}\n  web:\n    layer: apps\n    image: ghcr.io/acme/web:1.0.0\n    ports: {{http: 8080}}\n    env: {{STAGE: \"{{{{ env.name }}}}\"}}\n-- overlays/prod.yaml --\napps: {{web: {{image: ghcr.io/acme/web:2.0.0}}}}\n"
    )
}

#[test]
fn markdown_diff_shows_a_change_shared_by_environments_once() {
    let dir = crate::support::tempdir();
    write_case(&two_apps("1.0.0"), dir.path());
    assert_eq!(gitopsc(&["render"], dir.path()).code, 0);
    write_case(&two_apps("1.1.0"), dir.path());
    let overlay = dir.path().join("overlays/staging.yaml");
    fs::write(&overlay, "apps: {web: {image: ghcr.io/acme/web:1.5.0}}\n").unwrap();
    let run = gitopsc(&["diff", "--format", "markdown"], dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout
            .matches("**changed** `Deployment/apps/api`")
            .count(),
        1,
        "the api bump is identical in every environment: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("<b>dev, staging, prod</b>: the same 0 added, 1 changed, 0 removed in each")
    );
    insta::assert_snapshot!("diff_markdown_folded", run.stdout);
}
