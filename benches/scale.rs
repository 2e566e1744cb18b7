//! Scale benchmark: gitopsc at 10, 100 and 1000 apps, side by side with
//! `kubectl kustomize` on the equivalent hand-written tree.
//!
//!   cargo bench --bench scale                        # the table for BENCHMARKS.md
//!   cargo bench --bench scale -- --with-300          # also kubectl kustomize at 300 apps
//!   cargo bench --bench scale -- --write-project N DIR
//!   cargo bench --bench scale -- --write-kustomize N DIR
//!   GITOPSC_BENCH_DIR=/dev/shm cargo bench --bench scale   # scratch on a tmpfs
//!
//! Every figure is the median of several runs of the release binary, so it
//! includes process start and the file system, as users see it; the in-memory
//! pipeline is also timed on its own through the library.

mod synthetic;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gitopsc::{EnvSelection, compile, workspace};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [flag, n, dir] if flag == "--write-project" => write(n, dir, synthetic::write_project),
        [flag, n, dir] if flag == "--write-kustomize" => write(n, dir, synthetic::write_kustomize),
        rest => run(rest.iter().any(|a| a == "--with-300")),
    }
}

fn write(n: &str, dir: &str, how: fn(usize, &Path) -> std::io::Result<()>) {
    let n: usize = n.parse().expect("N is a number of apps");
    how(n, Path::new(dir)).expect("writes the project");
    println!("wrote {n} apps into {dir}");
}

fn gitopsc() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_gitopsc"));
    assert!(
        path.exists(),
        "build the binary first: cargo build --release"
    );
    path
}

/// Wall time and peak resident memory of one run.
struct Sample {
    time: Duration,
    peak_kib: i64,
}

fn run_once(program: &Path, args: &[&str], cwd: &Path, quiet_ok: &[i32]) -> Sample {
    run_with(program, args, cwd, quiet_ok, &[])
}

fn run_with(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    quiet_ok: &[i32],
    envs: &[(&str, &str)],
) -> Sample {
    // A cache of the project's own: the same project in an earlier run would
    // otherwise answer from the user's cache.
    let cache = cwd.join(".bench-cache");
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .env("XDG_CACHE_HOME", &cache)
        .envs(envs.iter().copied())
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data filled by the kernel; pid is our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = start.elapsed();
    assert_eq!(waited, pid, "wait4 on the child");
    let code = libc::WEXITSTATUS(status);
    assert!(
        quiet_ok.contains(&code),
        "{} {args:?} exited with {code}",
        program.display()
    );
    std::mem::forget(child);
    Sample {
        time,
        peak_kib: usage.ru_maxrss,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Row {
    apps: usize,
    files: usize,
    compile: Duration,
    render_cold: Duration,
    floor: Duration,
    render_again: Duration,
    check_unchanged: Duration,
    check_edited: Duration,
    render_edited: Duration,
    peak_mib: f64,
    kustomize: Option<Duration>,
}

fn measure(n: usize, scratch: &Path, with_kustomize: bool) -> Row {
    let project = scratch.join(format!("project-{n}"));
    synthetic::write_project(n, &project).unwrap();
    let bin = gitopsc();
    let runs = if n >= 1000 { 3 } else { 5 };

    // Child processes first: a forked child counts its parent's resident pages
    // until it execs, so the in-process measurement below must not come first.
    let mut cold = Vec::new();
    let mut peak = 0;
    let mut files = 0;
    for i in 0..runs {
        let out = scratch.join(format!("out-{n}-{i}"));
        // Cold: every round after the first would be answered from the
        // environment cache otherwise.
        let s = run_with(
            &bin,
            &["render", "--out", out.to_str().unwrap()],
            &project,
            &[0],
            &[("GITOPSC_NO_CACHE", "1")],
        );
        cold.push(s.time);
        peak = peak.max(s.peak_kib);
        files = walkdir::WalkDir::new(&out)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .count()
            - 1;
        fs::remove_dir_all(&out).unwrap();
    }
    run_once(&bin, &["render"], &project, &[0]);
    let floor = median(
        (0..runs)
            .map(|i| write_floor(&project, &scratch.join(format!("floor-{n}-{i}"))))
            .collect(),
    );
    let again: Vec<Duration> = (0..runs)
        .map(|_| run_once(&bin, &["render"], &project, &[0]).time)
        .collect();
    let unchanged: Vec<Duration> = (0..runs * 2)
        .map(|_| run_once(&bin, &["check"], &project, &[0]).time)
        .collect();

    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    // Every measured run sees an edit no earlier run compiled (a bound seen
    // before would be answered from the environment cache).
    let edit = |max: usize| {
        let edit = format!("autoscale: {{min: 2, max: {max}}}");
        fs::write(
            &blueprint,
            text.replacen("autoscale: {min: 2, max: 5}", &edit, 1),
        )
        .unwrap();
    };
    let edited: Vec<Duration> = (0..runs)
        .map(|i| {
            edit(10 + i);
            run_once(&bin, &["check"], &project, &[1]).time
        })
        .collect();
    let render_edited: Vec<Duration> = (0..runs)
        .map(|i| {
            edit(30 + i);
            run_once(&bin, &["render"], &project, &[0]).time
        })
        .collect();
    fs::write(&blueprint, text).unwrap();
    run_once(&bin, &["render"], &project, &[0]);

    let kustomize = with_kustomize.then(|| {
        let tree = scratch.join(format!("kustomize-{n}"));
        synthetic::write_kustomize(n, &tree).unwrap();
        let kubectl = Path::new("kubectl");
        let prod = tree.join("overlays/prod");
        let runs = if n >= 300 { 1 } else { 3 };
        median(
            (0..runs)
                .map(|_| {
                    run_once(kubectl, &["kustomize", prod.to_str().unwrap()], &tree, &[0]).time
                })
                .collect(),
        )
    });

    let mut compile_times = Vec::new();
    for _ in 0..(if n >= 1000 { 5 } else { 9 }) {
        let sources = Arc::new(workspace::read_sources(&project).unwrap());
        let start = Instant::now();
        let tree = compile(sources, &EnvSelection::All).expect("the synthetic project compiles");
        compile_times.push(start.elapsed());
        drop(tree);
    }
    // SAFETY: returns freed heap to the system; no pointers are involved.
    unsafe { libc::malloc_trim(0) };

    Row {
        apps: n,
        files,
        compile: median(compile_times),
        render_cold: median(cold),
        floor,
        render_again: median(again),
        check_unchanged: median(unchanged),
        check_edited: median(edited),
        render_edited: median(render_edited),
        peak_mib: peak as f64 / 1024.0,
        kustomize,
    }
}

/// The file system's floor: writing files of the same count, sizes and
/// directories as the rendered tree with plain `fs::write`, one thread.
fn write_floor(project: &Path, out: &Path) -> Duration {
    let rendered = project.join("rendered");
    let files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(&rendered)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(&rendered).unwrap().to_path_buf(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let start = Instant::now();
    for (path, bytes) in &files {
        let target = out.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, bytes).unwrap();
    }
    let time = start.elapsed();
    fs::remove_dir_all(out).unwrap();
    time
}

/// The unit directories Flux or Argo CD build, largest first, each timed with kubectl kustomize.
fn downstream(project: &Path, take: usize) -> Vec<(String, usize, Duration)> {
    let rendered = project.join("rendered/prod");
    let mut dirs: Vec<(String, usize)> = Vec::new();
    for entry in walkdir::WalkDir::new(&rendered).min_depth(1).max_depth(2) {
        let entry = entry.unwrap();
        if !entry.file_type().is_dir() || !entry.path().join("kustomization.yaml").exists() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(&rendered)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let depth = rel.matches('/').count();
        // Unit paths: <layer>/<component>, namespaces/<ns>, gitops and gitops/<shard>.
        if depth == 1 || rel == "gitops" {
            let objects = fs::read_dir(entry.path()).unwrap().count() - 1;
            dirs.push((rel, objects));
        }
    }
    dirs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    dirs.truncate(take);
    dirs.into_iter()
        .map(|(rel, objects)| {
            let path = rendered.join(&rel);
            let time = median(
                (0..3)
                    .map(|_| {
                        run_once(
                            Path::new("kubectl"),
                            &["kustomize", path.to_str().unwrap()],
                            &rendered,
                            &[0],
                        )
                        .time
                    })
                    .collect(),
            );
            (rel, objects, time)
        })
        .collect()
}

fn run(with_300: bool) {
    let scratch = tempfile_dir();
    println!(
        "gitopsc scale benchmark: {} cores, release build\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let mut rows = Vec::new();
    let sizes: Vec<usize> = if with_300 {
        vec![10, 100, 300, 1000]
    } else {
        vec![10, 100, 1000]
    };
    for n in sizes {
        eprintln!("measuring {n} apps ...");
        rows.push(measure(n, &scratch, n <= 300));
    }
    println!(
        "| apps | files (3 envs) | pipeline in memory | render, cold | file-system floor | render, nothing changed | check, unchanged | check, one edit | render, one edit | peak memory | kubectl kustomize (prod only) | kustomize / cold render | kustomize / pipeline |"
    );
    println!(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &rows {
        let ratio = |d: Duration| {
            r.kustomize
                .map(|k| format!("{:.0}x", k.as_secs_f64() / d.as_secs_f64()))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} MiB | {} | {} | {} |",
            r.apps,
            r.files,
            ms(r.compile),
            ms(r.render_cold),
            ms(r.floor),
            ms(r.render_again),
            ms(r.check_unchanged),
            ms(r.check_edited),
            ms(r.render_edited),
            r.peak_mib,
            r.kustomize.map(ms).unwrap_or_else(|| "-".into()),
            ratio(r.render_cold),
            ratio(r.compile)
        );
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    run_once(&gitopsc(), &["check"], &repo, &[0]);
    let own: Vec<Duration> = (0..21)
        .map(|_| run_once(&gitopsc(), &["check"], &repo, &[0]).time)
        .collect();
    println!(
        "\n`gitopsc check` on this repository's own project, unchanged: {} (median of 21)",
        ms(median(own))
    );
    let small = rows.iter().find(|r| r.apps == 100).unwrap();
    let large = rows.iter().find(|r| r.apps == 1000).unwrap();
    println!(
        "\nscaling 100 -> 1000 apps: pipeline x{:.1}, cold render x{:.1}",
        large.compile.as_secs_f64() / small.compile.as_secs_f64(),
        large.render_cold.as_secs_f64() / small.render_cold.as_secs_f64()
    );
    println!("\nlargest unit paths at 1000 apps (prod), built by kubectl kustomize:\n");
    println!("| path | objects | kubectl kustomize |");
    println!("| --- | ---: | ---: |");
    for (path, objects, time) in downstream(&scratch.join("project-1000"), 6) {
        println!("| {path} | {objects} | {} |", ms(time));
    }
    let _ = fs::remove_dir_all(&scratch);
}

/// Scratch space: `$GITOPSC_BENCH_DIR` (e.g. a tmpfs, to take the disk out of
/// the figures) or the system's temporary directory.
fn tempfile_dir() -> PathBuf {
    let base = std::env::var_os("GITOPSC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("gitopsc-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
