//! Reading the project's blueprint and overlays out of [`Sources`].

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value;

use super::decode::{DecodeError, DecodeErrorKind, decode};
use super::locator::Locator;
use super::model::{Blueprint, Environment};
use super::overlay_files::overlay_files;
use super::patches::{ObjectPatch, read_patches};
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::sources::{BLUEPRINT_FILE, SourceFile, Sources};
use crate::suggest;
use crate::yaml::{Document, parse_document};

/// A loaded project: the blueprint as written, and every overlay.
#[derive(Debug, Clone)]
pub struct Project {
    pub sources: Arc<Sources>,
    pub blueprint: Arc<Document>,
    /// The environments as written, before any overlay (the rest of the
    /// decoded blueprint is checked, then dropped: each environment decodes its own).
    pub environments: BTreeMap<String, Environment>,
    /// Overlays by environment name.
    pub overlays: BTreeMap<String, Overlay>,
    /// The blueprint's own `patches:`, applied in every environment before
    /// the environment's overlay patches.
    pub patches: Vec<ObjectPatch>,
}

/// `overlays/<env>.yaml`: a merge patch over the blueprint plus object patches.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub doc: Arc<Document>,
    /// The overlay without its `patches` key: an RFC 7386 merge patch.
    pub merge: Value,
    pub patches: Vec<ObjectPatch>,
}

/// Turns a decoding failure into a located error.
pub fn decode_error(err: DecodeError, locator: &Locator) -> Error {
    let pointer = err.pointer.clone().unwrap_or_default();
    let path = dotted(&pointer);
    let context = if path.is_empty() {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    match err.kind {
        DecodeErrorKind::UnknownField { field, expected } => {
            let help =
                suggest::help_for(&field, "fields here", expected.iter().map(String::as_str));
            Error::at(
                ErrorKind::UnknownField,
                locator.key(&pointer),
                format!("unknown field `{field}`{}", parent_context(&pointer)),
            )
            .with_help(help)
        }
        DecodeErrorKind::MissingField(field) => Error::at(
            ErrorKind::InvalidValue,
            locator.key(&pointer),
            format!("missing field `{field}`{context}"),
        )
        .with_help(format!("add `{field}:`")),
        DecodeErrorKind::InvalidType => Error::at(
            ErrorKind::InvalidType,
            locator.value(&pointer),
            format!("wrong type{context}: {}", err.message),
        )
        .with_help(expected_help(err.expected.as_deref())),
        DecodeErrorKind::InvalidValue | DecodeErrorKind::Other => Error::at(
            ErrorKind::InvalidValue,
            locator.value(&pointer),
            format!("invalid value{context}: {}", err.message),
        )
        .with_help(expected_help(err.expected.as_deref())),
    }
}

fn expected_help(expected: Option<&str>) -> String {
    match expected {
        Some(e) => format!("write {e} here; `gitopsc schema` describes every field"),
        None => "`gitopsc schema` describes every field and its type".to_string(),
    }
}

fn parent_context(pointer: &str) -> String {
    let parent = dotted(crate::pointer::parent(pointer));
    if parent.is_empty() {
        " at the top level".to_string()
    } else {
        format!(" in `{parent}`")
    }
}

/// `/apps/api/ports/http` as `apps.api.ports.http`, for messages.
pub fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn read_document(sources: &Sources, path: &str) -> Result<Arc<Document>> {
    match sources.get(path) {
        Some(SourceFile::Regular(bytes)) => Ok(Arc::new(parse_document(path, bytes)?)),
        Some(SourceFile::Symlink) => Err(Error::at(
            ErrorKind::Include,
            Origin::file_start(path),
            format!("`{path}` is a symbolic link"),
        )
        .with_help("gitopsc reads regular files only; replace the link with the file")),
        Some(SourceFile::TooLarge(size)) => Err(Error::at(
            ErrorKind::Syntax,
            Origin::file_start(path),
            format!(
                "file is {size} bytes; gitopsc reads project files of at most {} bytes",
                crate::yaml::MAX_FILE_BYTES
            ),
        )
        .with_help("a blueprint or overlay this large is not hand-written; check the file")),
        None => Err(Error::plain(
            ErrorKind::Usage,
            format!("no blueprint found: `{path}` does not exist"),
        )
        .with_help(
            "run gitopsc from the project root, pass --root, or create one with `gitopsc init`",
        )),
    }
}

/// Loads the blueprint and overlays, checking types and names as written.
pub fn load(sources: Arc<Sources>) -> Result<Project> {
    let overlay_files: Vec<(&str, &str)> = overlay_files(&sources)?
        .into_iter()
        .map(|(env, path)| (path, env))
        .collect();
    // The blueprint and the overlays parse independently, so at the same time.
    let (blueprint, parsed) = rayon::join(
        || read_document(&sources, BLUEPRINT_FILE),
        || {
            overlay_files
                .par_iter()
                .map(|(path, _)| parse_overlay(&sources, path))
                .collect::<Vec<_>>()
        },
    );
    let blueprint = blueprint?;
    let mut value = blueprint.value.clone();
    super::charts::name_charts_by_key(&mut value);
    let aliases = super::app_defaults::apply(&mut value, &[]);
    let base_locator = Locator::new(vec![blueprint.clone()]).with_aliases(aliases);
    let base: Blueprint = decode(&value, "").map_err(|e| decode_error(e, &base_locator))?;
    refuse_hard_links(&sources, &base)?;
    let patches = read_patches(&blueprint, blueprint.value.get("patches"))?;
    let mut overlays = BTreeMap::new();
    for ((path, env), overlay) in overlay_files.iter().zip(parsed) {
        check_overlay_env(&base, path, env)?;
        if let Some(overlay) = overlay? {
            overlays.insert(env.to_string(), overlay);
        }
    }
    Ok(Project {
        sources,
        blueprint,
        environments: base.environments,
        overlays,
        patches,
    })
}

/// Refuses a hard-linked input unless the blueprint allows them: such a file
/// may be a file from outside the project that only looks like one of its own.
fn refuse_hard_links(sources: &Sources, base: &Blueprint) -> Result<()> {
    let Some((path, links)) = sources.first_hard_linked() else {
        return Ok(());
    };
    if base.inputs.allow_hard_links {
        return Ok(());
    }
    Err(Error::at(
        ErrorKind::Include,
        Origin::file_start(path),
        format!("`{path}` has {links} hard links, so it may be a file from outside the project"),
    )
    .with_help(
        "replace it with a copy of its own (`cp --remove-destination`), or accept hard links with `inputs: {allowHardLinks: true}` in the blueprint",
    ))
}

/// An overlay file, or `None` for one of only comments (it changes nothing; not a mistake).
fn parse_overlay(sources: &Sources, path: &str) -> Result<Option<Overlay>> {
    if let Some(SourceFile::Regular(bytes)) = sources.get(path)
        && crate::yaml::is_blank(bytes)
    {
        return Ok(None);
    }
    read_overlay(read_document(sources, path)?).map(Some)
}

fn check_overlay_env(base: &Blueprint, path: &str, env: &str) -> Result<()> {
    if base.environments.contains_key(env) {
        return Ok(());
    }
    Err(Error::at(
        ErrorKind::UnknownReference,
        Origin::file_start(path),
        format!("overlay for unknown environment `{env}`"),
    )
    .with_help(suggest::help_for(
        env,
        "environments",
        base.environments.keys().map(String::as_str),
    )))
}

/// Blueprint keys an overlay may not set: `load` reads them from the blueprint
/// alone, before any overlay applies, so an overlay's value would be ignored.
pub const BLUEPRINT_ONLY: [(&str, &str); 3] = [
    (
        "layout",
        "the file layout is the project's, so every environment's tree is split the same way: set `layout:` in the blueprint",
    ),
    (
        "inputs",
        "which files are inputs is decided before any overlay is read: set `inputs:` in the blueprint",
    ),
    (
        "environments",
        "environments and their settings live in the blueprint's `environments:`; an overlay changes what an environment renders, and `extends` decides which overlays it inherits",
    ),
];

/// Refuses a key of [`BLUEPRINT_ONLY`] where the overlay writes it.
fn refuse_blueprint_only(doc: &Arc<Document>, map: &serde_json::Map<String, Value>) -> Result<()> {
    for (key, help) in BLUEPRINT_ONLY {
        if map.contains_key(key) {
            let locator = Locator::new(vec![doc.clone()]);
            return Err(Error::at(
                ErrorKind::UnknownField,
                locator.key(&crate::pointer::from_tokens([key])),
                format!("an overlay cannot set `{key}`"),
            )
            .with_help(help));
        }
    }
    Ok(())
}

fn read_overlay(doc: Arc<Document>) -> Result<Overlay> {
    let Value::Object(map) = &doc.value else {
        return Err(Error::at(
            ErrorKind::InvalidType,
            doc.start(),
            "an overlay must be a mapping (a merge patch over the blueprint)",
        )
        .with_help("write the blueprint keys to change, e.g. `apps: {api: {replicas: 3}}`, and `patches:` for object patches"));
    };
    refuse_blueprint_only(&doc, map)?;
    let mut merge = map.clone();
    let patches = read_patches(&doc, merge.remove("patches").as_ref())?;
    Ok(Overlay {
        doc,
        merge: Value::Object(merge),
        patches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> Arc<Sources> {
        let mut s = Sources::new();
        for (p, t) in files {
            s.insert_text(*p, t);
        }
        Arc::new(s)
    }

    const MINIMAL: &str = "system: {name: demo}\nlayers: [apps]\nenvironments: {dev: {}}\n";

    #[test]
    fn loads_a_minimal_project() {
        let p = load(sources(&[(BLUEPRINT_FILE, MINIMAL)])).unwrap();
        assert!(p.environments.contains_key("dev"));
        assert!(p.overlays.is_empty());
    }

    #[test]
    fn overlay_for_unknown_environment_is_located() {
        let err = load(sources(&[
            (BLUEPRINT_FILE, MINIMAL),
            ("overlays/dve.yaml", "apps: {}\n"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownReference);
        assert_eq!(err.origin.as_ref().unwrap().file, "overlays/dve.yaml");
        assert_eq!(err.help.as_deref(), Some("did you mean `dev`?"));
    }

    #[test]
    fn unknown_fields_name_the_key_and_suggest() {
        let text = "system: {name: demo}\nlayers: [apps]\nenvironments: {dev: {}}\nap: {}\n";
        let err = load(sources(&[(BLUEPRINT_FILE, text)])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownField);
        let origin = err.origin.clone().unwrap();
        assert_eq!((origin.line, origin.column), (4, 1));
        assert_eq!(err.help.as_deref(), Some("did you mean `apps`?"));
    }

    #[test]
    fn patches_are_split_from_the_merge_patch() {
        let overlay = "apps: {}\npatches:\n- target: {kind: Deployment, name: api}\n  ops:\n  - {op: add, path: /spec/x, value: 1}\n";
        let p = load(sources(&[
            (BLUEPRINT_FILE, MINIMAL),
            ("overlays/dev.yaml", overlay),
        ]))
        .unwrap();
        let o = &p.overlays["dev"];
        assert!(o.merge.get("patches").is_none());
        assert_eq!(o.patches.len(), 1);
        assert_eq!(o.patches[0].target.kind, "Deployment");
    }

    #[test]
    fn bad_patch_operations_are_located() {
        let overlay =
            "patches:\n- target: {kind: Deployment}\n  ops:\n  - {op: frobnicate, path: /x}\n";
        let err = load(sources(&[
            (BLUEPRINT_FILE, MINIMAL),
            ("overlays/dev.yaml", overlay),
        ]))
        .unwrap_err();
        assert_eq!(err.origin.clone().unwrap().line, 4);
    }
}
