//! The environment cache: after every edit of a random sequence (blueprint
//! values, overlays, a template, a config file, apps added and removed, the
//! layout switched, mistakes made and fixed), a render and a check that use
//! the cache answer exactly as ones without it do (the same exit code, the
//! same error, the same bytes); damaged entries are ignored and rewritten;
//! and an edit to one overlay compiles that environment alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use gitopsc::incremental::EnvCache;
use gitopsc::tree::EnvTree;
use gitopsc::{EnvSelection, compile, compile_cached, workspace};

use crate::support::{Rng, Run, gitopsc_env, read_tree, tempdir};
use crate::synthetic;

const APPS: usize = 4;
const TEMPLATE: &str = "blueprints/templates/extra.yaml";
const CONFIG: &str = "blueprints/config/extra.conf";

/// The synthetic project with a manifest set and an app reading a config file.
fn write_project(project: &Path) {
    synthetic::write_project(APPS, project).unwrap();
    let blueprint = project.join("blueprints/system.yaml");
    let mut text = fs::read_to_string(&blueprint).unwrap();
    text.push_str(
        "  filed:\n    layer: apps\n    image: ghcr.io/acme/filed:1.0.0\n    ports: {http: 8080}\n    replicas: 2\n\
         \x20   config: {mountPath: /etc/filed, files: {app.conf: config/extra.conf}}\n\
         \x20   probes: {readiness: {http: /ready}, liveness: {http: /live}}\n\
         manifests:\n  extras:\n    layer: platform\n    templates: [templates/extra.yaml]\n    values: {size: 1}\n",
    );
    fs::write(&blueprint, text).unwrap();
    write(project, TEMPLATE, &template("1"));
    write(project, CONFIG, "port = 8080\n");
}

fn template(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  size: \"{{{{ values.size }}}}\"\n  note: \"{value} in {{{{ env.name }}}}\"\n"
    )
}

fn write(project: &Path, path: &str, text: &str) {
    let path = project.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn read(project: &Path, path: &str) -> String {
    fs::read_to_string(project.join(path)).unwrap()
}

/// One random edit; returns what it did, for the failure message.
fn edit(project: &Path, rng: &mut Rng, added: &mut Vec<String>) -> String {
    const BLUEPRINT: &str = "blueprints/system.yaml";
    let text = read(project, BLUEPRINT);
    let app = synthetic::app_name(rng.below(APPS));
    match rng.below(9) {
        0 => {
            let max = 5 + rng.below(4);
            let at = text.find(&format!("  {app}:\n")).unwrap();
            let (head, tail) = text.split_at(at);
            let from = tail.find("autoscale: {min: 2, max: ").unwrap() + 25;
            let digits = tail[from..].find('}').unwrap();
            let tail = format!("{}{max}{}", &tail[..from], &tail[from + digits..]);
            write(project, BLUEPRINT, &format!("{head}{tail}"));
            format!("{app} autoscale max {max}")
        }
        1 | 2 => {
            let env = synthetic::ENVIRONMENTS[rng.below(3)];
            let path = format!("overlays/{env}.yaml");
            let overlay = read(project, &path);
            let start = overlay.find(&format!("  {app}: ")).unwrap();
            let end = start + overlay[start..].find('\n').unwrap();
            // One in four is a mistake: an autoscaler whose minimum passes its maximum.
            let change = match rng.below(4) {
                0 => "{autoscale: {min: 9, max: 3}}".to_string(),
                n => format!(
                    "{{env: {{LOG_LEVEL: {}}}}}",
                    ["debug", "info", "warn"][n - 1]
                ),
            };
            let mut new = overlay.clone();
            new.replace_range(start..end, &format!("  {app}: {change}"));
            write(project, &path, &new);
            format!("{env} overlay: {app} {change}")
        }
        3 => {
            // One in three breaks the template (an undefined value).
            let value = ["1", "2", "{{ values.nope }}"][rng.below(3)];
            write(project, TEMPLATE, &template(value));
            format!("template note {value}")
        }
        4 => {
            let port = 8080 + rng.below(3);
            write(project, CONFIG, &format!("port = {port}\n"));
            format!("config file port {port}")
        }
        5 => {
            let name = format!("added-{}", rng.next() % 1000);
            if added.iter().any(|e| e.starts_with(&format!("  {name}:\n"))) {
                return "nothing (name taken)".into();
            }
            let entry = format!(
                "  {name}:\n    layer: apps\n    image: ghcr.io/acme/{name}:2.0.0\n    ports: {{http: 9090}}\n    replicas: 2\n    uses: [postgres]\n    probes: {{readiness: {{http: /ready}}, liveness: {{http: /live}}}}\n"
            );
            let at = text.find("manifests:\n").unwrap();
            write(
                project,
                BLUEPRINT,
                &format!("{}{entry}{}", &text[..at], &text[at..]),
            );
            added.push(entry);
            format!("added {name}")
        }
        6 => {
            let Some(entry) = (!added.is_empty()).then(|| added.remove(rng.below(added.len())))
            else {
                return "nothing (no app to remove)".into();
            };
            write(project, BLUEPRINT, &text.replacen(&entry, "", 1));
            format!("removed {}", entry.lines().next().unwrap_or_default())
        }
        7 => {
            let new = match text.strip_prefix("layout: units\n") {
                Some(rest) => rest.to_string(),
                None => format!("layout: units\n{text}"),
            };
            write(project, BLUEPRINT, &new);
            "layout switched".into()
        }
        _ => {
            let domain = ["example.com", "example.org", "acme.test"][rng.below(3)];
            let at = text.find("prod: {extends: staging, domain: ").unwrap();
            let rest = &text[at..];
            let rest = &rest[rest.find(", zones").unwrap()..];
            let new = format!(
                "{}prod: {{extends: staging, domain: {domain}{rest}",
                &text[..at]
            );
            write(project, BLUEPRINT, &new);
            format!("prod domain {domain}")
        }
    }
}

fn run(args: &[&str], project: &Path, cache: &Path, cached: bool) -> Run {
    let cache = cache.to_str().unwrap();
    let off = if cached { "" } else { "1" };
    gitopsc_env(
        args,
        project,
        &[("XDG_CACHE_HOME", cache), (workspace::NO_CACHE_VAR, off)],
    )
}

#[test]
fn random_edit_sequences_render_with_the_cache_as_a_clean_render_does() {
    let dir = tempdir();
    let project = dir.path().join("project");
    let cache = dir.path().join("cache");
    write_project(&project);
    let first = run(&["render"], &project, &cache, true);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut added = Vec::new();
    let (mut failures, mut successes) = (0, 0);
    for step in 0..30 {
        let what = edit(&project, &mut rng, &mut added);
        let clean_dir = dir.path().join("clean");
        let clean_out = clean_dir.to_str().unwrap();
        let clean = run(&["render", "--out", clean_out], &project, &cache, false);
        let clean_check = run(&["check"], &project, &cache, false);
        let check = run(&["check"], &project, &cache, true);
        assert_eq!(
            (check.code, &check.stdout, &check.stderr),
            (clean_check.code, &clean_check.stdout, &clean_check.stderr),
            "step {step} ({what}): check with the cache"
        );
        let render = run(&["render"], &project, &cache, true);
        assert_eq!(
            (render.code, &render.stderr),
            (clean.code, &clean.stderr),
            "step {step} ({what}): render with the cache"
        );
        if clean.code == 0 {
            successes += 1;
            assert!(
                read_tree(&project.join("rendered")) == read_tree(&clean_dir),
                "step {step} ({what}): the cached render differs from a clean one"
            );
        } else {
            failures += 1;
            assert_eq!(clean.code, 2, "step {step} ({what}): {}", clean.stderr);
        }
        let _ = fs::remove_dir_all(&clean_dir);
    }
    assert!(
        failures >= 3 && successes >= 8,
        "the sequence holds both outcomes: {failures} failures, {successes} successes"
    );
    assert!(
        fs::read_dir(cache.join("gitopsc/envs")).unwrap().count() >= 3,
        "the cache was written"
    );
}

#[test]
fn damaged_cache_entries_are_ignored_and_rewritten() {
    let dir = tempdir();
    let project = dir.path().join("project");
    let cache = dir.path().join("cache");
    write_project(&project);
    let clean = run(&["render", "--out", "../clean"], &project, &cache, false);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let first = run(&["render"], &project, &cache, true);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let envs = cache.join("gitopsc/envs");
    let mut entries: Vec<_> = fs::read_dir(&envs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 3, "one entry per environment");
    let good: Vec<Vec<u8>> = entries.iter().map(|p| fs::read(p).unwrap()).collect();
    // Truncated, one byte changed, and another environment's entry under this one's name.
    fs::write(&entries[0], &good[0][..good[0].len() / 2]).unwrap();
    let mut flipped = good[1].clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    fs::write(&entries[1], flipped).unwrap();
    fs::write(&entries[2], &good[0]).unwrap();
    fs::remove_dir_all(project.join("rendered")).unwrap();
    let again = run(&["render"], &project, &cache, true);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        read_tree(&project.join("rendered")) == read_tree(&dir.path().join("clean")),
        "a damaged cache changes nothing in the output"
    );
    for (path, bytes) in entries.iter().zip(&good) {
        assert_eq!(
            &fs::read(path).unwrap(),
            bytes,
            "{} rewritten",
            path.display()
        );
    }
}

/// An in-memory cache that counts what it is asked.
#[derive(Default)]
struct Counting {
    entries: Mutex<BTreeMap<String, EnvTree>>,
    hits: Mutex<Vec<String>>,
}

impl EnvCache for Counting {
    fn salt(&self) -> Option<String> {
        Some("test".into())
    }
    fn get(&self, key: &str) -> Option<EnvTree> {
        let tree = self.entries.lock().unwrap().get(key).cloned()?;
        self.hits.lock().unwrap().push(tree.env.clone());
        Some(tree)
    }
    fn put(&self, key: &str, tree: &EnvTree) {
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_string(), tree.clone());
    }
}

#[test]
fn an_overlay_edit_compiles_its_environment_alone_and_a_blueprint_edit_every_one() {
    let dir = tempdir();
    let project = dir.path().join("project");
    write_project(&project);
    let cache = Counting::default();
    let compiled = |cache: &Counting| {
        let sources = Arc::new(workspace::read_sources(&project).unwrap());
        let cached = compile_cached(sources.clone(), &EnvSelection::All, cache).unwrap();
        assert_eq!(cached, compile(sources, &EnvSelection::All).unwrap());
        std::mem::take(&mut *cache.hits.lock().unwrap())
    };
    assert!(compiled(&cache).is_empty(), "a cold cache hits nothing");
    let mut hits = compiled(&cache);
    hits.sort();
    assert_eq!(hits, ["dev", "prod", "staging"]);
    let overlay = read(&project, "overlays/prod.yaml");
    write(
        &project,
        "overlays/prod.yaml",
        &overlay.replacen("max: 10", "max: 11", 1),
    );
    let mut hits = compiled(&cache);
    hits.sort();
    assert_eq!(hits, ["dev", "staging"], "prod alone compiles");
    write(&project, CONFIG, "port = 9\n");
    assert!(
        compiled(&cache).is_empty(),
        "a blueprint file reaches every environment"
    );
}

#[test]
fn environments_compiled_before_an_error_are_stored_and_the_failed_one_is_not() {
    // Stores run once the environments have compiled: an error in `staging`
    // (the last in name order) must not cost `dev` and `prod` their entries.
    let dir = tempdir();
    let project = dir.path().join("project");
    write_project(&project);
    let cache = Counting::default();
    let overlay = read(&project, "overlays/staging.yaml");
    let broken = format!(
        "{overlay}\npatches:\n  - target: {{kind: Deployment, name: app-0001}}\n    ops:\n      - {{op: remove, path: /spec/nowhere}}\n"
    );
    write(&project, "overlays/staging.yaml", &broken);
    let sources = Arc::new(workspace::read_sources(&project).unwrap());
    let err = compile_cached(sources, &EnvSelection::All, &cache).expect_err("staging fails");
    assert!(
        err.note.as_deref().is_some_and(|n| n.contains("`staging`")),
        "{err:?}"
    );
    let stored: Vec<String> = cache
        .entries
        .lock()
        .unwrap()
        .values()
        .map(|tree| tree.env.clone())
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    write(&project, "overlays/staging.yaml", &overlay);
    let sources = Arc::new(workspace::read_sources(&project).unwrap());
    compile_cached(sources, &EnvSelection::All, &cache).unwrap();
    let mut hits = std::mem::take(&mut *cache.hits.lock().unwrap());
    hits.sort();
    assert_eq!(hits, ["dev", "prod"]);
}

#[test]
fn a_disk_cache_reads_back_what_it_wrote_and_evicts_the_least_recently_used() {
    use std::time::{Duration, SystemTime};
    let dir = tempdir();
    let project = dir.path().join("project");
    write_project(&project);
    let sources = Arc::new(workspace::read_sources(&project).unwrap());
    let tree = compile(sources, &EnvSelection::All).unwrap();
    let dev = tree.envs["dev"].clone();
    let envs = dir.path().join("envs");
    let unbounded = workspace::DiskCache::new(envs.clone(), u64::MAX);
    let keys: Vec<String> = (1..=3).map(|i| format!("{i}").repeat(64)).collect();
    assert_eq!(unbounded.get(&keys[0]), None);
    for (i, key) in keys.iter().enumerate() {
        unbounded.put(key, &dev);
        let used = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64);
        let file = fs::File::options().write(true).open(envs.join(key));
        file.unwrap().set_modified(used).unwrap();
    }
    assert_eq!(unbounded.get(&keys[0]).as_ref(), Some(&dev));
    // Reading marked the first entry used: now the second is the oldest.
    let one = fs::metadata(envs.join(&keys[0])).unwrap().len();
    workspace::DiskCache::new(envs.clone(), 2 * one).put(&keys[2], &dev);
    assert_eq!(
        unbounded.get(&keys[1]),
        None,
        "the least recently used went"
    );
    assert_eq!(unbounded.get(&keys[0]).as_ref(), Some(&dev));
    assert_eq!(unbounded.get(&keys[2]).as_ref(), Some(&dev));
}
