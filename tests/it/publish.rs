//! `gitopsc publish` against real repositories: bare remotes over file://,
//! checked with the git CLI (log, show --stat, fsck --strict).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{git, gitopsc_env};

const AUTHOR: [(&str, &str); 2] = [
    ("GIT_AUTHOR_NAME", "Publisher"),
    ("GIT_AUTHOR_EMAIL", "publisher@example.com"),
];

/// A project repository (the starter, with a second app) and an empty bare remote.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = crate::support::tempdir();
        let project = dir.path().join("project");
        fs::create_dir_all(&project).unwrap();
        let run = gitopsc_env(&["init", "--name", "shop", "."], &project, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let blueprint = project.join("blueprints/system.yaml");
        let mut text = fs::read_to_string(&blueprint).unwrap();
        text.push_str("  api:\n    layer: apps\n    image: ghcr.io/shop/api:1.0.0\n    ports: {http: 8080}\n    replicas: 2\n    probes: {readiness: {http: /ready}, liveness: {http: /live}}\n");
        fs::write(&blueprint, text).unwrap();
        assert_eq!(gitopsc_env(&["render"], &project, &[]).code, 0);
        git(&project, &["init", "-q"]);
        git(&project, &["add", "-A"]);
        git(&project, &["commit", "-q", "-m", "Start the shop"]);
        git(dir.path(), &["init", "-q", "--bare", "remote.git"]);
        Setup { dir }
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote().display())
    }

    fn publish(&self, extra: &[&str]) -> crate::support::Run {
        self.publish_with_cache(extra, &self.dir.path().join("cache"))
    }

    fn publish_with_cache(&self, extra: &[&str], cache: &Path) -> crate::support::Run {
        let url = self.url();
        let cache = cache.display().to_string();
        let mut args = vec!["publish", "--repo", url.as_str(), "--cache", cache.as_str()];
        args.extend_from_slice(extra);
        gitopsc_env(&args, &self.project(), &AUTHOR)
    }

    /// A clone of the remote with one commit on `main`, pushed: a local target.
    fn local_target(&self) -> PathBuf {
        let local = self.dir.path().join("gitops");
        git(self.dir.path(), &["clone", "-q", &self.url(), "gitops"]);
        git(&local, &["commit", "-q", "--allow-empty", "-m", "Initial"]);
        git(&local, &["push", "-q", "origin", "HEAD:main"]);
        local
    }

    fn commit_change(&self, file: &str, from: &str, to: &str, message: &str) -> String {
        let path = self.project().join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} contains {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        git(&self.project(), &["commit", "-q", "-am", message]);
        git(&self.project(), &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }
}

fn fsck(remote: &Path) {
    git(remote, &["fsck", "--strict", "--no-dangling"]);
}

#[test]
fn publishing_twice_makes_one_commit_with_provenance() {
    let s = Setup::new();
    let first = s.publish(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .starts_with("published dev, prod, staging to `main`"),
        "{}",
        first.stdout
    );
    let again = s.publish(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.starts_with("nothing to publish"),
        "{}",
        again.stdout
    );
    assert_eq!(
        git(&s.remote(), &["rev-list", "--count", "main"]).trim(),
        "1"
    );
    fsck(&s.remote());

    let source = git(&s.project(), &["rev-parse", "HEAD"]).trim().to_string();
    let message = git(&s.remote(), &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with(&format!(
            "gitopsc: render {} of Start the shop\n",
            &source[..12]
        )),
        "{message}"
    );
    assert!(
        // The 18th: the policy that lets the ingress controller reach `web`.
        message.contains("\nprod: 18 added, 0 changed, 0 removed\n"),
        "{message}"
    );
    assert!(
        message.contains(&format!("Source-Commit: {source}\n")),
        "{message}"
    );
    let trailers = git(
        &s.remote(),
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Source-Commit,valueonly)",
            "main",
        ],
    );
    assert_eq!(trailers.trim(), source, "git reads the trailers");
    assert_eq!(
        git(&s.remote(), &["log", "-1", "--format=%an <%ae>", "main"]).trim(),
        "Publisher <publisher@example.com>"
    );

    let stat = git(&s.remote(), &["show", "--stat", "--format=", "main"]);
    assert!(
        stat.contains("clusters/prod/apps/api/deployment-api.yaml"),
        "{stat}"
    );
    let metadata: serde_json::Value = serde_json::from_str(&git(
        &s.remote(),
        &["show", "main:clusters/prod/hydrator.metadata"],
    ))
    .unwrap();
    assert_eq!(metadata["drySha"], source.as_str());
    assert_eq!(metadata["subject"], "Start the shop");
    assert_eq!(metadata["author"], "Dev <dev@example.com>");
    let rendered = fs::read_to_string(
        s.project()
            .join("rendered/prod/apps/api/deployment-api.yaml"),
    )
    .unwrap();
    assert_eq!(
        git(
            &s.remote(),
            &["show", "main:clusters/prod/apps/api/deployment-api.yaml"]
        ),
        rendered,
        "exactly the rendered bytes"
    );
}

#[test]
fn removed_files_go_and_unrelated_files_stay() {
    let s = Setup::new();
    // Someone else's files in the GitOps repo: beside the owned path, and at the top.
    let work = s.dir.path().join("work");
    git(s.dir.path(), &["clone", "-q", &s.url(), "work"]);
    fs::create_dir_all(work.join("platform")).unwrap();
    fs::write(work.join("README.md"), "GitOps repo\n").unwrap();
    fs::write(work.join("platform/cluster.yaml"), "kind: Unrelated\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "Hand-written files"]);
    git(&work, &["push", "-q", "origin", "HEAD:main"]);

    assert_eq!(s.publish(&[]).code, 0);
    let blueprint = s.project().join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    let api = text.find("  api:\n").unwrap();
    fs::write(&blueprint, &text[..api]).unwrap();
    git(&s.project(), &["commit", "-q", "-am", "Retire the api"]);
    let run = s.publish(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let files = git(&s.remote(), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(
        !files.contains("apps/api/"),
        "the removed app's files are gone:\n{files}"
    );
    assert!(files.contains("clusters/prod/apps/web/deployment-web.yaml"));
    assert_eq!(
        git(&s.remote(), &["show", "main:README.md"]),
        "GitOps repo\n"
    );
    assert_eq!(
        git(&s.remote(), &["show", "main:platform/cluster.yaml"]),
        "kind: Unrelated\n"
    );
    let stat = git(&s.remote(), &["show", "--stat", "--format=%B", "main"]);
    assert!(
        stat.contains("prod: 0 added, 0 changed, 5 removed"),
        "{stat}"
    );
    assert!(
        stat.contains("clusters/prod/apps/api/deployment-api.yaml"),
        "{stat}"
    );
    assert_eq!(
        git(&s.remote(), &["rev-list", "--count", "main"]).trim(),
        "3",
        "one commit per publish"
    );
    fsck(&s.remote());
}

#[test]
fn one_branch_per_environment() {
    let s = Setup::new();
    let run = s.publish(&["--layout", "branch"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let branches = git(&s.remote(), &["branch", "--format=%(refname:short)"]);
    assert_eq!(
        branches,
        "environments/dev\nenvironments/prod\nenvironments/staging\n"
    );
    let prod = git(
        &s.remote(),
        &["ls-tree", "-r", "--name-only", "environments/prod"],
    );
    assert!(
        prod.lines().all(|f| f.starts_with("clusters/prod/")),
        "{prod}"
    );
    assert!(prod.contains("clusters/prod/hydrator.metadata"));
    let only = s.publish(&[
        "--layout",
        "branch",
        "--branch-prefix",
        "env",
        "--env",
        "staging",
    ]);
    assert_eq!(only.code, 0, "{}", only.stderr);
    assert!(git(&s.remote(), &["branch"]).contains("env/staging"));
    fsck(&s.remote());
}

#[test]
fn a_local_target_gets_the_commit_on_its_branch_and_can_push() {
    let s = Setup::new();
    let local = s.local_target();
    let path = local.display().to_string();
    let run = gitopsc_env(&["publish", "--repo", &path], &s.project(), &AUTHOR);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        git(&local, &["status", "--porcelain"]),
        "",
        "the work tree follows the branch"
    );
    assert!(
        local
            .join("clusters/dev/apps/web/deployment-web.yaml")
            .exists()
    );
    assert_eq!(
        git(&s.remote(), &["rev-list", "--count", "main"]).trim(),
        "1",
        "nothing pushed without --push"
    );

    s.commit_change(
        "overlays/prod.yaml",
        "replicas: 2",
        "replicas: 3",
        "Three web replicas",
    );
    let pushed = gitopsc_env(
        &["publish", "--repo", &path, "--push"],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert_eq!(
        git(&local, &["rev-parse", "HEAD"]),
        git(&s.remote(), &["rev-parse", "main"])
    );
    fsck(&s.remote());

    fs::write(local.join("scratch.txt"), "work in progress\n").unwrap();
    s.commit_change("overlays/prod.yaml", "replicas: 3", "replicas: 4", "Four");
    let dirty = gitopsc_env(&["publish", "--repo", &path], &s.project(), &AUTHOR);
    assert_eq!(dirty.code, 2);
    assert!(
        dirty.stderr.contains("uncommitted changes"),
        "{}",
        dirty.stderr
    );
    assert_eq!(
        fs::read_to_string(local.join("scratch.txt")).unwrap(),
        "work in progress\n"
    );
    fs::remove_file(local.join("scratch.txt")).unwrap();
    fs::create_dir_all(local.join(".git/rebase-merge")).unwrap();
    let rebasing = gitopsc_env(&["publish", "--repo", &path], &s.project(), &AUTHOR);
    assert_eq!(rebasing.code, 2);
    assert!(
        rebasing.stderr.contains("middle of a"),
        "{}",
        rebasing.stderr
    );
}

#[test]
fn publish_refuses_what_it_cannot_name() {
    let s = Setup::new();
    let url = s.url();
    // No flags, no variables and no git identity anywhere (an empty HOME).
    let home = s.dir.path().join("empty-home");
    fs::create_dir_all(&home).unwrap();
    let home = home.display().to_string();
    let nobody = [
        ("GIT_AUTHOR_NAME", ""),
        ("GIT_AUTHOR_EMAIL", ""),
        ("HOME", home.as_str()),
        ("XDG_CONFIG_HOME", home.as_str()),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ];
    let anonymous = gitopsc_env(&["publish", "--repo", &url], &s.project(), &nobody);
    assert_eq!(anonymous.code, 2, "{}", anonymous.stderr);
    assert!(
        anonymous.stderr.contains("needs an author"),
        "{}",
        anonymous.stderr
    );
    // `git config user.name/email` is enough, as for `git commit`.
    git(&s.project(), &["config", "user.name", "Configured Person"]);
    git(
        &s.project(),
        &["config", "user.email", "configured@example.com"],
    );
    let configured = gitopsc_env(
        &["publish", "--repo", &url, "--branch", "configured"],
        &s.project(),
        &nobody,
    );
    assert_eq!(configured.code, 0, "{}", configured.stderr);
    assert_eq!(
        git(
            &s.remote(),
            &["log", "-1", "--format=%an <%ae>", "configured"]
        )
        .trim(),
        "Configured Person <configured@example.com>"
    );
    let overlay = s.project().join("overlays/dev.yaml");
    fs::write(&overlay, "apps: {web: {replicas: 2}}\n").unwrap();
    let dirty = s.publish(&[]);
    assert_eq!(dirty.code, 2);
    assert!(
        dirty.stderr.contains("not committed to HEAD"),
        "{}",
        dirty.stderr
    );
    let explicit = s.publish(&["--source-rev", "HEAD"]);
    assert_eq!(
        explicit.code, 0,
        "an explicit source revision is read from git objects: {}",
        explicit.stderr
    );
}

#[test]
fn eight_racing_publishers_all_land_on_a_linear_history() {
    let s = Setup::new();
    assert_eq!(s.publish(&[]).code, 0);
    let mut sources = Vec::new();
    for i in 3..11 {
        sources.push(s.commit_change(
            "overlays/prod.yaml",
            &format!("replicas: {}", i - 1),
            &format!("replicas: {i}"),
            &format!("{i} web replicas"),
        ));
    }
    let children: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, sha)| {
            let cache = s.dir.path().join(format!("cache-{i}"));
            crate::support::hermetic(&mut Command::new(env!("CARGO_BIN_EXE_gitopsc")))
                .args([
                    "publish",
                    "--repo",
                    &s.url(),
                    "--cache",
                    &cache.display().to_string(),
                    "--source-rev",
                    sha,
                    "--env",
                    "prod",
                ])
                .current_dir(s.project())
                .envs(AUTHOR)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "every publisher succeeds: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        git(&s.remote(), &["rev-list", "--count", "main"]).trim(),
        "9",
        "the first publish and eight more"
    );
    assert_eq!(
        git(
            &s.remote(),
            &["rev-list", "--min-parents=2", "--count", "main"]
        )
        .trim(),
        "0",
        "linear history"
    );
    let log = git(
        &s.remote(),
        &[
            "log",
            "--format=%(trailers:key=Source-Commit,valueonly)",
            "main",
        ],
    );
    for sha in &sources {
        assert!(log.contains(sha.as_str()), "the commit of {sha} is present");
    }
    fsck(&s.remote());
}

#[test]
fn a_killed_publisher_leaves_the_target_consistent() {
    let s = Setup::new();
    for (round, delay_ms) in [5u64, 20, 40, 80, 160, 320].into_iter().enumerate() {
        s.commit_change(
            "overlays/prod.yaml",
            &format!("replicas: {}", round + 2),
            &format!("replicas: {}", round + 3),
            "more",
        );
        let cache = s.dir.path().join("cache");
        let mut child = crate::support::hermetic(&mut Command::new(env!("CARGO_BIN_EXE_gitopsc")))
            .args([
                "publish",
                "--repo",
                &s.url(),
                "--cache",
                &cache.display().to_string(),
            ])
            .current_dir(s.project())
            .envs(AUTHOR)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SIGKILL, as a CI runner cancelling a job would.
        let _ = child.kill();
        let _ = child.wait();
        fsck(&s.remote());
        let tip = crate::support::hermetic(&mut Command::new("git"))
            .args(["rev-parse", "--verify", "-q", "main"])
            .current_dir(s.remote())
            .output()
            .unwrap();
        if tip.status.success() {
            git(&s.remote(), &["ls-tree", "-r", "main"]);
            assert_eq!(
                git(
                    &s.remote(),
                    &["rev-list", "--min-parents=2", "--count", "main"]
                )
                .trim(),
                "0"
            );
        }
    }
    let run = s.publish(&[]);
    assert_eq!(
        run.code, 0,
        "the next publisher is not blocked: {}",
        run.stderr
    );
    let source = git(&s.project(), &["rev-parse", "HEAD"]).trim().to_string();
    let metadata: serde_json::Value = serde_json::from_str(&git(
        &s.remote(),
        &["show", "main:clusters/prod/hydrator.metadata"],
    ))
    .unwrap();
    assert_eq!(
        metadata["drySha"],
        source.as_str(),
        "the branch holds the newest render"
    );
    fsck(&s.remote());
}

/// `git daemon` on loopback, serving `base` with pushes enabled, so pushes go
/// through the real receive-pack and its hooks (file:// pushes do not).
struct Daemon {
    child: std::process::Child,
    port: u16,
}

impl Daemon {
    fn serve(base: &Path) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = crate::support::hermetic(&mut Command::new("git"))
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: `git daemon` runs `git-daemon` as a child,
            // and the whole group must go when the test ends.
            .process_group(0)
            .spawn()
            .expect("git daemon runs");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        Daemon { child, port }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals the process group this test created for the daemon.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn contains_anywhere(dir: &Path, needle: &str) -> Option<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .find(|e| {
            fs::read(e.path())
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        })
        .map(|e| e.path().to_path_buf())
}

#[test]
fn a_token_in_the_url_is_never_printed_or_stored() {
    let s = Setup::new();
    let daemon = Daemon::serve(s.dir.path());
    let url = format!(
        "git://ci:s3cr3ttoken42@127.0.0.1:{}/remote.git",
        daemon.port
    );
    let cache = s.dir.path().join("cache");
    let cache_arg = cache.display().to_string();
    let run = gitopsc_env(
        &["publish", "--repo", &url, "--cache", &cache_arg],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("ci:*****@127.0.0.1"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cr3ttoken42") && !run.stderr.contains("s3cr3ttoken42"));
    assert_eq!(
        contains_anywhere(&cache, "s3cr3ttoken42"),
        None,
        "the cache keeps no token"
    );
    assert_eq!(
        git(&s.remote(), &["rev-list", "--count", "main"]).trim(),
        "1"
    );
}

#[test]
fn a_push_the_remote_rejects_is_reported_at_once() {
    let s = Setup::new();
    let hook = s.remote().join("hooks/pre-receive");
    fs::write(&hook, "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n").unwrap();
    crate::support::hermetic(&mut Command::new("chmod"))
        .arg("755")
        .arg(&hook)
        .status()
        .unwrap();
    let daemon = Daemon::serve(s.dir.path());
    let url = format!("git://127.0.0.1:{}/remote.git", daemon.port);
    let cache = s.dir.path().join("cache").display().to_string();
    let run = gitopsc_env(
        &[
            "publish",
            "--repo",
            &url,
            "--cache",
            &cache,
            "--retries",
            "5",
        ],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("the remote rejected the push"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("gave up"),
        "no retries for a refusal: {}",
        run.stderr
    );
    assert_eq!(
        git(&s.remote(), &["rev-list", "--all", "--count"]).trim(),
        "0"
    );
}

#[test]
fn publish_never_writes_through_a_symlink_in_a_local_target() {
    let s = Setup::new();
    let local = s.dir.path().join("gitops");
    let elsewhere = s.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    git(s.dir.path(), &["init", "-q", "gitops"]);
    std::os::unix::fs::symlink(&elsewhere, local.join("clusters")).unwrap();
    git(&local, &["add", "-A"]);
    git(&local, &["commit", "-q", "-m", "Link"]);
    let path = local.display().to_string();
    let run = gitopsc_env(
        &["publish", "--repo", &path, "--path", "clusters"],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

/// `publish` then `publish --push`: the second pushes the commit the first
/// left on the local branch instead of saying there is nothing to publish.
#[test]
fn push_sends_what_an_earlier_publish_left_unpushed() {
    let s = Setup::new();
    let local = s.local_target();
    let path = local.display().to_string();
    let first = gitopsc_env(&["publish", "--repo", &path], &s.project(), &AUTHOR);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_ne!(
        git(&local, &["rev-parse", "HEAD"]),
        git(&s.remote(), &["rev-parse", "main"])
    );
    let pushed = gitopsc_env(
        &["publish", "--repo", &path, "--push"],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert!(
        !pushed.stdout.contains("nothing to publish"),
        "{}",
        pushed.stdout
    );
    assert_eq!(
        git(&local, &["rev-parse", "HEAD"]),
        git(&s.remote(), &["rev-parse", "main"])
    );
    let again = gitopsc_env(
        &["publish", "--repo", &path, "--push"],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to publish"),
        "{}",
        again.stdout
    );
}

/// Every refusal below happens before anything is fetched or written.
fn assert_refused(run: &crate::support::Run, expect: &str, s: &Setup) {
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(expect),
        "{expect:?} in:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("refs/heads/"),
        "a message of our own, not libgit2's: {}",
        run.stderr
    );
    assert_eq!(git(&s.remote(), &["for-each-ref"]), "", "nothing pushed");
    assert!(!s.dir.path().join("cache").exists(), "nothing cloned");
}

#[test]
fn publish_refuses_bad_branches_and_paths_with_its_own_message() {
    let s = Setup::new();
    // `git check-ref-format --branch` refuses these; libgit2 alone would create
    // `refs/heads/HEAD`.
    for branch in ["HEAD", "a..b", "-x", "x.lock", "has space"] {
        let flag = format!("--branch={branch}");
        let run = s.publish(&[flag.as_str()]);
        assert_refused(
            &run,
            &format!("`{branch}` (--branch) is not a valid branch name"),
            &s,
        );
    }
    let prefix = s.publish(&["--layout", "branch", "--branch-prefix", "a..b"]);
    assert_refused(&prefix, "is not a valid branch name", &s);
    for (path, why) in [
        ("/abs", "is absolute"),
        ("../up", "`..`"),
        ("a/./b", "`.`"),
        (".git/hooks", "`.git`"),
    ] {
        let run = s.publish(&["--path", path]);
        assert_refused(&run, &format!("the path `{path}` (--path) "), &s);
        assert!(run.stderr.contains(why), "{}", run.stderr);
    }
    let trailing = s.publish(&["--path", "deploy/"]);
    assert_eq!(
        trailing.code, 0,
        "a trailing slash is fine: {}",
        trailing.stderr
    );
    let stat = git(&s.remote(), &["show", "--stat", "--format=", "main"]);
    assert!(stat.contains("deploy/prod/"), "{stat}");
}

#[test]
fn publish_refuses_the_source_branch_of_the_source_repository() {
    let s = Setup::new();
    let project = s.project().display().to_string();
    let before = git(&s.project(), &["rev-parse", "main"]);
    for repo in [project.clone(), format!("file://{project}")] {
        let run = gitopsc_env(
            &["publish", "--repo", &repo, "--branch", "main"],
            &s.project(),
            &AUTHOR,
        );
        assert_refused(&run, "the target is the source repository", &s);
    }
    assert_eq!(git(&s.project(), &["rev-parse", "main"]), before);
    // Another branch of the same repository is the layout of Argo CD's source
    // hydrator (hydrated manifests on a branch of the dry source's repository).
    let run = gitopsc_env(
        &["publish", "--repo", &project, "--layout", "branch"],
        &s.project(),
        &AUTHOR,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&s.project(), &["rev-parse", "main"]), before);
    assert!(
        git(&s.project(), &["branch", "--list", "environments/*"]).contains("environments/prod")
    );
}

/// A server that answers every request with `401` asking for Basic credentials,
/// and records the request heads it saw.
fn asks_for_credentials() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gitops.git", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[test]
fn a_token_never_travels_over_plain_http() {
    let s = Setup::new();
    let (url, seen) = asks_for_credentials();
    let token = ("GITOPSC_GIT_TOKEN", "s3cret-token-value");
    let mut env = AUTHOR.to_vec();
    env.push(token);
    let cache = s.dir.path().join("cache").display().to_string();
    let direct = gitopsc_env(
        &["publish", "--repo", &url, "--cache", &cache],
        &s.project(),
        &env,
    );
    assert_refused(
        &direct,
        "refusing to send GITOPSC_GIT_TOKEN over plain HTTP",
        &s,
    );
    assert!(seen.lock().unwrap().is_empty(), "refused before connecting");
    let in_url = url.replace("http://", "http://ci:s3cret-in-url@");
    let from_url = gitopsc_env(
        &["publish", "--repo", &in_url, "--cache", &cache],
        &s.project(),
        &AUTHOR,
    );
    assert_refused(
        &from_url,
        "refusing to send the URL's credentials over plain HTTP",
        &s,
    );
    assert!(
        !from_url.stderr.contains("s3cret-in-url"),
        "{}",
        from_url.stderr
    );
    assert!(seen.lock().unwrap().is_empty(), "refused before connecting");

    // A local target whose `origin` is plain HTTP: the credential callback refuses.
    let local = s.dir.path().join("gitops");
    git(s.dir.path(), &["init", "-q", "gitops"]);
    git(&local, &["commit", "-q", "--allow-empty", "-m", "Initial"]);
    git(&local, &["remote", "add", "origin", &url]);
    let path = local.display().to_string();
    let pushed = gitopsc_env(&["publish", "--repo", &path, "--push"], &s.project(), &env);
    assert_eq!(pushed.code, 2, "{}", pushed.stderr);
    assert!(
        pushed.stderr.contains("over plain HTTP"),
        "{}",
        pushed.stderr
    );
    assert!(!pushed.stderr.contains(token.1), "{}", pushed.stderr);
    let requests = seen.lock().unwrap().clone();
    assert!(!requests.is_empty(), "the fetch reached the server");
    assert!(
        requests
            .iter()
            .all(|r| !r.to_ascii_lowercase().contains("authorization")),
        "no credentials sent: {requests:?}"
    );
}
