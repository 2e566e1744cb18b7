//! The final verify stage through the real pipeline: what no input path may
//! get past, whichever file wrote it (blueprint, overlay, patch, template).

use std::fs;
use std::sync::Arc;

use gitopsc::{EnvSelection, compile, workspace};

use crate::support::{gitopsc, write_case};

/// A small deterministic generator, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8] = b"0123456789abcdef";

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A credential in one of the shapes the detectors know, and the secret part of it.
fn credential(rng: &mut Rng) -> (String, String) {
    let password = format!("pw{}", rng.pick(ALNUM, 10));
    match rng.next() % 7 {
        0 => {
            let t = format!("ghp_{}", rng.pick(ALNUM, 36));
            (t.clone(), t)
        }
        1 => {
            let t = format!("AKIA{}", rng.pick(UPPER_DIGITS, 16));
            (format!("--key={t}"), t)
        }
        2 => (
            format!("postgres://app:{password}@db.data.svc/app"),
            password,
        ),
        3 => {
            let t = rng.pick(HEX, 64);
            (t.clone(), t)
        }
        4 => {
            let t = format!("{}Aa9", rng.pick(ALNUM, 40));
            (t.clone(), t)
        }
        5 => {
            let t = base64(format!("password={password}").as_bytes());
            (t.clone(), t)
        }
        _ => {
            let t = base64(format!("admin:{password}").as_bytes());
            (format!("Basic {t}"), t)
        }
    }
}

const BASE: &str = "system: {name: demo}\ngitops: {engine: flux, repo: \"https://github.com/acme/gitops.git\"}\nlayers: [apps]\nenvironments:\n  dev: {}\n";
const APP: &str =
    "apps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {http: 8080}\n";

/// The same literal placed in each input place gitopsc reads.
fn case(place: usize, literal: &str) -> String {
    let quoted = format!("{literal:?}");
    match place {
        0 => format!("-- blueprints/system.yaml --\n{BASE}{APP}    env: {{SETTING: {quoted}}}\n"),
        1 => format!("-- blueprints/system.yaml --\n{BASE}{APP}    args: [{quoted}]\n"),
        2 => format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}    annotations: {{acme.io/note: {quoted}}}\n"
        ),
        3 => format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}charts:\n  redis:\n    layer: apps\n    repo: https://charts.example.com\n    chart: redis\n    version: 1.0.0\n    values: {{note: {quoted}}}\n"
        ),
        4 => format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}    config:\n      mountPath: /etc/api\n      inline:\n        app.yaml: {:?}\n",
            format!("db:\n  note: {literal}\n")
        ),
        5 => format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}manifests:\n  extra:\n    layer: apps\n    templates: [templates/cm.yaml]\n-- blueprints/templates/cm.yaml --\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: extra}}\ndata:\n  note: {quoted}\n"
        ),
        _ => format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}-- overlays/dev.yaml --\npatches:\n  - target: {{kind: Deployment, name: api}}\n    ops:\n      - {{op: add, path: /spec/template/spec/containers/0/args, value: [{quoted}]}}\n"
        ),
    }
}

/// Property: a credential-shaped literal in any place never reaches the
/// output, and the refusal never shows it.
#[test]
fn no_credential_shaped_literal_reaches_the_output_from_any_place() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20 {
        for place in 0..7 {
            let (literal, secret) = credential(&mut rng);
            let dir = crate::support::tempdir();
            write_case(&case(place, &literal), dir.path());
            let sources = workspace::read_sources(dir.path()).unwrap();
            match compile(Arc::new(sources), &EnvSelection::All) {
                Ok(tree) => {
                    let leaked = tree
                        .envs
                        .values()
                        .flat_map(|e| e.files.values())
                        .any(|text| text.contains(&secret));
                    panic!(
                        "round {round}, place {place}: `{literal}` was accepted (in output: {leaked})"
                    );
                }
                Err(e) => {
                    assert_eq!(
                        e.kind.name(),
                        "secret",
                        "round {round}, place {place}: {}",
                        e.render()
                    );
                    assert!(
                        !e.render().contains(&secret),
                        "round {round}, place {place}: the error shows the secret:\n{}",
                        e.render()
                    );
                }
            }
        }
    }
}

/// A component placed in a system namespace gets its own objects only: in a
/// default-deny environment with a quota, `kube-system` gets no Namespace,
/// labels, quota or default-deny policy, and the user is told.
#[test]
fn system_namespaces_are_never_owned() {
    let dir = crate::support::tempdir();
    let blueprint = format!(
        "-- blueprints/system.yaml --\n{}{APP}    replicas: 2\n  coredns-probe:\n    layer: apps\n    namespace: kube-system\n    image: ghcr.io/acme/probe:1.0.0\n    ports: {{http: 8080}}\n    replicas: 2\n",
        BASE.replace(
            "  dev: {}\n",
            "  dev: {network: default-deny, quota: {pods: 20}}\n"
        )
    );
    write_case(&blueprint, dir.path());
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`coredns-probe` runs in system namespace `kube-system`"),
        "{}",
        run.stderr
    );
    let rendered = dir.path().join("rendered/dev");
    assert!(!rendered.join("namespaces/kube-system").exists());
    assert!(rendered.join("namespaces/apps").exists(), "apps is owned");
    for entry in walkdir::WalkDir::new(&rendered) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = fs::read_to_string(entry.path()).unwrap();
        if text.contains("namespace: kube-system") {
            for kind in ["kind: ResourceQuota", "kind: LimitRange", "kind: Namespace"] {
                assert!(!text.contains(kind), "{}: {kind}", entry.path().display());
            }
            assert!(
                !(text.contains("kind: NetworkPolicy") && text.contains("podSelector: {}")),
                "{}: a namespace-wide policy in kube-system",
                entry.path().display()
            );
        }
    }
}

/// A ConfigMap over the API server's 1 MiB limit is refused before it is written.
#[test]
fn oversized_config_is_refused() {
    let dir = crate::support::tempdir();
    write_case(
        &format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}    config: {{mountPath: /etc/api, files: {{big.txt: config/big.txt}}}}\n"
        ),
        dir.path(),
    );
    fs::create_dir_all(dir.path().join("blueprints/config")).unwrap();
    fs::write(
        dir.path().join("blueprints/config/big.txt"),
        "lorem ipsum dolor sit amet\n".repeat(60_000),
    )
    .unwrap();
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("over the 1 MiB limit"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("rendered").exists());
}

/// A reviewed false positive is waived with a reason, scoped to its app,
/// and the waiver shows on the object for the reviewer.
#[test]
fn a_credential_waiver_is_scoped_and_shown() {
    let build_id = "Xq7Lm2Pz9Rt4Vw8Ks1Hd6Jf3Gb5Nc0Ya";
    let with = |waiver: &str| {
        format!(
            "-- blueprints/system.yaml --\n{BASE}{APP}    env: {{BUILD_ID: {build_id}}}\n{waiver}  other:\n    layer: apps\n    image: ghcr.io/acme/other:1.0.0\n    ports: {{http: 8080}}\n"
        )
    };
    let refused = crate::support::tempdir();
    write_case(&with(""), refused.path());
    let run = gitopsc(&["render"], refused.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains(build_id), "{}", run.stderr);

    let waived = crate::support::tempdir();
    write_case(
        &with("    waivers: {\"credential:BUILD_ID\": a public build identifier and no secret}\n"),
        waived.path(),
    );
    let run = gitopsc(&["render"], waived.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let deployment = fs::read_to_string(
        waived
            .path()
            .join("rendered/dev/apps/api/deployment-api.yaml"),
    )
    .unwrap();
    assert!(
        deployment.contains("gitopsc.io/waiver.credential.BUILD_ID: a public build identifier"),
        "{deployment}"
    );

    // The waiver belongs to `api`: the same value on `other` is still refused.
    let scoped = crate::support::tempdir();
    let text =
        with("    waivers: {\"credential:BUILD_ID\": a public build identifier and no secret}\n")
            + &format!("    env: {{BUILD_ID: {build_id}}}\n");
    write_case(&text, scoped.path());
    let run = gitopsc(&["render"], scoped.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Deployment/apps/other"),
        "{}",
        run.stderr
    );
}

/// Two autoscalers that each fit the quota at their max, but not together:
/// the quota admission controller counts every pod of the namespace
/// (https://kubernetes.io/docs/concepts/policy/resource-quotas/), so they
/// cannot all scale out at once. Said as a notice; a quota that holds them
/// all says nothing.
#[test]
fn autoscalers_that_overrun_the_quota_together_are_noticed() {
    let case = |limits_cpu: &str| {
        let app = |name: &str| {
            format!(
                "  {name}:\n    layer: apps\n    image: ghcr.io/acme/{name}:1.0.0\n    ports: {{http: 8080}}\n\
                 \x20   resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 256Mi}}}}\n\
                 \x20   autoscale: {{min: 1, max: 4}}\n"
            )
        };
        let env = format!(
            "  dev: {{quota: {{cpu: {{requests: \"4\", limits: \"{limits_cpu}\"}}, memory: {{requests: 4Gi, limits: 4Gi}}}}}}\n"
        );
        format!(
            "-- blueprints/system.yaml --\n{}apps:\n{}{}  worker:\n    layer: apps\n    image: ghcr.io/acme/worker:1.0.0\n\
             \x20   resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 250m, memory: 256Mi}}}}\n    replicas: 2\n",
            BASE.replace("  dev: {}\n", &env),
            app("api"),
            app("web"),
        )
    };
    // 4 x 500m each: 2 CPUs alone, 4 together, plus the worker's 2 x 250m.
    let tight = crate::support::compile_case(&case("3"));
    assert_eq!(
        tight.envs["dev"].notices,
        vec![
            "namespace `apps`: its workloads at their most replicas (every autoscaler at its max) need 4.5 limits.cpu, but its quota allows `3`: they cannot all scale out at once"
                .to_string()
        ]
    );
    let roomy = crate::support::compile_case(&case("4.5"));
    assert_eq!(roomy.envs["dev"].notices, Vec::<String>::new());
}
