//! The tools the peers benchmark runs, their generated inputs, one timed run,
//! and the facts compared between their outputs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::synthetic;

pub struct Tool {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    ok: i32,
    /// Removed before each run, so every run starts from nothing.
    clear: Option<PathBuf>,
    /// Where the run leaves its YAML, one directory per environment.
    pub output: Option<PathBuf>,
}

impl Tool {
    pub fn new(name: &str, program: &Path, args: &[&str], cwd: &Path) -> Tool {
        Tool {
            name: name.into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            cwd: cwd.into(),
            env: Vec::new(),
            ok: 0,
            clear: None,
            output: None,
        }
    }
    pub fn ok(mut self, code: i32) -> Tool {
        self.ok = code;
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Tool {
        self.env.push((key.into(), value.into()));
        self
    }
    fn writes(mut self, dir: PathBuf) -> Tool {
        self.clear = Some(dir.clone());
        self.output = Some(dir);
        self
    }
    pub fn clear(&self) {
        if let Some(dir) = &self.clear {
            discard(dir);
        }
    }
}

/// Moves `path` into the trash beside it, emptied by [`empty_trash`] once
/// every measurement is done. Deleting a tree frees its inodes, and ext4
/// without a journal (this machine's root) skips, on every inode it
/// allocates, each one freed in the last 60 s (360 s while its inode table
/// block is dirty): `find_inode_bit` and `recently_deleted` in
/// fs/ext4/ialloc.c. A run right after deleting 33,000 files then spends
/// seconds in that scan. A fresh checkout, the cold render modelled here,
/// has deleted nothing; the one-edit re-renders keep the deletions gitopsc
/// itself makes.
pub fn discard(path: &Path) {
    if !path.exists() {
        return;
    }
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let trash = trash_dir(path);
    let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let moved =
        fs::create_dir_all(&trash).is_ok() && fs::rename(path, trash.join(n.to_string())).is_ok();
    if !moved {
        let _ = fs::remove_dir_all(path);
    }
}

/// The trash of the disk `path` is on: beside the scratch directories.
fn trash_dir(path: &Path) -> PathBuf {
    let base = if path.starts_with("/dev/shm") {
        PathBuf::from("/dev/shm")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
    };
    base.join(format!("gitopsc-peers-trash-{}", std::process::id()))
}

/// Deletes what [`discard`] set aside, on both disks.
pub fn empty_trash() {
    for disk in [
        "/dev/shm/x",
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/x"),
    ] {
        let _ = fs::remove_dir_all(trash_dir(Path::new(disk)));
    }
}

/// Wall time and peak resident memory of one run.
pub struct Sample {
    pub time: Duration,
    pub peak_kib: i64,
}

/// One run, waited for with `wait4`: the peak RSS is the largest of the
/// process and the descendants it waited for (node under `cdk8s synth`,
/// Kapitan's workers).
pub fn run_once(tool: &Tool) -> Sample {
    // A file rather than a pipe: a chatty peer would block on a full pipe.
    let stderr_path = tool.cwd.join(".bench-stderr");
    let stderr = fs::File::create(&stderr_path).unwrap();
    let start = Instant::now();
    let child = Command::new(&tool.program)
        .args(&tool.args)
        .envs(tool.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&tool.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", tool.program.display()));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data filled by the kernel; pid is our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = start.elapsed();
    assert_eq!(waited, pid, "wait4 on the child");
    let code = libc::WEXITSTATUS(status);
    if code != tool.ok || !libc::WIFEXITED(status) {
        let err = fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!(
            "{}: {} {:?} exited with {code}, not {}\n{err}",
            tool.name,
            tool.program.display(),
            tool.args,
            tool.ok
        );
    }
    std::mem::forget(child);
    Sample {
        time,
        peak_kib: usage.ru_maxrss,
    }
}

pub fn gitopsc() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_gitopsc"));
    assert!(
        path.exists(),
        "build the binary first: cargo build --release"
    );
    path
}

pub fn peers_dir() -> PathBuf {
    let dir = std::env::var_os("GITOPSC_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-peers"));
    for stamp in ["cdk8s", "jsonnet-kcl", "kapitan", "jrsonnet"] {
        if !dir.join(format!("{stamp}.stamp")).exists() {
            eprintln!(
                "the peers are not installed in {}: run benches/peers/install (outside cargo's lock)",
                dir.display()
            );
            std::process::exit(1);
        }
    }
    dir
}

/// Each tool and its pinned version, as the install script recorded them.
pub fn versions(peers: &Path) -> Vec<(String, String)> {
    let stamp = |s: &str| {
        fs::read_to_string(peers.join(format!("{s}.stamp")))
            .unwrap()
            .trim()
            .to_string()
    };
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).replace('\n', "; "))
        .unwrap_or_default();
    vec![
        ("cdk8s, cdk8s-cli, constructs".into(), stamp("cdk8s")),
        (
            "gojsonnet (go-jsonnet), kcl-lib".into(),
            stamp("jsonnet-kcl"),
        ),
        ("kapitan".into(), stamp("kapitan")),
        ("jrsonnet".into(), stamp("jrsonnet")),
        ("kubectl".into(), kubectl),
    ]
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), text).unwrap();
}

const APPS_LIBSONNET: &str = include_str!("apps.libsonnet");

/// Generates every tool's input for `n` apps under `dir`; gitopsc comes first.
pub fn prepare(n: usize, dir: &Path, peers: &Path) -> Vec<Tool> {
    let bin = gitopsc();
    let project = dir.join("gitopsc");
    synthetic::write_project(n, &project).unwrap();
    let mut tools = Vec::new();
    let out = project.join("out");
    tools.push(
        Tool::new(
            "gitopsc render",
            &bin,
            &["render", "--out", out.to_str().unwrap()],
            &project,
        )
        // Cold, as the peers run: without it every round after the first
        // would be answered from the environment cache.
        .env("GITOPSC_NO_CACHE", "1")
        .writes(out),
    );
    if has_layout_key(&bin) {
        let project = dir.join("gitopsc-units");
        write_units_project(n, &project);
        let out = project.join("out");
        tools.push(
            Tool::new(
                "gitopsc render (layout: units)",
                &bin,
                &["render", "--out", out.to_str().unwrap()],
                &project,
            )
            .env("GITOPSC_NO_CACHE", "1")
            .writes(out),
        );
    }

    let cdk8s = dir.join("cdk8s");
    write(&cdk8s, "main.js", include_str!("main.js"));
    write(&cdk8s, "cdk8s.yaml", include_str!("cdk8s.yaml"));
    std::os::unix::fs::symlink(peers.join("cdk8s/node_modules"), cdk8s.join("node_modules"))
        .unwrap();
    tools.push(
        Tool::new(
            "cdk8s synth",
            &cdk8s.join("node_modules/.bin/cdk8s"),
            &["synth", "--no-check-upgrade"],
            &cdk8s,
        )
        .env("APPS", &n.to_string())
        .writes(cdk8s.join("dist")),
    );

    let jsonnet = dir.join("jsonnet");
    write(&jsonnet, "apps.libsonnet", APPS_LIBSONNET);
    write(&jsonnet, "main.jsonnet", include_str!("main.jsonnet"));
    write(&jsonnet, "gojsonnet.py", include_str!("gojsonnet.py"));
    let python = peers.join("py/bin/python");
    let apps = n.to_string();
    let j = jsonnet.to_str().unwrap();
    let out = jsonnet.join("out-go");
    tools.push(
        Tool::new(
            "go-jsonnet (Python binding)",
            &python,
            &["gojsonnet.py", j, &apps, out.to_str().unwrap()],
            &jsonnet,
        )
        .writes(out),
    );
    let out = jsonnet.join("out-jr");
    let tla = format!("apps={n}");
    tools.push(
        Tool::new(
            "jrsonnet",
            &peers.join("jrsonnet/bin/jrsonnet"),
            &[
                "-S",
                "-c",
                "-m",
                out.to_str().unwrap(),
                "--tla-code",
                &tla,
                "main.jsonnet",
            ],
            &jsonnet,
        )
        .writes(out),
    );

    let kcl = dir.join("kcl");
    write(&kcl, "main.k", include_str!("main.k"));
    write(&kcl, "kcl.py", include_str!("kcl.py"));
    let out = kcl.join("out");
    tools.push(
        Tool::new(
            "KCL (Python binding)",
            &python,
            &[
                "kcl.py",
                kcl.to_str().unwrap(),
                &apps,
                out.to_str().unwrap(),
            ],
            &kcl,
        )
        .writes(out),
    );

    let kapitan = dir.join("kapitan");
    write(
        &kapitan.join("components"),
        "apps.libsonnet",
        APPS_LIBSONNET,
    );
    write(
        &kapitan.join("components"),
        "kapitan.jsonnet",
        include_str!("kapitan.jsonnet"),
    );
    write(
        &kapitan.join("inventory/classes"),
        "common.yml",
        "parameters: {}\n",
    );
    for env in synthetic::ENVIRONMENTS {
        write(
            &kapitan.join("inventory/targets"),
            &format!("{env}.yml"),
            &format!(
                "classes: [common]\nparameters:\n  env: {env}\n  apps: {n}\n  kapitan:\n    vars: {{target: {env}}}\n    compile:\n    - {{output_path: apps, input_type: jsonnet, output_type: yml, input_paths: [components/kapitan.jsonnet]}}\n"
            ),
        );
    }
    tools.push(
        Tool::new(
            "kapitan compile",
            &peers.join("kapitan/bin/kapitan"),
            &["compile"],
            &kapitan,
        )
        .writes(kapitan.join("compiled")),
    );

    if n <= 100 {
        let tree = dir.join("kustomize");
        synthetic::write_kustomize(n, &tree).unwrap();
        let prod = tree.join("overlays/prod");
        tools.push(Tool::new(
            "kubectl kustomize (prod only)",
            Path::new("kubectl"),
            &["kustomize", prod.to_str().unwrap()],
            &tree,
        ));
    }
    tools
}

/// Whether this build knows the blueprint's `layout:` key (one file per unit).
pub fn has_layout_key(bin: &Path) -> bool {
    Command::new(bin)
        .arg("schema")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("\"layout\""))
        .unwrap_or(false)
}

/// The synthetic project with `layout: units`.
pub fn write_units_project(n: usize, project: &Path) {
    synthetic::write_project(n, project).unwrap();
    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    fs::write(&blueprint, format!("layout: units\n{text}")).unwrap();
}

/// Counts of what the environments must agree on: per-app objects by kind,
/// and the values the overlays change.
pub type Facts = BTreeMap<String, usize>;

/// Reads every YAML file under `out/<env>/` and counts the facts of the
/// objects named after an app (`app-0000`, `ingress-app-0000`, ...).
pub fn facts(out: &Path) -> Facts {
    let mut facts = Facts::new();
    let mut files = 0;
    for entry in walkdir::WalkDir::new(out).sort_by_file_name() {
        let entry = entry.unwrap();
        let path = entry.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !entry.file_type().is_file() || !is_yaml {
            continue;
        }
        files += 1;
        let env = path
            .strip_prefix(out)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(path).unwrap();
        // One document at a time: the parser's budget caps a stream at 1024
        // documents, and KCL writes each environment as one stream.
        for doc in text.split("\n---\n") {
            let doc = doc.strip_prefix("---\n").unwrap_or(doc);
            if doc.trim().is_empty() || doc.trim() == "---" {
                continue;
            }
            let doc: Value = serde_saphyr::from_str(doc)
                .unwrap_or_else(|e| panic!("{} is YAML: {e}", path.display()));
            count(&mut facts, &env, &doc);
        }
    }
    assert!(files > 0, "no YAML under {}", out.display());
    facts
}

fn count(facts: &mut Facts, env: &str, doc: &Value) {
    let name = doc["metadata"]["name"].as_str().unwrap_or("");
    let is_app = name.match_indices("app-").any(|(at, _)| {
        name[at + 4..]
            .chars()
            .take(4)
            .filter(char::is_ascii_digit)
            .count()
            == 4
    });
    if !is_app {
        return;
    }
    let kind = doc["kind"].as_str().unwrap_or("?");
    let mut add = |fact: String| *facts.entry(format!("{env}: {fact}")).or_default() += 1;
    add(kind.to_string());
    match kind {
        "Deployment" => {
            let pod = &doc["spec"]["template"]["spec"];
            for var in pod["containers"][0]["env"].as_array().into_iter().flatten() {
                if let Some(value) = var["value"].as_str()
                    && var["name"] != "APP_NAME"
                {
                    let name = var["name"].as_str().unwrap_or("");
                    add(format!("env {name}={value}"));
                }
            }
            if pod.get("topologySpreadConstraints").is_some() {
                add("Deployment spread over zones".into());
            }
        }
        "HorizontalPodAutoscaler" => add(format!(
            "HorizontalPodAutoscaler {}..{}",
            doc["spec"]["minReplicas"], doc["spec"]["maxReplicas"]
        )),
        "Ingress" => {
            let host = doc["spec"]["rules"][0]["host"].as_str().unwrap_or("");
            add(format!(
                "Ingress host *{}",
                &host[host.find('.').unwrap_or(0)..]
            ));
        }
        "NetworkPolicy" => add(format!("NetworkPolicy {}", doc["spec"]["policyTypes"])),
        _ => {}
    }
}
