//! How the rendered tree reaches the cluster: the engine (Flux or Argo CD),
//! the GitOps repository, branch, path and reconcile intervals, and their checks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::model::Blueprint;
use crate::error::{Error, ErrorKind, Result};
use crate::pointer::push;
use crate::suggest;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitOps {
    /// `flux` or `argocd`; an overlay may pick another engine for one environment.
    pub engine: Engine,
    /// URL of the GitOps repository the engine watches.
    pub repo: String,
    /// Branch the engine watches.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Directory in the GitOps repo holding one subdirectory per environment.
    #[serde(default = "default_gitops_path")]
    pub path: String,
    /// Reconcile intervals: `source`, `helm`, and one per layer name.
    #[serde(default)]
    pub intervals: BTreeMap<String, String>,
    /// Flux: name of the Secret with Git credentials for a private repository.
    #[serde(default)]
    pub secret_ref: Option<String>,
    /// Namespace of the engine's own objects (`flux-system` or `argocd`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Argo CD: destination cluster API server; overrides `destination`.
    #[serde(default)]
    pub server: Option<String>,
    /// Argo CD: where Applications deploy to when `server` is not set:
    /// `in-cluster` (Argo CD's own cluster, the default) or `cluster-name`
    /// (the cluster registered in Argo CD under the environment's `cluster`
    /// name, so one Argo CD can deploy to several clusters).
    #[serde(default)]
    pub destination: ArgoDestination,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArgoDestination {
    /// `server: https://kubernetes.default.svc`.
    #[default]
    InCluster,
    /// `name: <environment cluster>`.
    ClusterName,
}

fn default_branch() -> String {
    "main".to_string()
}

fn default_gitops_path() -> String {
    "rendered".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Flux,
    Argocd,
}

impl GitOps {
    /// Namespace of the engine's own objects.
    pub fn engine_namespace(&self) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| self.engine.default_namespace().to_string())
    }
}

impl Engine {
    /// Where the engine is installed unless `gitops.namespace` says otherwise.
    pub fn default_namespace(self) -> &'static str {
        match self {
            Engine::Flux => "flux-system",
            Engine::Argocd => "argocd",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Flux => "flux",
            Engine::Argocd => "argocd",
        }
    }
}

pub(super) fn check_gitops(c: &Check, bp: &Blueprint) -> Result<()> {
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
        if key != "source" && key != "helm" && bp.layer_index(key).is_none() {
            let known = ["source", "helm"].into_iter().chain(bp.layer_names());
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
