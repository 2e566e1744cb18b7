//! `gitopsc init [DIR]`: a starter project that renders, validates and passes
//! `check` the first time, with editor schemas and modelines in place.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::EXIT_OK;
use crate::blueprint::syntax::is_dns_label;
use crate::error::{Error, ErrorKind, Result};
use crate::schema;
use crate::sources::BLUEPRINT_FILE;
use crate::workspace::{self, RENDERED_DIR};
use crate::{EnvSelection, compile};

/// Where editor schemas go: hidden, so they are not inputs of a render.
pub const SCHEMA_DIR: &str = "blueprints/.schema";

fn blueprint(name: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema=.schema/blueprint.json
# The blueprint of {name}: what runs, in which layer, and in which environments.
# `gitopsc render` compiles it into rendered/<env>/; see `gitopsc schema` for every key.
system:
  name: {name}
  owner: platform-team

gitops:
  engine: flux
  repo: https://github.com/example/{name}-gitops.git
  path: clusters

layers: [apps]

environments:
  dev: {{domain: dev.example.com, network: permissive}}
  staging: {{extends: dev, domain: staging.example.com, network: namespace-isolated}}
  prod:
    extends: staging
    domain: example.com
    zones: [zone-a, zone-b]
    network: default-deny
    production: true

defaults:
  resources:
    requests: {{cpu: 100m, memory: 128Mi}}
    limits: {{cpu: 500m, memory: 256Mi}}
  # The cluster's ingress controller: prod denies all traffic by default, so its
  # policies let these pods in. Install it as a chart and name it in `controller` instead.
  ingress: {{class: nginx, controllerNamespace: ingress-nginx}}

apps:
  web:
    layer: apps
    image: nginxinc/nginx-unprivileged:1.27.3
    ports: {{http: 8080}}
    writable: [/var/cache/nginx]
    probes:
      readiness: {{http: /}}
      liveness: {{http: /}}
    ingress: {{hosts: ["www.{{{{ env.domain }}}}"]}}
"#
    )
}

const OVERLAY_HEADER: &str = "# yaml-language-server: $schema=../blueprints/.schema/overlay.json\n";

fn overlays() -> [(&'static str, String); 3] {
    [
        (
            "overlays/dev.yaml",
            format!(
                "{OVERLAY_HEADER}# Changes for dev: an RFC 7386 merge patch over the blueprint.\n"
            ),
        ),
        (
            "overlays/staging.yaml",
            format!(
                "{OVERLAY_HEADER}# Changes for staging (on top of dev's, as staging extends dev).\n"
            ),
        ),
        (
            "overlays/prod.yaml",
            format!(
                "{OVERLAY_HEADER}# Production runs every service at least twice.\napps:\n  web: {{replicas: 2}}\n"
            ),
        ),
    ]
}

/// The editor schema files, by project-relative path.
pub fn schema_files() -> [(String, String); 2] {
    [
        (
            format!("{SCHEMA_DIR}/blueprint.json"),
            schema::to_text(&schema::blueprint()),
        ),
        (
            format!("{SCHEMA_DIR}/overlay.json"),
            schema::to_text(&schema::overlay()),
        ),
    ]
}

fn default_name(dir: &Path) -> String {
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let cleaned = cleaned
        .trim_matches('-')
        .chars()
        .take(30)
        .collect::<String>();
    if is_dns_label(&cleaned) {
        cleaned
    } else {
        "my-system".to_string()
    }
}

pub fn run(dir: &Path, name: Option<&str>) -> Result<u8> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    if dir.join(BLUEPRINT_FILE).exists() {
        return Err(Error::plain(
            ErrorKind::Usage,
            format!("`{}` already holds a blueprint", dir.display()),
        )
        .with_help("init creates new projects only; edit blueprints/system.yaml instead"));
    }
    let name = match name {
        Some(n) if is_dns_label(n) => n.to_string(),
        Some(n) => {
            return Err(Error::plain(
                ErrorKind::Usage,
                format!("`{n}` is not a valid system name"),
            )
            .with_help("use lowercase letters, digits and `-`"));
        }
        None => default_name(dir),
    };
    let mut files = vec![(BLUEPRINT_FILE.to_string(), blueprint(&name))];
    files.extend(overlays().into_iter().map(|(p, t)| (p.to_string(), t)));
    files.extend(schema_files());
    for (path, text) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, &e))?;
        }
        fs::write(&target, text).map_err(|e| Error::io(&target, &e))?;
    }
    let tree = compile(Arc::new(workspace::read_sources(dir)?), &EnvSelection::All)?;
    workspace::write_rendered(&dir.join(RENDERED_DIR), &tree, true)?;
    println!("created {} in {}", name, dir.display());
    println!(
        "next: edit blueprints/system.yaml, then `gitopsc render`; `gitopsc check` tells when rendered/ is stale"
    );
    Ok(EXIT_OK)
}
