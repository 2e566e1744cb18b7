//! Commands: what each subcommand does and prints. The only code that writes
//! to stdout or stderr; exit codes are 0 done or up to date, 1 stale or a
//! non-empty diff, 2 error.

pub mod check;
pub mod diff;
pub mod graph;
pub mod init;
pub mod publish;
pub mod reach;
pub mod render;
pub mod schema;

use clap::CommandFactory;

use crate::cli::{Cli, Command};

pub const EXIT_OK: u8 = 0;
pub const EXIT_CHANGES: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Render { project, out } => render::run(&project, out.as_deref()),
        Command::Check { project } => check::run(&project),
        Command::Diff {
            project,
            base,
            head,
            format,
        } => diff::run(&project, base.as_deref(), head.as_deref(), format),
        Command::Graph { project, format } => graph::run(&project, format),
        Command::Reach { project, format } => reach::run(&project, format),
        Command::Schema { kind } => schema::run(kind),
        Command::Init { dir, name } => init::run(&dir, name.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "gitopsc",
                &mut std::io::stdout(),
            );
            Ok(EXIT_OK)
        }
        Command::Publish(args) => publish::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", err.render());
            EXIT_ERROR
        }
    }
}

/// Notices of the compiled environments, one line each on stderr.
pub fn print_notices(tree: &crate::tree::RenderedTree) {
    for env in tree.envs.values() {
        for notice in &env.notices {
            eprintln!("note: {}: {notice}", env.env);
        }
    }
}

/// Colour for a terminal, as no-color.org and the `FORCE_COLOR` /
/// `CLICOLOR_FORCE` conventions say: a non-empty `NO_COLOR` turns it off,
/// a forcing variable (not `0`) turns it on, otherwise a terminal gets it.
pub fn colour_wanted(terminal: bool) -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("FORCE_COLOR").is_some_and(|v| v != "0")
        || set("CLICOLOR_FORCE").is_some_and(|v| v != "0")
    {
        return true;
    }
    terminal
}
