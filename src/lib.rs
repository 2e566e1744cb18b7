//! gitopsc compiles a short system blueprint into one deterministic,
//! plain-YAML tree per environment that Kustomize builds as it is and Flux or
//! Argo CD deploys.
//!
//! The pipeline, in order (each stage its own module, each returning its own type):
//!
//! 1. [`blueprint::load`]: files -> [`blueprint::Project`] (typed, located)
//! 2. [`resolve::resolve`]: one environment -> [`resolve::ResolvedEnv`]
//! 3. [`render::render`]: Kubernetes objects in units -> [`render::EnvManifests`]
//! 4. [`graph::build`] orders the units; [`target::wire`] adds the Flux or
//!    Argo CD objects; then overlays' RFC 6902 patches ([`render::patches`]),
//!    the environment's production rules ([`policy`]) and operator API
//!    versions ([`compat`])
//! 5. [`verify::verify`]: the final objects checked, whatever produced them
//!    (identity, system namespaces, API-server rules, Pod Security, credentials);
//!    it hands each unit on as soon as its checks have run, and the compile
//!    refuses its host access ([`policy::check_unit`]) and prints it
//!    ([`tree::print_unit`]) there, while the unit is in cache
//! 6. [`tree::assemble`]: the printed units and their kustomizations, in the
//!    project's `layout` -> [`tree::RenderedTree`]
//!
//! `render`, `check`, `diff` and `publish` (in [`commands`]) all consume that
//! one tree. Only [`workspace`] and [`git`] touch the outside world.

pub mod blueprint;
pub mod changes;
pub mod cli;
pub mod commands;
pub mod compat;
pub mod complete;
pub mod credential;
pub mod cron;
pub mod discovery;
pub mod error;
pub mod git;
pub mod graph;
pub mod incremental;
pub mod pointer;
pub mod policy;
pub mod pool;
pub mod quantity;
pub mod reach;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod sources;
pub mod suggest;
pub mod target;
pub mod template;
pub mod tree;
pub mod verify;
pub mod workspace;
pub mod yaml;

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::blueprint::Project;
use crate::error::{Error, ErrorKind, Result};
use crate::sources::Sources;
use crate::tree::{EnvTree, RenderedTree};

pub use pool::on_pool;

/// Which environments to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSelection {
    All,
    Only(Vec<String>),
}

impl EnvSelection {
    pub fn from_flags(envs: &[String]) -> EnvSelection {
        if envs.is_empty() {
            EnvSelection::All
        } else {
            EnvSelection::Only(envs.to_vec())
        }
    }

    /// The selected environment names, checked against the project.
    pub fn names(&self, project: &Project) -> Result<Vec<String>> {
        let all = resolve::environment_names(project);
        match self {
            EnvSelection::All => Ok(all),
            EnvSelection::Only(names) => {
                for name in names {
                    if !all.contains(name) {
                        return Err(Error::plain(
                            ErrorKind::Usage,
                            format!("no environment is called `{name}`"),
                        )
                        .with_help(suggest::help_for(
                            name,
                            "environments",
                            all.iter().map(String::as_str),
                        )));
                    }
                }
                let mut names = names.clone();
                names.sort();
                names.dedup();
                Ok(names)
            }
        }
    }
}

/// Compiles the selected environments of the project in `sources`.
pub fn compile(sources: Arc<Sources>, selection: &EnvSelection) -> Result<RenderedTree> {
    compile_cached(sources, selection, &incremental::NoCache)
}

/// [`compile`], taking each environment whose inputs are unchanged from
/// `cache` (the same bytes, by construction of [`incremental::env_key`]).
pub fn compile_cached(
    sources: Arc<Sources>,
    selection: &EnvSelection,
    cache: &dyn incremental::EnvCache,
) -> Result<RenderedTree> {
    on_pool(|| compile_here(sources, selection, cache))
}

fn compile_here(
    sources: Arc<Sources>,
    selection: &EnvSelection,
    cache: &dyn incremental::EnvCache,
) -> Result<RenderedTree> {
    let inputs = sources.digest();
    let project = blueprint::load(sources)?;
    let names = selection.names(&project)?;
    // Resolving is one serial pass over the blueprint, so the environments
    // the cache lacks resolve side by side, before any compiles on.
    let prepared: Vec<Prepared> = names
        .par_iter()
        .map(|name| match incremental::lookup(&project, name, cache) {
            incremental::Lookup::Hit(tree) => Prepared::Cached(tree),
            incremental::Lookup::Miss(slot) => {
                Prepared::Resolved(slot, resolve::resolve(&project, name).map(Box::new))
            }
        })
        .collect();
    // The rest runs one environment after another, each stage of each in
    // parallel inside: side by side, every environment's objects were alive
    // at once (a fifth more memory at 1000 apps) for no shorter a render.
    // The first error in name order is the one reported, and the
    // environments after it are not compiled.
    let mut envs = BTreeMap::new();
    let mut fresh = Vec::new();
    let mut failed = None;
    for (name, prepared) in names.iter().zip(prepared) {
        let tree = match prepared {
            Prepared::Cached(tree) => tree,
            Prepared::Resolved(slot, env) => match env.and_then(|env| compile_resolved(*env)) {
                Ok(tree) => {
                    fresh.push((slot, tree.env.clone()));
                    tree
                }
                Err(e) => {
                    failed = Some(while_rendering(e, name));
                    break;
                }
            },
        };
        envs.insert(tree.env.clone(), tree);
    }
    // Storing is compressing and writing, each environment on its own, so
    // side by side once all have compiled; those before an error are kept.
    fresh
        .par_iter()
        .for_each(|(slot, env)| slot.store(cache, &envs[env]));
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(RenderedTree { inputs, envs })
}

/// One environment before the stages that run in sequence: taken from the
/// cache, or resolved (or failed to).
enum Prepared {
    Cached(EnvTree),
    Resolved(incremental::Slot, Result<Box<resolve::ResolvedEnv>>),
}

/// The whole pipeline for one environment, stage by stage.
pub fn compile_env(project: &Project, name: &str) -> Result<EnvTree> {
    resolve::resolve(project, name)
        .and_then(compile_resolved)
        .map_err(|e| while_rendering(e, name))
}

fn while_rendering(e: Error, name: &str) -> Error {
    e.with_note(format!("while rendering environment `{name}`"))
}

/// The stages after `resolve`, for one resolved environment.
fn compile_resolved(env: resolve::ResolvedEnv) -> Result<EnvTree> {
    let mut manifests = render::render(&env)?;
    let graph = graph::build(&env, &manifests)?;
    target::wire(&env, &graph, &mut manifests)?;
    render::patches::apply(&env, &mut manifests, &policy::patch_rule())?;
    manifests.sort();
    // The rules on apps and the engines' rules on API versions read no
    // object's contents; the final checks read every unit, and each is
    // refused host access and printed right after, while its objects are
    // in cache. The errors keep this order: admission, engines, checks.
    let (apps_admitted, compatible) = rayon::join(
        || policy::check_apps(&env),
        || compat::check(&env, &manifests),
    );
    let env_name = manifests.env.clone();
    let file_layout = env.blueprint.layout;
    let (verified, units) = verify::verify(&env, manifests, |unit| {
        (
            policy::check_unit(&env, unit),
            tree::print_unit(&env_name, unit, file_layout),
        )
    });
    apps_admitted?;
    let mut printed = Vec::with_capacity(units.len());
    for (admitted, printed_unit) in units {
        admitted?;
        printed.extend(printed_unit);
    }
    compatible?;
    let notices = verified?;
    let destination = env.blueprint.gitops.as_ref().map(|g| tree::Destination {
        repo: g.repo.clone(),
        branch: g.branch.clone(),
        path: g.path.trim_matches('/').to_string(),
    });
    let mut tree = tree::assemble(
        env_name,
        printed,
        &env.blueprint
            .layer_names()
            .map(str::to_string)
            .collect::<Vec<_>>(),
        destination,
    );
    tree.notices = notices;
    Ok(tree)
}
