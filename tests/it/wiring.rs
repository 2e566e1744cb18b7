//! The GitOps wiring, checked on the rendered output of every example:
//! ordering follows CRDs, `uses` and layers; unit paths cover every object
//! exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::support::{compile_project, projects};
use gitopsc::pointer::Lookup;
use gitopsc::target::UNIT_ANNOTATION;
use gitopsc::tree::{EnvTree, KUSTOMIZATION};

fn parse(path: &str, text: &str) -> Value {
    gitopsc::yaml::parse_document(path, text.as_bytes())
        .unwrap()
        .value
}

/// One engine object (Flux Kustomization or Argo CD Application) per unit.
struct Deployer {
    name: String,
    paths: Vec<String>,
    depends_on: Vec<String>,
    wave: Option<i64>,
}

fn deployers(tree: &EnvTree) -> BTreeMap<String, Deployer> {
    let prefix = format!("{}/gitops/", tree.env);
    let mut out = BTreeMap::new();
    for (file, text) in tree
        .files
        .range(prefix.clone()..)
        .take_while(|(f, _)| f.starts_with(&prefix))
    {
        if file.ends_with(KUSTOMIZATION) {
            continue;
        }
        let v = parse(file, text);
        let Some(unit) = v
            .at(&format!(
                "/metadata/annotations/{}",
                UNIT_ANNOTATION.replace('/', "~1")
            ))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let spec = &v["spec"];
        let mut paths = Vec::new();
        if let Some(p) = spec["path"].as_str() {
            paths.push(p.trim_start_matches("./").to_string());
        }
        for source in spec["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&spec["source"]))
        {
            if let Some(p) = source["path"].as_str() {
                paths.push(p.to_string());
            }
        }
        let depends_on = spec["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        let wave = v
            .at("/metadata/annotations/argocd.argoproj.io~1sync-wave")
            .and_then(Value::as_str)
            .and_then(|w| w.parse().ok());
        out.insert(
            unit.to_string(),
            Deployer {
                name: v["metadata"]["name"].as_str().unwrap().to_string(),
                paths,
                depends_on,
                wave,
            },
        );
    }
    out
}

/// True when unit `a` is deployed after unit `b`.
fn after(deployers: &BTreeMap<String, Deployer>, a: &str, b: &str) -> bool {
    let (Some(da), Some(db)) = (deployers.get(a), deployers.get(b)) else {
        return false;
    };
    if let (Some(wa), Some(wb)) = (da.wave, db.wave) {
        return wa > wb;
    }
    let by_name: BTreeMap<&str, &Deployer> =
        deployers.values().map(|d| (d.name.as_str(), d)).collect();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = da.depends_on.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        if name == db.name {
            return true;
        }
        if seen.insert(name)
            && let Some(d) = by_name.get(name)
        {
            stack.extend(d.depends_on.iter().map(String::as_str));
        }
    }
    false
}

#[test]
fn custom_resources_uses_and_layers_come_after_what_they_need() {
    let mut checked = 0;
    for (name, path) in projects() {
        let sources = Arc::new(gitopsc::workspace::read_sources(&path).unwrap());
        let project = gitopsc::blueprint::load(sources).unwrap();
        let tree = compile_project(&path);
        for (env_name, env_tree) in &tree.envs {
            if !env_tree
                .files
                .contains_key(&format!("{env_name}/gitops/{KUSTOMIZATION}"))
            {
                continue;
            }
            let env = gitopsc::resolve::resolve(&project, env_name).unwrap();
            let deployers = deployers(env_tree);
            let unit_of = |c: &gitopsc::resolve::Component| format!("{}/{}", c.layer, c.name);
            let providers: BTreeMap<&str, String> = env
                .components
                .values()
                .flat_map(|c| c.provides.iter().map(move |g| (g.as_str(), unit_of(c))))
                .collect();
            for (file, text) in &env_tree.files {
                let rel = file.trim_start_matches(&format!("{env_name}/"));
                let parts: Vec<&str> = rel.split('/').collect();
                if parts.len() != 3
                    || parts[0] == "gitops"
                    || parts[0] == "namespaces"
                    || file.ends_with(KUSTOMIZATION)
                {
                    continue;
                }
                let unit = format!("{}/{}", parts[0], parts[1]);
                let object = parse(file, text);
                let group = object["apiVersion"]
                    .as_str()
                    .unwrap()
                    .split_once('/')
                    .map(|(g, _)| g)
                    .unwrap_or("");
                if let Some(provider) = providers.get(group)
                    && *provider != unit
                {
                    assert!(
                        after(&deployers, &unit, provider),
                        "{name}/{env_name}: {file} ({group}) must come after {provider}"
                    );
                    checked += 1;
                }
            }
            for c in env.components.values() {
                // `kube-apiserver` is no component, and what an operator
                // manages deploys after it.
                for u in c.uses.iter().filter(|u| !u.manages) {
                    let Some(target) = env.components.get(&u.target) else {
                        continue;
                    };
                    if deployers.contains_key(&unit_of(target))
                        && deployers.contains_key(&unit_of(c))
                    {
                        assert!(
                            after(&deployers, &unit_of(c), &unit_of(target)),
                            "{name}/{env_name}: {} uses {}",
                            c.name,
                            target.name
                        );
                        checked += 1;
                    }
                }
                // Layers form a partial order (`after:`): a component follows
                // what the layers before its own hold, not every lower index.
                let before = layers_before(&env.blueprint, c.layer_index);
                for other in env
                    .components
                    .values()
                    .filter(|o| before.contains(&o.layer_index))
                {
                    if deployers.contains_key(&unit_of(other))
                        && deployers.contains_key(&unit_of(c))
                    {
                        assert!(
                            after(&deployers, &unit_of(c), &unit_of(other)),
                            "{name}/{env_name}: layer order {} after {}",
                            c.name,
                            other.name
                        );
                    }
                }
                let ns_unit = format!("namespaces/{}", c.namespace);
                if deployers.contains_key(&unit_of(c)) {
                    assert!(
                        after(&deployers, &unit_of(c), &ns_unit),
                        "{name}/{env_name}: {} after its namespace",
                        c.name
                    );
                }
            }
        }
    }
    assert!(
        checked > 50,
        "the examples exercise the rule ({checked} checks)"
    );
}

/// The object files a kustomization directory builds, recursively.
fn built_files(tree: &EnvTree, dir: &str, out: &mut Vec<String>) {
    let kustomization = format!("{dir}/{KUSTOMIZATION}");
    let text = tree
        .files
        .get(&kustomization)
        .unwrap_or_else(|| panic!("{kustomization} exists"));
    for resource in parse(&kustomization, text)["resources"].as_array().unwrap() {
        let path = format!("{dir}/{}", resource.as_str().unwrap());
        if tree.files.contains_key(&path) {
            out.push(path);
        } else {
            built_files(tree, &path, out);
        }
    }
}

#[test]
fn unit_paths_cover_every_object_exactly_once() {
    for (name, path) in projects() {
        let sources = Arc::new(gitopsc::workspace::read_sources(&path).unwrap());
        let project = gitopsc::blueprint::load(sources).unwrap();
        let tree = compile_project(&path);
        for (env_name, env_tree) in &tree.envs {
            let env = gitopsc::resolve::resolve(&project, env_name).unwrap();
            let base = format!(
                "{}/{env_name}/",
                env.blueprint.gitops.as_ref().unwrap().path
            );
            let mut covered: Vec<String> = Vec::new();
            for d in deployers(env_tree).values() {
                for p in &d.paths {
                    let dir = format!(
                        "{env_name}/{}",
                        p.strip_prefix(&base)
                            .unwrap_or_else(|| panic!("{p} is under {base}"))
                    );
                    built_files(env_tree, &dir, &mut covered);
                }
            }
            let unique: BTreeSet<&String> = covered.iter().collect();
            assert_eq!(
                unique.len(),
                covered.len(),
                "{name}/{env_name}: an object is deployed by two units"
            );
            let all: BTreeSet<&String> = env_tree
                .files
                .keys()
                .filter(|f| {
                    !f.ends_with(KUSTOMIZATION)
                        && !f.starts_with(&format!("{env_name}/gitops/"))
                        && !f.starts_with(&format!("{env_name}/bootstrap/"))
                })
                .collect();
            assert_eq!(
                unique, all,
                "{name}/{env_name}: every object is deployed by exactly one unit"
            );
            let mut whole = Vec::new();
            built_files(env_tree, env_name, &mut whole);
            let whole: BTreeSet<&String> = whole.iter().collect();
            let everything: BTreeSet<&String> = env_tree
                .files
                .keys()
                .filter(|f| !f.ends_with(KUSTOMIZATION))
                .collect();
            assert_eq!(
                whole, everything,
                "{name}/{env_name}: the root kustomization builds every object"
            );
        }
    }
}

#[test]
fn only_pgbouncer_and_the_backup_reach_postgres_in_a_default_deny_namespace() {
    let tree = compile_project(&crate::support::repo_root());
    let prod = &tree.envs["prod"];
    let policies: Vec<Value> = prod
        .files
        .iter()
        .filter(|(f, _)| f.contains("/networkpolicy-"))
        .map(|(f, t)| parse(f, t))
        .collect();
    let selects = |p: &Value, app: &str| {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == app
    };
    let into_postgres: Vec<&Value> = policies
        .iter()
        .filter(|p| {
            selects(p, "postgres")
                && p["spec"]["policyTypes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == "Ingress")
        })
        .collect();
    assert_eq!(into_postgres.len(), 1, "one allow into postgres");
    // The pool, and the backup job: pg_dump's session settings and snapshot
    // would not survive the pool's transaction mode.
    let rules = into_postgres[0]["spec"]["ingress"].as_array().unwrap();
    let from: Vec<&Value> = rules
        .iter()
        .map(|r| &r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
        .collect();
    assert_eq!(from, ["db-backup", "pgbouncer"]);
    assert!(rules.iter().all(|r| r["ports"][0]["port"] == 5432));
    let deny: Vec<&Value> = policies
        .iter()
        .filter(|p| p["metadata"]["name"] == "default-deny")
        .collect();
    // The chart namespace `infrastructure` too; observability is namespace-isolated.
    assert_eq!(
        deny.len(),
        3,
        "apps, data and infrastructure deny by default"
    );
    let backup = parse(
        "egress",
        &prod.files["prod/data/db-backup/networkpolicy-egress-db-backup.yaml"],
    );
    assert!(
        backup["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"),
        "a CronJob keeps its declared egress"
    );
    assert!(
        prod.files
            .contains_key("prod/data/postgres/networkpolicy-ingress-postgres.yaml"),
        "the allow lives with the component it protects"
    );
}

/// The layers `layer` deploys after, directly or through others.
fn layers_before(
    blueprint: &gitopsc::blueprint::model::Blueprint,
    layer: usize,
) -> std::collections::BTreeSet<usize> {
    let predecessors = blueprint.layer_predecessors();
    let mut out = std::collections::BTreeSet::new();
    let mut pending = predecessors[layer].clone();
    while let Some(p) = pending.pop() {
        if out.insert(p) {
            pending.extend(&predecessors[p]);
        }
    }
    out
}
