//! `gitopsc render`: compile and write `rendered/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::EXIT_OK;
use crate::EnvSelection;
use crate::cli::ProjectArgs;
use crate::error::{Error, ErrorKind, Result};
use crate::workspace::{self, RENDERED_DIR};

/// Renders the project `args` name, or each project holding one of `paths`.
pub fn run_each(args: &ProjectArgs, paths: &[PathBuf], out: Option<&Path>) -> Result<u8> {
    let projects = crate::discovery::projects_for(args, paths);
    if projects.len() > 1 && out.is_some() {
        return Err(Error::plain(
            ErrorKind::Usage,
            "`--out` takes one project, and the paths given lie in several",
        ));
    }
    if projects.is_empty() {
        println!("no gitopsc project holds the given paths");
    }
    for project in &projects {
        run(project, out)?;
    }
    Ok(EXIT_OK)
}

pub fn run(args: &ProjectArgs, out: Option<&Path>) -> Result<u8> {
    let root = crate::discovery::project_root(args.root.as_deref())?;
    if let Some(out) = out {
        workspace::check_output_dir(&root, out)?;
    }
    let sources = Arc::new(workspace::read_sources(&root)?);
    let selection = EnvSelection::from_flags(&args.envs);
    let tree = workspace::compile_incremental(sources, &selection)?;
    super::print_notices(&tree);
    let rendered = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(RENDERED_DIR));
    let report = workspace::write_rendered(&rendered, &tree, selection == EnvSelection::All)?;
    let envs: Vec<&str> = tree.envs.keys().map(String::as_str).collect();
    let files: usize = tree.envs.values().map(|e| e.files.len()).sum();
    println!(
        "rendered {} into {}: {files} files ({} written, {} unchanged, {} removed)",
        envs.join(", "),
        rendered.display(),
        report.written,
        report.unchanged,
        report.removed
    );
    Ok(EXIT_OK)
}
