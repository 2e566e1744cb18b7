//! Commands: what each subcommand does and prints. The only code that writes
//! to stdout or stderr; exit codes are 0 done or up to date, 1 stale or a
//! non-empty diff, 2 error.

pub mod render;

use crate::cli::{Cli, Command};
use crate::error::Error;

pub const EXIT_OK: u8 = 0;
pub const EXIT_CHANGES: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Render { project, out } => render::run(&project, out.as_deref()),
        _ => Err(Error::plain(
            crate::error::ErrorKind::Usage,
            "not available yet",
        )),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", err.render());
            EXIT_ERROR
        }
    }
}
