//! The shape of `src/`: files small enough to read, and the pipeline's stages
//! importing only downwards, as ARCHITECTURE.md draws them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::repo_root;

/// Past this a file holds more than one concept: split it by concept.
const MAX_LINES: usize = 500;

/// The pipeline of `lib.rs::compile_env`, in order: each stage may use the
/// stages before it, never one after it.
const STAGES: [&str; 9] = [
    "blueprint",
    "resolve",
    "render",
    "graph",
    "target",
    "policy",
    "compat",
    "verify",
    "tree",
];

/// Pieces every stage shares; they know no stage.
const FOUNDATION: [&str; 10] = [
    "error",
    "pool",
    "pointer",
    "sources",
    "yaml",
    "suggest",
    "template",
    "credential",
    "quantity",
    "cron",
];

/// What runs the pipeline or reads its output; unconstrained, but no stage
/// or foundation piece may use them.
const CONSUMERS: [&str; 12] = [
    "incremental",
    "discovery",
    "changes",
    "reach",
    "schema",
    "workspace",
    "git",
    "commands",
    "complete",
    "cli",
    "lib",
    "main",
];

fn rust_files() -> Vec<(String, String)> {
    let src = repo_root().join("src");
    let mut files: Vec<(String, String)> = walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| {
            let rel = e.path().strip_prefix(&src).unwrap();
            let rel = rel.to_string_lossy().replace('\\', "/");
            (rel, fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `blueprint/apps.rs` -> `blueprint`, `lib.rs` -> `lib`.
fn top_module(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The top-level modules a file names as `crate::<module>`, outside comments.
fn crate_modules_used(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `gitopsc_crate::x` or `mycrate::x` are other paths, not this crate.
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name.is_empty() && !preceded_by_ident {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let long: Vec<String> = rust_files()
        .into_iter()
        .map(|(rel, text)| (rel, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(rel, lines)| format!("src/{rel}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept (at most {MAX_LINES} lines each): {long:#?}"
    );
}

#[test]
fn every_module_says_what_it_owns() {
    let undocumented: Vec<String> = rust_files()
        .into_iter()
        .filter(|(rel, text)| rel != "main.rs" && !text.starts_with("//!"))
        .map(|(rel, _)| format!("src/{rel}"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "open these with a `//!` comment: {undocumented:#?}"
    );
}

#[test]
fn every_top_level_module_has_a_place_in_the_stage_order() {
    let known: Vec<&str> = STAGES
        .iter()
        .chain(&FOUNDATION)
        .chain(&CONSUMERS)
        .copied()
        .collect();
    let unplaced: Vec<String> = rust_files()
        .iter()
        .map(|(rel, _)| top_module(rel).to_string())
        .filter(|m| !known.contains(&m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "add these to STAGES, FOUNDATION or CONSUMERS in tests/it/structure.rs: {unplaced:?}"
    );
}

#[test]
fn no_stage_imports_a_later_stage_or_a_consumer() {
    let rank: BTreeMap<&str, usize> = STAGES.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut violations = Vec::new();
    for (rel, text) in rust_files() {
        let here = top_module(&rel);
        let allowed = |used: &str| -> bool {
            if used == here || FOUNDATION.contains(&used) {
                return true;
            }
            match (rank.get(here), rank.get(used)) {
                (Some(mine), Some(theirs)) => theirs < mine,
                // A foundation piece uses no stage; a consumer is used by none.
                _ => CONSUMERS.contains(&here),
            }
        };
        for used in crate_modules_used(&text) {
            if !allowed(&used) {
                violations.push(format!("src/{rel} uses `crate::{used}`"));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "a lower stage must not import a higher one (move the shared piece down, or pass it in as a value): {violations:#?}"
    );
}

#[test]
fn the_import_scanner_sees_paths_and_skips_comments() {
    let text = "use crate::render::Object;\n// crate::policy in a comment\nlet x = crate::verify::run(); // crate::tree\nmycrate::x();\n";
    assert_eq!(crate_modules_used(text), vec!["render", "verify"]);
    assert_eq!(top_module("blueprint/apps.rs"), "blueprint");
    assert_eq!(top_module("lib.rs"), "lib");
    assert!(Path::new(&repo_root().join("src/lib.rs")).exists());
}
