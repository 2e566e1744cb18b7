//! Peers benchmark: gitopsc beside cdk8s, Jsonnet (go-jsonnet and jrsonnet),
//! KCL, Kapitan and kubectl kustomize, on the same synthetic system, in one
//! run of interleaved rounds, on a tmpfs and on the real disk.
//!
//!   benches/peers/install                       # the peers, pinned, into target/bench-peers
//!   cargo bench --bench peers                   # 100 and 1000 apps, both disks, 3 rounds
//!   cargo bench --bench peers -- --disk tmpfs --apps 5,20 --rounds 1
//!   cargo bench --bench peers -- --large-rounds 2   # fewer rounds at 1000 apps
//!   cargo bench --bench peers -- --only edits       # gitopsc's one-edit figures alone
//!
//! Each peer's input is generated from the same N into the scratch directory
//! and yields, per environment, the same per-app objects as gitopsc (kinds,
//! counts and the environments' differences); the first round checks that
//! and stops the run when a peer's output differs. kubectl kustomize builds
//! the hand-written tree of `synthetic.rs`, prod only, at 100 apps or fewer:
//! at 1000 apps it takes longer than ten minutes.

mod synthetic;
#[path = "peers/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tools::{Facts, Tool, run_once};

struct Options {
    disks: Vec<&'static str>,
    apps: Vec<usize>,
    rounds: usize,
    /// Rounds at 1000 apps or more, where one round of the peers takes minutes.
    large_rounds: Option<usize>,
    /// Only gitopsc's one-edit figures, at the largest N (`--only edits`).
    edits_only: bool,
}

impl Options {
    fn rounds_at(&self, n: usize) -> usize {
        match self.large_rounds {
            Some(r) if n >= 1000 => r,
            _ => self.rounds,
        }
    }
}

fn options() -> Options {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut o = Options {
        disks: vec!["tmpfs", "ext4"],
        apps: vec![100, 1000],
        rounds: 3,
        large_rounds: None,
        edits_only: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--disk" => {
                o.disks = match value.as_str() {
                    "tmpfs" => vec!["tmpfs"],
                    "ext4" => vec!["ext4"],
                    "both" => vec!["tmpfs", "ext4"],
                    other => panic!("--disk tmpfs|ext4|both, not {other}"),
                }
            }
            "--apps" => {
                o.apps = value
                    .split(',')
                    .map(|n| n.parse().expect("--apps N[,N...]"))
                    .collect()
            }
            "--rounds" => o.rounds = value.parse().expect("--rounds N"),
            "--large-rounds" => o.large_rounds = Some(value.parse().expect("--large-rounds N")),
            "--only" if value == "edits" => o.edits_only = true,
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

fn scratch(disk: &str) -> PathBuf {
    let base = match disk {
        "tmpfs" => PathBuf::from("/dev/shm"),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
    };
    let dir = base.join(format!("gitopsc-peers-{}", std::process::id()));
    tools::discard(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn ms(d: Duration) -> String {
    if d.as_secs_f64() >= 10.0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// The fastest of the runs and the highest peak, per tool.
#[derive(Default, Clone)]
struct Best {
    time: Option<Duration>,
    peak_kib: i64,
}

impl Best {
    fn add(&mut self, time: Duration, peak_kib: i64) {
        self.time = Some(self.time.map_or(time, |t| t.min(time)));
        self.peak_kib = self.peak_kib.max(peak_kib);
    }
}

fn measure(disk: &str, n: usize, rounds: usize, peers: &Path) -> Vec<(String, Best)> {
    let dir = scratch(disk);
    let tools = tools::prepare(n, &dir, peers);
    let mut best: Vec<Best> = vec![Best::default(); tools.len()];
    let mut reference: Option<Facts> = None;
    // gitopsc takes a second at most, so it runs at least 3 rounds even when
    // the peers, minutes each at 1000 apps, run fewer.
    for round in 0..rounds.max(3) {
        for (tool, best) in tools.iter().zip(best.iter_mut()) {
            if round >= rounds && !tool.name.starts_with("gitopsc") {
                continue;
            }
            eprintln!("  {disk} {n} apps, round {}: {}", round + 1, tool.name);
            tool.clear();
            let s = run_once(tool);
            best.add(s.time, s.peak_kib);
            if round == 0 {
                verify(tool, n, &mut reference);
            }
        }
    }
    tools::discard(&dir);
    tools.iter().map(|t| t.name.clone()).zip(best).collect()
}

/// The first tool (gitopsc) sets the reference; every peer must match it.
fn verify(tool: &Tool, n: usize, reference: &mut Option<Facts>) {
    let Some(out) = &tool.output else { return };
    let facts = tools::facts(out);
    match reference {
        None => {
            let per_env: usize = facts.values().sum();
            assert!(
                per_env > 0,
                "{}: no per-app objects found in {}",
                tool.name,
                out.display()
            );
            *reference = Some(facts);
        }
        Some(expected) if *expected != facts => {
            let show = |f: &Facts| {
                f.iter()
                    .map(|(k, v)| format!("  {k}: {v}\n"))
                    .collect::<String>()
            };
            panic!(
                "{}'s output differs from gitopsc's at {n} apps\nexpected:\n{}found:\n{}",
                tool.name,
                show(expected),
                show(&facts)
            );
        }
        Some(_) => {}
    }
}

/// `check` and a re-render after one blueprint edit, each round editing anew.
fn one_edit(disk: &str, n: usize, rounds: usize, units: bool) -> (Best, Best) {
    let dir = scratch(disk);
    let project = dir.join("project");
    if units {
        tools::write_units_project(n, &project);
    } else {
        synthetic::write_project(n, &project).unwrap();
    }
    let bin = tools::gitopsc();
    // A cache of this run's own: the same project on the other disk, or in an
    // earlier run, would otherwise answer these edits from the user's cache.
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let tool =
        |args: &[&str]| Tool::new(args[0], &bin, args, &project).env("XDG_CACHE_HOME", cache);
    let render = |ok: i32| run_once(&tool(&["render"]).ok(ok));
    render(0);
    let check = tool(&["check"]).ok(1);
    run_once(&tool(&["check"]));
    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    let (mut checked, mut rendered) = (Best::default(), Best::default());
    // Every measured run sees an edit no earlier run compiled: a bound seen
    // before would be answered from the environment cache, and a render
    // right after a check of the same edit finds what the check stored.
    let edit = |max: usize| {
        let edited = text.replacen(
            "autoscale: {min: 2, max: 5}",
            &format!("autoscale: {{min: 2, max: {max}}}"),
            1,
        );
        assert_ne!(edited, text, "the edit applies");
        fs::write(&blueprint, edited).unwrap();
    };
    for round in 0..rounds {
        edit(10 + 2 * round);
        let s = run_once(&check);
        checked.add(s.time, s.peak_kib);
        edit(11 + 2 * round);
        let s = render(0);
        rendered.add(s.time, s.peak_kib);
    }
    tools::discard(&dir);
    eprintln!(
        "  => {disk} {n} apps, units {units}: check, one edit {}; re-render, one edit {}",
        ms(checked.time.unwrap()),
        ms(rendered.time.unwrap())
    );
    (checked, rendered)
}

fn main() {
    let o = options();
    let peers = tools::peers_dir();
    println!(
        "gitopsc peers benchmark: {} cores, release build, minimum of {} rounds ({} at 1000 apps or more)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        o.rounds,
        o.rounds_at(1000)
    );
    for (name, version) in tools::versions(&peers) {
        println!("- {name}: {version}");
    }
    let mut results: BTreeMap<(&str, usize), Vec<(String, Best)>> = BTreeMap::new();
    let mut edits = Vec::new();
    let mut edit_apps = 0;
    for disk in &o.disks {
        for &n in &o.apps {
            eprintln!("measuring {n} apps on {disk} ...");
            let rounds = o.rounds_at(n);
            if o.edits_only && n != *o.apps.iter().max().unwrap() {
                continue;
            }
            let rows = if o.edits_only {
                Vec::new()
            } else {
                measure(disk, n, rounds, &peers)
            };
            // As it goes, so a run cut short still shows what it measured.
            for (name, best) in &rows {
                eprintln!(
                    "  => {disk} {n} apps {name}: {} {:.0} MiB",
                    ms(best.time.unwrap()),
                    best.peak_kib as f64 / 1024.0
                );
            }
            if !rows.is_empty() {
                results.insert((disk, n), rows);
            }
            if n == *o.apps.iter().max().unwrap() {
                edits.push((*disk, "objects", one_edit(disk, n, rounds.max(3), false)));
                if tools::has_layout_key(&tools::gitopsc()) {
                    edits.push((*disk, "units", one_edit(disk, n, rounds.max(3), true)));
                }
                edit_apps = n;
            }
        }
    }
    tools::empty_trash();
    println!("\nWall time (minimum of the rounds) and peak RSS (wait4), all three environments;");
    println!("ratios are each tool's time over gitopsc's (default layout):\n");
    println!("| disk | apps | tool | wall time | peak RSS | / gitopsc |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for ((disk, n), rows) in &results {
        let base = rows[0].1.time.unwrap().as_secs_f64();
        for (name, best) in rows {
            let t = best.time.unwrap();
            println!(
                "| {disk} | {n} | {name} | {} | {:.0} MiB | {:.1}x |",
                ms(t),
                best.peak_kib as f64 / 1024.0,
                t.as_secs_f64() / base
            );
        }
    }
    println!("\nfastest peer (kubectl kustomize aside) over gitopsc:\n");
    for ((disk, n), rows) in &results {
        let base = rows[0].1.time.unwrap();
        if let Some((name, best)) = rows
            .iter()
            .filter(|(name, _)| !name.starts_with("gitopsc") && !name.starts_with("kubectl"))
            .min_by_key(|(_, b)| b.time.unwrap())
        {
            let t = best.time.unwrap();
            let units = rows
                .iter()
                .find(|(name, _)| name.contains("units"))
                .map(|(_, b)| {
                    let u = b.time.unwrap();
                    format!(
                        "; vs {} (layout: units): {:.1}x",
                        ms(u),
                        t.as_secs_f64() / u.as_secs_f64()
                    )
                })
                .unwrap_or_default();
            println!(
                "- {disk}, {n} apps: {name}, {} vs {} (gitopsc): {:.1}x{units}",
                ms(t),
                ms(base),
                t.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
    println!("\ngitopsc after one blueprint edit (minimum of the edits, 3 or more):\n");
    println!("| disk | apps | layout | check, one edit | re-render, one edit | peak RSS |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for (disk, layout, (check, render)) in &edits {
        println!(
            "| {disk} | {edit_apps} | {layout} | {} | {} | {:.0} MiB |",
            ms(check.time.unwrap()),
            ms(render.time.unwrap()),
            check.peak_kib.max(render.peak_kib) as f64 / 1024.0
        );
    }
    if let (Some(small), Some(large)) =
        (results.get(&("tmpfs", 100)), results.get(&("tmpfs", 1000)))
    {
        let g = |rows: &Vec<(String, Best)>| rows[0].1.time.unwrap().as_secs_f64();
        println!(
            "\ngrowth 100 -> 1000 apps, gitopsc cold on tmpfs: x{:.1}",
            g(large) / g(small)
        );
    }
}
