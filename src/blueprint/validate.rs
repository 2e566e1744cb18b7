//! Checks on a resolved blueprint: every value the type system lets through
//! but Kubernetes, Flux or Argo CD would refuse, reported where it was written.

use std::collections::{BTreeMap, BTreeSet};

use super::locator::Locator;
use super::model::*;
use crate::error::{Error, ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::resolve::{Component, EnvSettings};
use crate::sources::{BLUEPRINTS_DIR, SourceFile, Sources};
use crate::suggest;

/// Layer names that would collide with gitopsc's own directories in the tree.
pub const RESERVED_LAYERS: [&str; 3] = ["gitops", "namespaces", "bootstrap"];
/// Component names stay short enough for every derived object name.
pub const MAX_COMPONENT_NAME: usize = 40;

struct Check<'a> {
    locator: &'a Locator,
}

impl Check<'_> {
    fn fail(
        &self,
        kind: ErrorKind,
        at: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Error {
        self.locator.error(kind, at, message).with_help(help)
    }

    fn fail_key(&self, at: &str, message: impl Into<String>, help: impl Into<String>) -> Error {
        Error::at(ErrorKind::InvalidValue, self.locator.key(at), message).with_help(help)
    }

    fn dns_label(&self, at: &str, value: &str, what: &str, max: usize) -> Result<()> {
        if is_dns_label(value) && value.len() <= max {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("{what} `{value}` is not a valid name"),
            format!("use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {max} characters"),
        ))
    }

    fn name_key(&self, at: &str, value: &str, what: &str, max: usize) -> Result<()> {
        if is_dns_label(value) && value.len() <= max {
            return Ok(());
        }
        Err(self.fail_key(
            at,
            format!("{what} name `{value}` is not a valid name"),
            format!("use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {max} characters"),
        ))
    }

    fn quantity(&self, at: &str, value: &Scalar) -> Result<()> {
        if is_quantity(&value.0) {
            return Ok(());
        }
        let help = match quantity_suggestion(&value.0) {
            Some(s) => format!(
                "did you mean `{s}`? Kubernetes quantities use suffixes like `m`, `Ki`, `Mi`, `Gi`"
            ),
            None => "Kubernetes quantities look like `100m`, `0.5`, `128Mi`, `10Gi`".to_string(),
        };
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{}` is not a resource quantity", value.0),
            help,
        ))
    }

    fn duration(&self, at: &str, value: &str) -> Result<()> {
        if is_duration(value) {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{value}` is not a duration"),
            "durations look like `30s`, `5m`, `1h`, `1h30m`",
        ))
    }

    fn port(&self, at: &str, name: &str, number: u32) -> Result<()> {
        if !is_port_name(name) {
            return Err(self.fail_key(
                at,
                format!("port name `{name}` is not valid"),
                "port names are at most 15 lowercase letters, digits and `-`, with at least one letter",
            ));
        }
        if !(1..=65535).contains(&number) {
            return Err(self.fail(
                ErrorKind::InvalidValue,
                at,
                format!("port {number} is out of range"),
                "ports are between 1 and 65535",
            ));
        }
        Ok(())
    }

    fn absolute_path(&self, at: &str, path: &str) -> Result<()> {
        if path.starts_with('/') && !path.split('/').any(|c| c == "..") && !path.contains('\0') {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{path}` is not an absolute path"),
            "mount paths start with `/` and contain no `..`",
        ))
    }

    /// A file under `blueprints/` that the snapshot holds as a regular file.
    fn include(&self, at: &str, path: &str, sources: &Sources) -> Result<String> {
        let escape = |why: &str| {
            self.fail(
                ErrorKind::Include,
                at,
                format!("`{path}` {why}"),
                "config files and templates are paths relative to `blueprints/`, inside it",
            )
        };
        if path.is_empty() {
            return Err(escape("is empty"));
        }
        if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
            return Err(escape("is an absolute path"));
        }
        if path.split(['/', '\\']).any(|c| c == "..") {
            return Err(escape("leaves the `blueprints/` directory"));
        }
        let full = format!("{BLUEPRINTS_DIR}/{}", path.trim_start_matches("./"));
        match sources.get(&full) {
            Some(SourceFile::Regular(_)) => Ok(full),
            Some(SourceFile::Symlink) => {
                Err(escape("is a symbolic link, which gitopsc does not follow"))
            }
            Some(SourceFile::TooLarge(size)) => Err(escape(&format!(
                "is {size} bytes, too large for a config file"
            ))),
            None => Err(self.fail(
                ErrorKind::Include,
                at,
                format!("`{path}` does not exist under `blueprints/`"),
                "create the file, or fix the path (relative to `blueprints/`)",
            )),
        }
    }
}

/// Checks values on the resolved blueprint of one environment.
pub fn validate(
    bp: &Blueprint,
    env: &EnvSettings,
    locator: &Locator,
    sources: &Sources,
) -> Result<()> {
    let c = Check { locator };
    check_system(&c, bp)?;
    check_environment(&c, bp, env)?;
    check_gitops(&c, bp)?;
    for (name, store) in &bp.secret_stores {
        let at = from_tokens(["secretStores", name]);
        c.name_key(&at, name, "secret store", 63)?;
        c.duration(&push(&at, "refresh"), &store.refresh)?;
    }
    for (name, ns) in &bp.namespaces {
        let at = from_tokens(["namespaces", name]);
        c.name_key(&at, name, "namespace", 63)?;
        if let Some(q) = &ns.quota {
            check_quota(&c, &push(&at, "quota"), q)?;
        }
    }
    if let Some(r) = &bp.defaults.resources {
        check_resources(&c, "/defaults/resources", r)?;
    }
    for (name, app) in &bp.apps {
        check_app(&c, bp, name, app, sources)?;
    }
    for (name, chart) in &bp.charts {
        check_chart(&c, name, chart)?;
    }
    for (name, set) in &bp.manifests {
        let at = from_tokens(["manifests", name]);
        c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
        for (i, t) in set.templates.iter().enumerate() {
            c.include(&push(&push(&at, "templates"), &i.to_string()), t, sources)?;
        }
        check_map_value(&c, &push(&at, "values"), &set.values)?;
    }
    Ok(())
}

fn check_system(c: &Check, bp: &Blueprint) -> Result<()> {
    c.dns_label(
        "/system/name",
        &bp.system.name,
        "system name",
        MAX_COMPONENT_NAME,
    )?;
    if let Some(ns) = &bp.system.namespace {
        c.dns_label("/system/namespace", ns, "namespace", 63)?;
    }
    for (key, value) in [("owner", &bp.system.owner), ("partOf", &bp.system.part_of)] {
        if let Some(v) = value
            && !is_label_value(v)
        {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push("/system", key),
                format!("`{v}` cannot be a label value"),
                "label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ));
        }
    }
    if bp.layers.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            "/layers",
            "no layers are defined",
            "list the deployment layers in order, e.g. `[infrastructure, apps]`",
        ));
    }
    for (i, layer) in bp.layers.iter().enumerate() {
        let at = push("/layers", &i.to_string());
        c.dns_label(&at, layer, "layer", MAX_COMPONENT_NAME)?;
        if RESERVED_LAYERS.contains(&layer.as_str()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &at,
                format!("layer name `{layer}` is reserved"),
                "`gitops`, `namespaces` and `bootstrap` are directories gitopsc writes itself; pick another name",
            ));
        }
        if bp.layers[..i].contains(layer) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &at,
                format!("layer `{layer}` is listed twice"),
                "each layer appears once",
            ));
        }
    }
    Ok(())
}

fn check_environment(c: &Check, bp: &Blueprint, env: &EnvSettings) -> Result<()> {
    for name in bp.environments.keys() {
        c.name_key(
            &from_tokens(["environments", name]),
            name,
            "environment",
            63,
        )?;
    }
    let at = from_tokens(["environments", env.name.as_str()]);
    if let Some(domain) = &env.domain
        && !is_dns_subdomain(domain)
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(&at, "domain"),
            format!("`{domain}` is not a DNS domain"),
            "use lowercase DNS names like `dev.example.com`",
        ));
    }
    for (i, zone) in env.zones.iter().enumerate() {
        if !is_label_value(zone) || zone.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&push(&at, "zones"), &i.to_string()),
                format!("zone `{zone}` cannot be a label value"),
                "zones are values of `topology.kubernetes.io/zone`",
            ));
        }
    }
    if let Some(q) = &env.quota {
        check_quota(c, &push(&at, "quota"), q)?;
    }
    if let Some(r) = &env.container_defaults {
        check_resources(c, &push(&at, "containerDefaults"), r)?;
    }
    Ok(())
}

fn check_gitops(c: &Check, bp: &Blueprint) -> Result<()> {
    let Some(g) = &bp.gitops else {
        return Ok(());
    };
    let schemes = ["https://", "http://", "ssh://", "git@", "file://"];
    if !schemes.iter().any(|s| g.repo.starts_with(s)) || g.repo.contains(char::is_whitespace) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            "/gitops/repo",
            format!("`{}` is not a Git repository URL", g.repo),
            "use an `https://`, `ssh://` or `file://` URL",
        ));
    }
    if g.branch.is_empty() || g.branch.contains(char::is_whitespace) || g.branch.contains("..") {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            "/gitops/branch",
            format!("`{}` is not a branch name", g.branch),
            "use a plain branch name like `main`",
        ));
    }
    if g.path.starts_with('/')
        || g.path.split('/').any(|p| p == ".." || p == ".")
        || g.path.is_empty()
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            "/gitops/path",
            format!("`{}` is not a relative directory", g.path),
            "the path is relative to the GitOps repository root, like `clusters`",
        ));
    }
    for (key, value) in &g.intervals {
        let at = push("/gitops/intervals", key);
        if key != "source" && key != "helm" && !bp.layers.contains(key) {
            let known = ["source", "helm"]
                .into_iter()
                .chain(bp.layers.iter().map(String::as_str));
            return Err(Error::at(
                ErrorKind::UnknownField,
                c.locator.key(&at),
                format!("no interval is called `{key}`"),
            )
            .with_help(suggest::help_for(key, "intervals", known)));
        }
        c.duration(&at, value)?;
    }
    Ok(())
}

fn check_quota(c: &Check, at: &str, q: &Quota) -> Result<()> {
    for (key, rl) in [("cpu", &q.cpu), ("memory", &q.memory)] {
        if let Some(rl) = rl {
            for (part, v) in [("requests", &rl.requests), ("limits", &rl.limits)] {
                if let Some(v) = v {
                    c.quantity(&push(&push(at, key), part), v)?;
                }
            }
        }
    }
    if let Some(s) = &q.storage {
        c.quantity(&push(at, "storage"), &Scalar(s.clone()))?;
    }
    Ok(())
}

fn check_resources(c: &Check, at: &str, r: &Resources) -> Result<()> {
    for (part, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
        if let Some(cm) = cm {
            for (key, v) in [("cpu", &cm.cpu), ("memory", &cm.memory)] {
                if let Some(v) = v {
                    c.quantity(&push(&push(at, part), key), v)?;
                }
            }
        }
    }
    Ok(())
}

fn check_map_value(c: &Check, at: &str, value: &serde_json::Value) -> Result<()> {
    if value.is_object() || value.is_null() {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::InvalidType,
        at,
        "values must be a mapping",
        "write `values:` as key: value pairs",
    ))
}

fn check_image(c: &Check, at: &str, image: &Image) -> Result<()> {
    let bad = |why: String| {
        c.fail(
            ErrorKind::InvalidValue,
            at,
            format!("invalid image reference `{}`: {why}", image.reference(None)),
            "images look like `ghcr.io/acme/api:1.2.3` or `postgres@sha256:<64 hex digits>`",
        )
    };
    if image.repository.is_empty() {
        return Err(bad("the repository is empty".into()));
    }
    let mut parts = image.repository.split('/').peekable();
    if has_registry_host(&image.repository) {
        let host = parts.next().unwrap_or_default();
        let valid_host = host.split(':').next().is_some_and(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
        });
        let valid_port = host
            .split(':')
            .nth(1)
            .is_none_or(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()));
        if !valid_host || !valid_port || host.matches(':').count() > 1 {
            return Err(bad(format!("`{host}` is not a registry host")));
        }
    }
    for part in parts {
        let ok = !part.is_empty()
            && part
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && part.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && part.ends_with(|ch: char| ch.is_ascii_alphanumeric());
        if !ok {
            return Err(bad(format!(
                "repository part `{part}` must be lowercase letters, digits, `.`, `_` or `-`"
            )));
        }
    }
    if let Some(tag) = &image.tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
            && tag
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
        if !ok {
            return Err(bad(format!("tag `{tag}` is not valid")));
        }
    }
    if let Some(digest) = &image.digest {
        let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.chars()
                    .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch))
        });
        if !ok {
            return Err(bad(format!(
                "digest `{digest}` is not `sha256:` and 64 lowercase hex digits"
            )));
        }
    }
    Ok(())
}

fn check_app(c: &Check, bp: &Blueprint, name: &str, app: &App, sources: &Sources) -> Result<()> {
    let at = from_tokens(["apps", name]);
    let field = |f: &str| push(&at, f);
    c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
    if let Some(ns) = &app.namespace {
        c.dns_label(&field("namespace"), ns, "namespace", 63)?;
    }
    check_image(c, &field("image"), &app.image)?;
    let mut numbers = BTreeMap::new();
    for (port, number) in &app.ports {
        let p = push(&field("ports"), port);
        c.port(&p, port, *number)?;
        if let Some(other) = numbers.insert(*number, port) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("port {number} is also named `{other}`"),
                "each container port number appears once",
            ));
        }
    }
    for key in app.env.keys() {
        if !is_env_name(key) {
            return Err(c.fail_key(
                &push(&field("env"), key),
                format!("`{key}` is not a valid environment variable name"),
                "use letters, digits, `_`, `-` and `.`, not starting with a digit",
            ));
        }
    }
    for (key, reference) in &app.secrets {
        let p = push(&field("secrets"), key);
        if !is_env_name(key) {
            return Err(c.fail_key(
                &p,
                format!("`{key}` is not a valid environment variable name"),
                "use letters, digits, `_`, `-` and `.`, not starting with a digit",
            ));
        }
        if app.env.contains_key(key) {
            return Err(c.fail_key(
                &p,
                format!("`{key}` is set both in `env` and in `secrets`"),
                "keep one of them",
            ));
        }
        let parsed = SecretRef::parse(reference).ok_or_else(|| {
            // It may be the credential itself, pasted where its reference belongs.
            c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("`{key}` is given `{}`, which is not a secret reference", crate::credential::mask(reference)),
                "write `<store>:<remote key>` or `<store>:<remote key>#<property>`, e.g. `vault:apps/api#db_password`",
            )
            .masking_secret()
        })?;
        if !bp.secret_stores.contains_key(parsed.store) {
            return Err(c.fail(
                ErrorKind::UnknownReference,
                &p,
                format!("secret store `{}` is not defined", parsed.store),
                suggest::help_for(
                    parsed.store,
                    "secret stores",
                    bp.secret_stores.keys().map(String::as_str),
                ),
            ));
        }
    }
    if let Some(dir) = &app.secret_files {
        c.absolute_path(&field("secretFiles"), dir)?;
        if app.secrets.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &field("secretFiles"),
                "`secretFiles` is set but the app has no `secrets`",
                "add `secrets`, or remove `secretFiles`",
            ));
        }
    }
    if let Some(cfg) = &app.config {
        let cp = field("config");
        c.absolute_path(&push(&cp, "mountPath"), &cfg.mount_path)?;
        for (file, path) in &cfg.files {
            let p = push(&push(&cp, "files"), file);
            check_config_key(c, &p, file)?;
            c.include(&p, path, sources)?;
        }
        for file in cfg.inline.keys() {
            let p = push(&push(&cp, "inline"), file);
            check_config_key(c, &p, file)?;
            if cfg.files.contains_key(file) {
                return Err(c.fail_key(
                    &p,
                    format!("config file `{file}` is both in `files` and `inline`"),
                    "keep one of them",
                ));
            }
        }
        if cfg.files.is_empty() && cfg.inline.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &cp,
                "`config` has no files",
                "add `files` or `inline`, or remove `config`",
            ));
        }
    }
    if let Some(r) = &app.resources {
        check_resources(c, &field("resources"), r)?;
    }
    for (kind, probe) in [
        ("readiness", &app.probes.readiness),
        ("liveness", &app.probes.liveness),
        ("startup", &app.probes.startup),
    ] {
        if let Some(probe) = probe {
            check_probe(c, &push(&field("probes"), kind), probe, app)?;
        }
    }
    if let Some(a) = &app.autoscale {
        let p = field("autoscale");
        if a.min == 0 || a.min > a.max {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!(
                    "autoscale bounds min {} / max {} are not valid",
                    a.min, a.max
                ),
                "use 1 <= min <= max",
            ));
        }
        for (k, v) in [("cpu", a.cpu), ("memory", a.memory)] {
            if let Some(v) = v
                && !(1..=1000).contains(&v)
            {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &push(&p, k),
                    format!("target utilisation {v}% is not valid"),
                    "use a percentage between 1 and 1000",
                ));
            }
        }
    }
    if let Some(pdb) = &app.disruption_budget {
        let p = field("disruptionBudget");
        if pdb.min_available.is_some() == pdb.max_unavailable.is_some() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                "a disruption budget sets exactly one of `minAvailable` and `maxUnavailable`",
                "e.g. `disruptionBudget: {maxUnavailable: 1}`",
            ));
        }
        for (k, v) in [
            ("minAvailable", &pdb.min_available),
            ("maxUnavailable", &pdb.max_unavailable),
        ] {
            if let Some(v) = v
                && !is_int_or_percent(&v.0)
            {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &push(&p, k),
                    format!("`{}` is not a count or a percentage", v.0),
                    "write a number like `1` or a percentage like `25%`",
                ));
            }
        }
    }
    if let Some(ing) = &app.ingress {
        check_ingress(c, &field("ingress"), ing, app)?;
    }
    if let Some(m) = &app.metrics {
        let p = field("metrics");
        check_port_ref(c, &push(&p, "port"), &m.port, app)?;
        if !m.path.starts_with('/') {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&p, "path"),
                format!("`{}` is not a URL path", m.path),
                "paths start with `/`",
            ));
        }
        if let Some(i) = &m.interval {
            c.duration(&push(&p, "interval"), i)?;
        }
    }
    for (i, rule) in app.rbac.iter().enumerate() {
        if rule.verbs.is_empty() || rule.resources.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&field("rbac"), &i.to_string()),
                "an RBAC rule needs `resources` and `verbs`",
                "e.g. `{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}`",
            ));
        }
    }
    for (cidr, ports) in &app.egress {
        let p = push(&field("egress"), cidr);
        if !is_cidr(cidr) {
            return Err(c.fail_key(
                &p,
                format!("`{cidr}` is not a CIDR block"),
                "write an IPv4 or IPv6 block like `10.0.0.0/8` or `0.0.0.0/0`",
            ));
        }
        for port in ports {
            if !(1..=65535).contains(port) {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &p,
                    format!("port {port} is out of range"),
                    "ports are between 1 and 65535",
                ));
            }
        }
    }
    let mut mounts = BTreeSet::from(["/tmp".to_string()]);
    if let Some(cfg) = &app.config {
        mounts.insert(cfg.mount_path.clone());
    }
    if let Some(dir) = &app.secret_files
        && !mounts.insert(dir.clone())
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("secretFiles"),
            format!("`{dir}` is mounted twice"),
            "give secrets a directory of their own",
        ));
    }
    for (i, path) in app.writable.iter().enumerate() {
        let p = push(&field("writable"), &i.to_string());
        c.absolute_path(&p, path)?;
        if !mounts.insert(path.clone()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("`{path}` is mounted twice"),
                "`/tmp` is always writable; list each other directory once",
            ));
        }
    }
    for (vol, storage) in &app.storage {
        let p = push(&field("storage"), vol);
        if app.kind != WorkloadKind::StatefulSet {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                "`storage` needs `kind: StatefulSet`",
                "volume claims belong to StatefulSets; set `kind: StatefulSet`",
            ));
        }
        c.name_key(&p, vol, "volume", 40)?;
        c.quantity(&push(&p, "size"), &storage.size)?;
        c.absolute_path(&push(&p, "mountPath"), &storage.mount_path)?;
        if !mounts.insert(storage.mount_path.clone()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&p, "mountPath"),
                format!("`{}` is mounted twice", storage.mount_path),
                "give each volume its own directory",
            ));
        }
    }
    check_workload_kind(c, &at, app)?;
    if app.run_as.user == Some(0) || app.run_as.group == Some(0) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("runAs"),
            "containers may not run as root (user or group 0)",
            "pick a non-zero user id; the Pod Security `restricted` level refuses root",
        ));
    }
    Ok(())
}

fn check_workload_kind(c: &Check, at: &str, app: &App) -> Result<()> {
    let field = |f: &str| push(at, f);
    match app.kind {
        WorkloadKind::CronJob => {
            let Some(schedule) = &app.schedule else {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("kind"),
                    "a CronJob needs a `schedule`",
                    "add e.g. `schedule: \"0 3 * * *\"`",
                ));
            };
            if let Err(why) = crate::cron::parse(schedule) {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("schedule"),
                    format!("`{schedule}` is not a cron schedule: {why}"),
                    "use five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7), or a macro such as `@daily`",
                ));
            }
            for (name, present) in [
                ("ingress", app.ingress.is_some()),
                ("autoscale", app.autoscale.is_some()),
                ("disruptionBudget", app.disruption_budget.is_some()),
                ("metrics", app.metrics.is_some()),
            ] {
                if present {
                    return Err(c.fail(
                        ErrorKind::InvalidValue,
                        &field(name),
                        format!("a CronJob has no `{name}`"),
                        "remove it, or make the app a Deployment",
                    ));
                }
            }
        }
        _ => {
            if app.schedule.is_some() {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("schedule"),
                    "`schedule` is only for `kind: CronJob`",
                    "remove it, or set `kind: CronJob`",
                ));
            }
        }
    }
    Ok(())
}

fn check_probe(c: &Check, at: &str, probe: &Probe, app: &App) -> Result<()> {
    let kinds = [
        probe.http.is_some(),
        probe.tcp.is_some(),
        probe.exec.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "a probe has exactly one of `http`, `tcp` and `exec`",
            "e.g. `readiness: {http: /ready}`",
        ));
    }
    if let Some(path) = &probe.http {
        if !path.starts_with('/') {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(at, "http"),
                format!("`{path}` is not a URL path"),
                "paths start with `/`",
            ));
        }
        match &probe.port {
            Some(port) => check_port_ref(c, &push(at, "port"), port, app)?,
            None => {
                if default_port(app).is_none() {
                    return Err(c.fail(ErrorKind::InvalidValue, at, "the probe does not say which port to call", "add `port: <port name>`; the default is the port named `http`, or the only port"));
                }
            }
        }
    }
    if let Some(port) = &probe.tcp {
        check_port_ref(c, &push(at, "tcp"), port, app)?;
    }
    if let Some(cmd) = &probe.exec
        && cmd.is_empty()
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "exec"),
            "the probe command is empty",
            "give the command as a list",
        ));
    }
    Ok(())
}

fn check_ingress(c: &Check, at: &str, ing: &Ingress, app: &App) -> Result<()> {
    if ing.hosts.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "an ingress needs at least one host",
            "add `hosts: [app.example.com]`",
        ));
    }
    for (i, host) in ing.hosts.iter().enumerate() {
        let plain = host.strip_prefix("*.").unwrap_or(host);
        if !is_dns_subdomain(plain) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&push(at, "hosts"), &i.to_string()),
                format!("`{host}` is not a host name"),
                "use a lowercase DNS name, optionally starting with `*.`",
            ));
        }
    }
    if ing.paths.is_empty() {
        if default_port(app).is_none() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                at,
                "the ingress does not say which port to route to",
                "add `paths: {/: <port name>}`",
            ));
        }
    } else {
        for (path, port) in &ing.paths {
            let p = push(&push(at, "paths"), path);
            if !path.starts_with('/') {
                return Err(c.fail_key(
                    &p,
                    format!("`{path}` is not a URL path"),
                    "paths start with `/`",
                ));
            }
            check_port_ref(c, &p, port, app)?;
        }
    }
    Ok(())
}

fn check_port_ref(c: &Check, at: &str, port: &str, app: &App) -> Result<()> {
    if app.ports.contains_key(port) {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::UnknownReference,
        at,
        format!("no port is named `{port}`"),
        suggest::help_for(port, "ports", app.ports.keys().map(String::as_str)),
    ))
}

fn check_config_key(c: &Check, at: &str, key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && key != "."
        && key != "..";
    if ok {
        return Ok(());
    }
    Err(c.fail_key(
        at,
        format!("`{key}` cannot be a config file name"),
        "file names use letters, digits, `-`, `_` and `.`",
    ))
}

fn check_chart(c: &Check, name: &str, chart: &Chart) -> Result<()> {
    let at = from_tokens(["charts", name]);
    let field = |f: &str| push(&at, f);
    c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
    if let Some(ns) = &chart.namespace {
        c.dns_label(&field("namespace"), ns, "namespace", 63)?;
    }
    let repo_ok = (chart.repo.starts_with("https://")
        || chart.repo.starts_with("oci://")
        || chart.repo.starts_with("http://"))
        && !chart.repo.contains(char::is_whitespace);
    if !repo_ok {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("repo"),
            format!("`{}` is not a chart repository URL", chart.repo),
            "use `https://...` or `oci://...`",
        ));
    }
    if chart.chart.is_empty() || chart.chart.contains(char::is_whitespace) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("chart"),
            "the chart name is empty or has spaces",
            "name the chart, e.g. `external-secrets`",
        ));
    }
    let version = &chart.version.0;
    if version.is_empty()
        || version.contains(char::is_whitespace)
        || version == "latest"
        || version.contains('*')
        || version.contains('>')
        || version.contains('~')
        || version.contains('^')
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("version"),
            format!("chart version `{version}` is not pinned"),
            "pin an exact version like `1.14.5`",
        ));
    }
    if let Some(release) = &chart.release {
        c.dns_label(&field("release"), release, "release", 53)?;
    }
    for (i, group) in chart.provides.iter().enumerate() {
        if !is_dns_subdomain(group) || !group.contains('.') {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&field("provides"), &i.to_string()),
                format!("`{group}` is not a CRD API group"),
                "API groups look like `external-secrets.io` or `cert-manager.io`",
            ));
        }
    }
    for (port, number) in &chart.ports {
        c.port(&push(&field("ports"), port), port, *number)?;
    }
    if let Some(t) = &chart.timeout {
        c.duration(&field("timeout"), t)?;
    }
    for (i, ns) in chart.extra_namespaces.iter().enumerate() {
        c.dns_label(
            &push(&field("extraNamespaces"), &i.to_string()),
            ns,
            "namespace",
            63,
        )?;
    }
    check_map_value(c, &field("values"), &chart.values)
}

/// Checks `uses` entries once components are placed.
pub fn validate_uses(
    bp: &Blueprint,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    let c = Check { locator };
    for component in components.values() {
        for u in &component.uses {
            if u.target == super::network::KUBE_APISERVER && u.port.is_none() {
                continue;
            }
            let Some(target) = components.get(&u.target) else {
                return Err(c.fail(
                    ErrorKind::UnknownReference,
                    &u.pointer,
                    format!(
                        "`{}` uses `{}`, which is not a component",
                        component.name, u.target
                    ),
                    suggest::help_for(
                        &u.target,
                        "components",
                        components.keys().map(String::as_str),
                    ),
                ));
            };
            if target.name == component.name {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &u.pointer,
                    format!("`{}` uses itself", component.name),
                    "to let its pods reach each other, list the ports in `peers` instead",
                ));
            }
            if let Some(port) = &u.port
                && !target.ports.contains_key(port)
            {
                return Err(c.fail(
                    ErrorKind::UnknownReference,
                    &u.pointer,
                    format!("`{}` has no port named `{port}`", target.name),
                    suggest::help_for(port, "ports", target.ports.keys().map(String::as_str)),
                ));
            }
        }
    }
    if let Some(controller) = &bp.defaults.ingress.controller
        && !components.contains_key(controller)
    {
        return Err(c.fail(
            ErrorKind::UnknownReference,
            "/defaults/ingress/controller",
            format!("ingress controller `{controller}` is not a component"),
            suggest::help_for(
                controller,
                "components",
                components.keys().map(String::as_str),
            ),
        ));
    }
    Ok(())
}

/// The port an ingress or probe uses when it names none: `http`, or the only port.
pub fn default_port(app: &App) -> Option<&str> {
    if app.ports.contains_key("http") {
        return Some("http");
    }
    if app.ports.len() == 1 {
        return app.ports.keys().next().map(String::as_str);
    }
    None
}

/// `store:remote/key#property`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef<'a> {
    pub store: &'a str,
    pub key: &'a str,
    pub property: Option<&'a str>,
}

impl<'a> SecretRef<'a> {
    pub fn parse(s: &'a str) -> Option<SecretRef<'a>> {
        let (store, rest) = s.split_once(':')?;
        let (key, property) = match rest.split_once('#') {
            Some((k, p)) => (k, Some(p)),
            None => (rest, None),
        };
        let clean = |t: &str| !t.is_empty() && !t.contains(char::is_whitespace);
        if !is_dns_label(store) || !clean(key) || property.is_some_and(|p| !clean(p)) {
            return None;
        }
        Some(SecretRef {
            store,
            key,
            property,
        })
    }
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            && s.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && s.ends_with(|ch: char| ch.is_ascii_alphanumeric()))
}

fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && s.chars().any(|ch| ch.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
        && !s.starts_with(|ch: char| ch.is_ascii_digit())
}

/// The Kubernetes resource quantity grammar.
pub fn is_quantity(s: &str) -> bool {
    crate::quantity::parse(s).is_some()
}

fn quantity_suggestion(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    for (wrong, right) in [
        ("kb", "Ki"),
        ("mb", "Mi"),
        ("gb", "Gi"),
        ("tb", "Ti"),
        ("kib", "Ki"),
        ("mib", "Mi"),
        ("gib", "Gi"),
        ("mi", "Mi"),
        ("gi", "Gi"),
        ("ki", "Ki"),
    ] {
        if let Some(number) = lower.strip_suffix(wrong)
            && is_quantity(number)
        {
            return Some(format!("{number}{right}"));
        }
    }
    None
}

/// Durations as Flux and Kubernetes write them: `30s`, `5m`, `1h30m`.
pub fn is_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || rest[..digits].matches('.').count() > 1 || rest[..digits].ends_with('.') {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

fn is_int_or_percent(s: &str) -> bool {
    let number = s.strip_suffix('%').unwrap_or(s);
    !number.is_empty() && number.chars().all(|ch| ch.is_ascii_digit())
}

pub fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 32),
        Ok(std::net::IpAddr::V6(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 128),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["100m", "0.5", "1", "128Mi", "10Gi", "1e3", "2k", ".5"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["500mb", "1.2.3", "Mi", "", "10 Gi", "1GB"] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(quantity_suggestion("500mb").as_deref(), Some("500Mi"));
    }

    #[test]
    fn durations() {
        for ok in ["1m", "30s", "1h30m", "500ms", "1.5h"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "5 m", "5d", "1.h"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn secret_references() {
        assert_eq!(
            SecretRef::parse("vault:apps/api#password"),
            Some(SecretRef {
                store: "vault",
                key: "apps/api",
                property: Some("password")
            })
        );
        assert_eq!(
            SecretRef::parse("vault:apps/api").map(|r| r.property),
            Some(None)
        );
        assert!(SecretRef::parse("hunter2").is_none());
        assert!(SecretRef::parse("vault:").is_none());
    }

    #[test]
    fn names() {
        assert!(is_dns_label("api-v2"));
        assert!(!is_dns_label("API"));
        assert!(!is_dns_label("-a"));
        assert!(is_port_name("http"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("a-very-long-port-name"));
        assert!(is_cidr("10.0.0.0/8"));
        assert!(!is_cidr("10.0.0.0/33"));
    }
}
