//! Shared helpers: the real binary, temp projects, output filters, project listing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use gitopsc::tree::RenderedTree;
use gitopsc::{EnvSelection, compile, workspace};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the suite writes: a directory inside the target directory (cargo's
/// `CARGO_TARGET_TMPDIR`, which follows `CARGO_TARGET_DIR`), so `cargo test`
/// leaves nothing in the system's temp directory or the user's caches.
pub fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("it");
    fs::create_dir_all(&dir).expect("the target directory is writable");
    dir
}

/// A fresh temporary directory under [`scratch`], removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("case-")
        .tempdir_in(scratch())
        .expect("a temporary directory under the target directory")
}

/// The user cache directory gitopsc sees in tests (its `check` stat cache,
/// `publish`'s clones): under [`scratch`], never the user's own.
pub fn cache_home() -> PathBuf {
    scratch().join("cache-home")
}

/// Environment for every child process of the suite: caches and temp files
/// under [`scratch`], and git's repository search stopped there, so a test
/// project inside the target directory never finds the gitopsc repository.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env("XDG_CACHE_HOME", cache_home())
        .env("TMPDIR", scratch())
        .env("GIT_CEILING_DIRECTORIES", scratch())
}

/// The repo's own project and every example, by name.
pub fn projects() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut out = vec![("neotool".to_string(), root.clone())];
    let mut examples: Vec<_> = fs::read_dir(root.join("examples"))
        .expect("examples/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("blueprints/system.yaml").exists())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    examples.sort();
    out.extend(examples);
    out
}

pub fn compile_project(path: &Path) -> RenderedTree {
    let sources = workspace::read_sources(path).expect("sources readable");
    compile(Arc::new(sources), &EnvSelection::All).unwrap_or_else(|e| panic!("{}", e.render()))
}

/// What running the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn gitopsc(args: &[&str], cwd: &Path) -> Run {
    gitopsc_env(args, cwd, &[])
}

pub fn gitopsc_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitopsc"));
    hermetic(&mut cmd);
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("GITOPSC_ROOT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("gitopsc runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces temp paths so snapshots read the same on every machine.
pub fn filter(text: &str, dirs: &[&Path]) -> String {
    let mut out = text.to_string();
    for dir in dirs {
        out = out.replace(&dir.display().to_string(), "[TMP]");
    }
    out
}

/// Copies a project's inputs (blueprints/, overlays/) into `to`.
pub fn copy_inputs(from: &Path, to: &Path) {
    for dir in ["blueprints", "overlays"] {
        copy_dir(&from.join(dir), &to.join(dir));
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    if !from.exists() {
        return;
    }
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` (hidden ones included), by relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, fs::read(entry.path()).unwrap());
        }
    }
    out
}

/// Writes a txtar-like case (`-- path --` headers) into `dir`.
pub fn write_case(text: &str, dir: &Path) {
    let mut current: Option<(String, String)> = None;
    let mut files = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line
            .trim_end()
            .strip_prefix("-- ")
            .and_then(|l| l.strip_suffix(" --"))
        {
            files.extend(current.take());
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    files.extend(current);
    for (name, body) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
}

/// Writes files (relative path -> bytes) under `dir`.
pub fn copy_dir_bytes(files: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    for (path, bytes) in files {
        let target = dir.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, bytes).unwrap();
    }
}

/// Runs the git CLI in `dir` with a fixed identity; panics with git's message on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = hermetic(&mut Command::new("git"))
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles a txtar-style case written into a fresh directory.
pub fn compile_case(text: &str) -> RenderedTree {
    let dir = tempdir();
    write_case(text, dir.path());
    compile_project(dir.path())
}

/// The text and first object of `<env>/<path>` in a compiled tree.
pub fn env_document(tree: &RenderedTree, env: &str, path: &str) -> (String, serde_json::Value) {
    let text = tree.envs[env].files[&format!("{env}/{path}")].clone();
    let value = gitopsc::yaml::parse_documents(path, &text)
        .unwrap()
        .remove(0);
    (text, value)
}

/// xorshift64*: a fixed seed gives the same sequence on every machine, so a
/// random edit sequence that fails replays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (below 1 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
