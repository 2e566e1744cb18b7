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

use crate::cli::{Cli, Command};
use crate::error::{Error, ErrorKind, Result};

pub const EXIT_OK: u8 = 0;
pub const EXIT_CHANGES: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> u8 {
    let color = cli.color;
    // On gitopsc's pool, the whole command: writing and comparing the tree
    // run in parallel too, and outside the pool they would start rayon's
    // global pool, whose threads' allocator heaps hold none of the pages
    // the compile freed (at 1000 apps, 50 MB more resident for a render).
    let result = crate::on_pool(move || match cli.command {
        Command::Render {
            project,
            paths,
            out,
        } => render::run_each(&project, &paths, out.as_deref()),
        Command::Check {
            project,
            paths,
            quiet,
            format,
        } => check::run_each(&project, &paths, quiet, format),
        Command::Diff {
            project,
            base,
            head,
            format,
        } => diff::run(&project, base.as_deref(), head.as_deref(), format, color),
        Command::Graph { project, format } => graph::run(&project, format),
        Command::Reach { project, format } => reach::run(&project, format),
        Command::Schema { kind } => schema::run(kind),
        Command::Init { dir, name } => init::run(&dir, name.as_deref()),
        Command::Completions { shell } => completions(shell),
        Command::Publish(args) => publish::run(&args),
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", err.render());
            EXIT_ERROR
        }
    }
}

/// The registration script of `shell`: it calls `COMPLETE=<shell> gitopsc` at
/// each TAB, so completions (environment names included) always match the
/// installed binary and the project at hand.
fn completions(shell: clap_complete::Shell) -> Result<u8> {
    use clap_complete::env::Shells;
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| Error::plain(ErrorKind::Usage, format!("no completions for `{name}`")))?;
    let mut out = std::io::stdout().lock();
    completer
        .write_registration("COMPLETE", "gitopsc", "gitopsc", "gitopsc", &mut out)
        .map_err(|e| Error::io(std::path::Path::new("<stdout>"), &e))?;
    Ok(EXIT_OK)
}

/// Notices of the compiled environments, one line each on stderr.
pub fn print_notices(tree: &crate::tree::RenderedTree) {
    for env in tree.envs.values() {
        for notice in &env.notices {
            eprintln!("note: {}: {notice}", env.env);
        }
    }
}

/// Colour for a terminal: `--color always|never` decides; with `auto`, as
/// no-color.org and the `FORCE_COLOR` / `CLICOLOR_FORCE` conventions say: a
/// non-empty `NO_COLOR` turns it off, a forcing variable (not `0`) turns it
/// on, otherwise a terminal gets it.
pub fn colour_wanted(choice: crate::cli::ColorChoice, terminal: bool) -> bool {
    use crate::cli::ColorChoice;
    match choice {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
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
