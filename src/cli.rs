//! The command line, as clap types only: no I/O, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use crate::complete;

#[derive(Debug, Parser)]
#[command(
    name = "gitopsc",
    version,
    about = "Compile a system blueprint into GitOps-ready Kubernetes trees"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour: `auto` follows the terminal, `NO_COLOR`, `FORCE_COLOR` and `CLICOLOR_FORCE`.
    #[arg(long, value_enum, global = true, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Project directory holding `blueprints/`, `overlays/` and `rendered/`.
    #[arg(long, value_name = "DIR", env = "GITOPSC_ROOT")]
    pub root: Option<PathBuf>,
    /// Only these environments (repeatable); all by default.
    #[arg(long = "env", value_name = "NAME", add = ArgValueCompleter::new(complete::environments))]
    pub envs: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every environment into `rendered/<env>/`.
    Render {
        #[command(flatten)]
        project: ProjectArgs,
        /// Render the projects holding these files (what pre-commit passes); ignored with `--root`.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Write the tree here instead of `<root>/rendered`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Exit 1 when `rendered/` is not what the blueprints render (for pre-commit and CI).
    Check {
        #[command(flatten)]
        project: ProjectArgs,
        /// Check the projects holding these files (what pre-commit passes); ignored with `--root`.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print nothing: the exit code says fresh (0), stale (1) or error (2).
        #[arg(long, short, conflicts_with = "format")]
        quiet: bool,
        /// `json`: per environment, `ok` or `stale` and the changed, missing and extra paths.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Show what a change does to each environment's objects.
    Diff {
        #[command(flatten)]
        project: ProjectArgs,
        /// Compare against the blueprints of this git revision instead of the committed `rendered/`.
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// With `--base`: the revision to compare (default: the working tree).
        #[arg(long, value_name = "REV", requires = "base")]
        head: Option<String>,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Print the deployment graph: layers, components, `uses` edges, order.
    Graph {
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print who can reach whom on which port, as the rendered NetworkPolicies allow.
    Reach {
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(long, value_enum, default_value_t = ReachFormat::Text)]
        format: ReachFormat,
    },
    /// Print the JSON Schema of blueprint or overlay files.
    Schema {
        #[arg(long, value_enum, default_value_t = SchemaKind::Blueprint)]
        kind: SchemaKind,
    },
    /// Create a starter project that renders, validates and passes `check`.
    Init {
        /// Directory to create the project in.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// System name (default: the directory name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Commit the rendered tree to the GitOps repository.
    Publish(PublishArgs),
    /// Print the shell code that completes gitopsc, environment names included.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// GitOps repository: a URL (`https://`, `ssh://`, `file://`) or a local path.
    #[arg(long, value_name = "URL|PATH")]
    pub repo: Option<String>,
    /// Branch to commit to with `--layout path` (default: the blueprint's `gitops.branch`).
    #[arg(long)]
    pub branch: Option<String>,
    /// Directory in the GitOps repository that gitopsc owns.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    #[arg(long, value_enum, default_value_t = PublishLayout::Path)]
    pub layout: PublishLayout,
    /// Prefix of per-environment branches with `--layout branch`.
    #[arg(long, default_value = "environments")]
    pub branch_prefix: String,
    /// Push a local repository's branch to its `origin` after committing.
    #[arg(long)]
    pub push: bool,
    #[arg(long, env = "GITOPSC_AUTHOR_NAME")]
    pub author_name: Option<String>,
    #[arg(long, env = "GITOPSC_AUTHOR_EMAIL")]
    pub author_email: Option<String>,
    /// Where URL targets are cloned (default: a cache directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// How often to rebuild the commit on a new remote tip before giving up.
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
    /// The source commit to publish (default: HEAD, which must hold the working tree's inputs).
    #[arg(long, value_name = "REV")]
    pub source_rev: Option<String>,
    /// URL of the source repository, for trailers and provenance (default: its `origin`).
    #[arg(long, value_name = "URL")]
    pub source_repo: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReachFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Blueprint,
    Overlay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublishLayout {
    /// All environments on one branch, under `<path>/<env>/`.
    Path,
    /// One branch per environment: `<prefix>/<env>`.
    Branch,
}
