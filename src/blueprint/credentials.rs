//! Literal values that look like credentials: refused before they reach Git.
//!
//! Every string of the resolved blueprint (overlays included) and every config
//! file it includes is checked for keys named like credentials that carry a
//! literal value, private-key blocks, well-known token formats and long
//! high-entropy strings. Secret references (`secrets:`), image digests and
//! waiver reasons are not literals and are skipped.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::credential::{named_literal, names_credential, scan_text};

use super::locator::Locator;
use super::model::Blueprint;
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer::{Path, Token};
use crate::sources::{BLUEPRINTS_DIR, SourceFile, Sources};

const HELP: &str = "keep credentials in the secret store and reference them: `secrets: {NAME: \"<store>:<path>#<key>\"}` (with `secretFiles` to mount them as files); a chart names its `existingSecret` and fills it with `secrets: {<name>: {<key>: \"<store>:<path>#<key>\"}}`";

/// Checks the merged blueprint value and the config files it includes.
pub fn check(merged: &Value, bp: &Blueprint, locator: &Locator, sources: &Sources) -> Result<()> {
    // Keys waived anywhere are skipped here; `verify` holds each waiver to its scope.
    let waived: BTreeSet<&str> = bp
        .defaults
        .waivers
        .keys()
        .chain(bp.apps.values().flat_map(|a| a.waivers.keys()))
        .filter_map(|k| k.strip_prefix(crate::credential::WAIVER_PREFIX))
        .collect();
    let skip = Skip {
        waived,
        key_names: super::secrets::declared_secret_keys(bp),
    };
    walk(merged, &mut Path::default(), None, locator, &skip)?;
    for app in bp.apps.values() {
        let Some(cfg) = &app.config else { continue };
        for path in cfg.files.values() {
            let file = format!("{BLUEPRINTS_DIR}/{}", path.trim_start_matches("./"));
            if let Some(SourceFile::Regular(bytes)) = sources.get(&file)
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                check_file(&file, text)?;
            }
        }
    }
    Ok(())
}

/// Places whose strings are references or prose, not values.
fn exempt(path: &Path) -> bool {
    let fixed = matches!(
        path.tokens(),
        [
            Token::Key("apps" | "charts" | "manifests"),
            _,
            Token::Key("secrets"),
            ..
        ] | [Token::Key("apps"), _, Token::Key("image"), ..]
            | [Token::Key("secretStores"), ..]
    );
    fixed || path.tokens().contains(&Token::Key("waivers"))
}

/// What the walk leaves alone: waived keys, and values naming a declared Secret key.
struct Skip<'a> {
    waived: BTreeSet<&'a str>,
    key_names: BTreeSet<&'a str>,
}

fn walk<'v>(
    value: &'v Value,
    at: &mut Path<'v>,
    key: Option<&str>,
    locator: &Locator,
    skip: &Skip,
) -> Result<()> {
    if exempt(at) || key.is_some_and(|k| skip.waived.contains(k)) {
        return Ok(());
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                at.with(Token::Key(k), |at| walk(v, at, Some(k), locator, skip))?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.with(Token::Index(i), |at| walk(v, at, key, locator, skip))?;
            }
        }
        Value::String(s) => {
            let names_a_key = skip.key_names.contains(s.as_str());
            if let Some(finding) = key
                .filter(|_| !names_a_key)
                .and_then(|k| named_literal(k, s))
                .or_else(|| scan_text(s))
            {
                return Err(locator
                    .error(ErrorKind::Secret, &at.pointer(), finding.describe())
                    .with_help(HELP)
                    .masking_secret());
            }
        }
        // Spelled out only under a credential's name: most numbers are ports and counts.
        Value::Number(n) => {
            if let Some(finding) = key
                .filter(|k| names_credential(k))
                .and_then(|k| named_literal(k, &n.to_string()))
            {
                return Err(locator
                    .error(ErrorKind::Secret, &at.pointer(), finding.describe())
                    .with_help(HELP)
                    .masking_secret());
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_file(file: &str, text: &str) -> Result<()> {
    for (n, line) in text.lines().enumerate() {
        let Some(finding) = crate::credential::scan_line(line) else {
            continue;
        };
        let trimmed = line.trim_start();
        let column = line.len() - trimmed.len() + 1;
        let mut origin = Origin::in_text(
            file,
            text,
            n as u32 + 1,
            column as u32,
            trimmed.chars().count() as u32,
        );
        origin.mask_from_column();
        return Err(Error::at(
            ErrorKind::Secret,
            origin,
            format!("in a config file, {}", finding.describe()),
        )
        .with_help(HELP));
    }
    Ok(())
}
