//! What an app mounts: config files (from `blueprints/` or inline),
//! StatefulSet volume claims, writable directories, and the checks that
//! every mount has a path of its own.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::apps::{App, WorkloadKind};
use super::check::Check;
use super::syntax::Scalar;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;
use crate::sources::Sources;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFiles {
    /// Directory the files are mounted in.
    pub mount_path: String,
    /// File name -> path of a file under `blueprints/`.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// File name -> literal content.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    pub size: Scalar,
    pub mount_path: String,
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// Every file is a valid ConfigMap key, named once, and exists under `blueprints/`.
pub(super) fn check_config(
    c: &Check,
    at: &str,
    cfg: &ConfigFiles,
    sources: &Sources,
) -> Result<()> {
    c.absolute_path(&push(at, "mountPath"), &cfg.mount_path)?;
    for (file, path) in &cfg.files {
        let p = push(&push(at, "files"), file);
        check_config_key(c, &p, file)?;
        c.include(&p, path, sources)?;
    }
    for file in cfg.inline.keys() {
        let p = push(&push(at, "inline"), file);
        check_config_key(c, &p, file)?;
        if cfg.files.contains_key(file) {
            return Err(c.fail_key(
                &p,
                format!("config file `{file}` is both in `files` and `inline`"),
                "keep one of them",
            ));
        }
    }
    if cfg.files.is_empty() && cfg.inline.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "`config` has no files",
            "add `files` or `inline`, or remove `config`",
        ));
    }
    Ok(())
}

fn check_config_key(c: &Check, at: &str, key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && key != "."
        && key != "..";
    if ok {
        return Ok(());
    }
    Err(c.fail_key(
        at,
        format!("`{key}` cannot be a config file name"),
        "file names use letters, digits, `-`, `_` and `.`",
    ))
}

/// No two mounts share a directory (`/tmp` is always taken), and volume
/// claims belong to StatefulSets.
pub(super) fn check_mounts(c: &Check, at: &str, app: &App) -> Result<()> {
    let field = |f: &str| push(at, f);
    let mut mounts = BTreeSet::from(["/tmp".to_string()]);
    if let Some(cfg) = &app.config {
        mounts.insert(cfg.mount_path.clone());
    }
    if let Some(dir) = &app.secret_files
        && !mounts.insert(dir.clone())
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("secretFiles"),
            format!("`{dir}` is mounted twice"),
            "give secrets a directory of their own",
        ));
    }
    for (i, path) in app.writable.iter().enumerate() {
        let p = push(&field("writable"), &i.to_string());
        c.absolute_path(&p, path)?;
        if !mounts.insert(path.clone()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("`{path}` is mounted twice"),
                "`/tmp` is always writable; list each other directory once",
            ));
        }
    }
    for (vol, storage) in &app.storage {
        let p = push(&field("storage"), vol);
        if app.kind != WorkloadKind::StatefulSet {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                "`storage` needs `kind: StatefulSet`",
                "volume claims belong to StatefulSets; set `kind: StatefulSet`",
            ));
        }
        c.name_key(&p, vol, "volume", 40)?;
        c.quantity(&push(&p, "size"), &storage.size)?;
        c.absolute_path(&push(&p, "mountPath"), &storage.mount_path)?;
        if !mounts.insert(storage.mount_path.clone()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&p, "mountPath"),
                format!("`{}` is mounted twice", storage.mount_path),
                "give each volume its own directory",
            ));
        }
    }
    Ok(())
}
