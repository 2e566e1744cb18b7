use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gitopsc::cli::Cli::parse();
    ExitCode::from(gitopsc::commands::run(cli))
}
