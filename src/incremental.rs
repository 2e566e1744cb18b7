//! Incremental compilation: which inputs one environment reads, as a key, and
//! the cache of whole environment trees looked up by it.
//!
//! An environment's tree is a pure function of the tool, the files under
//! `blueprints/` (the blueprint, its templates and config files), the
//! overlays of its own overlay chain, which overlays exist at all, and the
//! inputs' hard-link counts. [`env_key`] hashes exactly that, so editing
//! `overlays/prod.yaml` leaves `dev`'s key alone, while any edit under
//! `blueprints/` changes every key. The loader's project-wide checks (every
//! overlay parses, names are known) run on every compile whatever the cache
//! holds, so an error is reported as a clean compile reports it; failures
//! are never stored. Where entries live is the caller's business
//! ([`EnvCache`]; on disk, `workspace::env_cache`); this module does no I/O.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::blueprint::Project;
use crate::blueprint::overlay_files::overlay_files;
use crate::resolve::{extends_chain, overlays::overlay_chain};
use crate::sources::{OVERLAYS_DIR, hash_file, hex};
use crate::tree::EnvTree;

/// A store of environment trees by [`env_key`]. `get` may return nothing or
/// anything: the tree it returns is used only when it names the environment
/// asked for, and a store must return only what `put` was given.
pub trait EnvCache: Sync {
    /// What the key depends on besides the inputs (the very binary that
    /// compiles); `None` turns the cache off.
    fn salt(&self) -> Option<String>;
    fn get(&self, key: &str) -> Option<EnvTree>;
    fn put(&self, key: &str, tree: &EnvTree);
}

/// No cache: every environment compiles.
pub struct NoCache;

impl EnvCache for NoCache {
    fn salt(&self) -> Option<String> {
        None
    }
    fn get(&self, _: &str) -> Option<EnvTree> {
        None
    }
    fn put(&self, _: &str, _: &EnvTree) {}
}

/// The digest of every input environment `name` reads, with `salt`; `None`
/// when the overlay chain itself is in error (then the compile reports it).
pub fn env_key(project: &Project, name: &str, salt: &str) -> Option<String> {
    let chain = extends_chain(project, name).ok()?;
    let own: BTreeSet<String> = overlay_chain(project, &chain).ok()?.into_iter().collect();
    let overlays = overlay_files(&project.sources).ok()?;
    // Other environments' overlays count by name only: their content reaches
    // this environment through nothing but the loader's checks.
    let foreign: BTreeSet<&str> = overlays
        .iter()
        .filter(|(env, _)| !own.contains(**env))
        .map(|(_, path)| *path)
        .collect();
    let mut hasher = Sha256::new();
    hasher.update(b"gitopsc-env v1\0");
    hasher.update(salt.as_bytes());
    hasher.update(b"\0");
    hasher.update(name.as_bytes());
    hasher.update(b"\0");
    for (path, file) in project.sources.files() {
        if foreign.contains(path) {
            hasher.update(b"o");
            hasher.update(path.as_bytes());
            hasher.update(b"\0");
        } else {
            hash_file(&mut hasher, path, file);
        }
    }
    project.sources.hash_links(&mut hasher);
    debug_assert!(foreign.iter().all(|p| p.starts_with(OVERLAYS_DIR)));
    Some(hex(&hasher.finalize()))
}

/// What the cache answered for one environment: the tree it held, or the
/// slot a fresh compile is stored in.
pub enum Lookup {
    Hit(EnvTree),
    Miss(Slot),
}

/// Where a freshly compiled environment is stored: under the key of its
/// inputs, or nowhere with the cache off.
pub struct Slot {
    key: Option<String>,
}

/// Asks `cache` for environment `name` under the key of its inputs.
pub fn lookup(project: &Project, name: &str, cache: &dyn EnvCache) -> Lookup {
    let key = cache.salt().and_then(|salt| env_key(project, name, &salt));
    let held = key
        .as_deref()
        .and_then(|key| cache.get(key))
        .filter(|tree| tree.env == name);
    match held {
        Some(tree) => Lookup::Hit(tree),
        None => Lookup::Miss(Slot { key }),
    }
}

impl Slot {
    pub fn store(&self, cache: &dyn EnvCache, tree: &EnvTree) {
        if let Some(key) = &self.key {
            cache.put(key, tree);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Sources;
    use std::sync::Arc;

    fn project(prod_overlay: &str, template: &str) -> Project {
        let mut s = Sources::new();
        s.insert_text(
            "blueprints/system.yaml",
            "system: {name: shop}\nlayers: [apps]\nenvironments:\n  dev: {}\n  prod: {}\n",
        );
        s.insert_text("blueprints/templates/t.yaml", template);
        s.insert_text("overlays/dev.yaml", "{}\n");
        s.insert_text("overlays/prod.yaml", prod_overlay);
        crate::blueprint::load(Arc::new(s)).expect("the project loads")
    }

    #[test]
    fn an_overlay_edit_changes_its_environment_key_only() {
        let a = project("{}\n", "x");
        let b = project("# prod only\n{}\n", "x");
        assert_eq!(env_key(&a, "dev", "s"), env_key(&b, "dev", "s"));
        assert_ne!(env_key(&a, "prod", "s"), env_key(&b, "prod", "s"));
        assert!(env_key(&a, "dev", "s").is_some());
    }

    #[test]
    fn a_blueprint_file_salt_or_name_changes_every_key() {
        let a = project("{}\n", "x");
        let b = project("{}\n", "y");
        for env in ["dev", "prod"] {
            assert_ne!(env_key(&a, env, "s"), env_key(&b, env, "s"));
            assert_ne!(env_key(&a, env, "s"), env_key(&a, env, "t"));
        }
        assert_ne!(env_key(&a, "dev", "s"), env_key(&a, "prod", "s"));
    }
}
