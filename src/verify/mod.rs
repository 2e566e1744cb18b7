//! Stage 6, verify: the guarantee on the output.
//!
//! The final objects of one environment (after templates, overlays, RFC 6902
//! patches and GitOps wiring) are checked here, just before layout, so no
//! input path can get around these rules: whatever produced a value, it passes
//! through this stage. The early checks on the blueprint (`blueprint::validate`,
//! `blueprint::credentials`, `policy`) stay, for their better messages; this
//! stage is what the README's security section promises.
//!
//! One file per check, run in this order: [`identity`], [`system_namespaces`],
//! then per unit [`quota`] (autoscalers at their max within the namespace
//! quota, injected proxies counted; all of a namespace's together only
//! noticed), then per object [`credentials`] (first,
//! so no later message can quote a secret), [`api_rules`], [`pod_security`],
//! [`images`]. A check reports a
//! [`Violation`] (object, JSON pointer, message); this module turns it into a
//! located error: the patch (blueprint's or overlay's) that last wrote the field, else the
//! template that rendered the object, else the component in the blueprint.

pub mod api_rules;
pub mod credentials;
pub mod identity;
pub mod images;
pub mod pod_security;
pub mod quota;
pub mod stores;
pub mod system_namespaces;

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::blueprint::model::PodSecurityLevel;
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer::{push, small_get};
use crate::render::{EnvManifests, Object, Unit, UnitKind};
use crate::resolve::{ComponentKind, ResolvedEnv};
use crate::sources::SourceFile;

/// Something the final output may not contain.
#[derive(Debug, Clone)]
pub struct Violation {
    pub kind: ErrorKind,
    /// JSON pointer inside the object.
    pub path: String,
    pub message: String,
    pub help: String,
    /// The offending value is a credential: never shown unmasked.
    pub secret: Option<String>,
}

impl Violation {
    pub fn new(
        kind: ErrorKind,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Violation {
        Violation {
            kind,
            path: path.into(),
            message: message.into(),
            help: help.into(),
            secret: None,
        }
    }
}

/// What the user should know about an environment that is not an error.
pub type Notice = String;

/// Runs every final check on the environment's objects, and hands each unit
/// to `then` as soon as its own checks have run, then drops it. Returns the
/// verdict (the first violation, in the order identity, system namespaces,
/// units in unit order, secret stores) and what `then` made of every unit,
/// in unit order, whatever the verdict.
///
/// The per-unit checks are the first to read a unit's objects since they
/// were built, and at 1000 apps an environment's objects are twice the
/// processor's last-level cache: what reads a unit right after its checks
/// (the admission rules, printing) finds it in cache, where a pass of its
/// own over all units found none of it.
pub fn verify<T: Send>(
    env: &ResolvedEnv,
    manifests: EnvManifests,
    then: impl Fn(&Unit) -> T + Sync,
) -> (Result<Vec<Notice>>, Vec<T>) {
    let fail = |(unit, object, v): (&Unit, &Object, Violation)| locate(env, unit, object, v);
    let plans = crate::render::namespaces::plans(env);
    let levels = pod_security::namespace_levels(&plans);
    let quotas = quota::quotas(&manifests);
    let key_names = crate::blueprint::secrets::declared_secret_keys(&env.blueprint);
    // The environment-wide checks read a few fields of some objects; they
    // run first, side by side, so the units can then be checked and handed
    // on one by one.
    let ((identity, system), (stores, namespace_notices)) = rayon::join(
        || {
            (
                identity::check(&manifests).map_err(fail),
                system_namespaces::check(env, &manifests).map_err(fail),
            )
        },
        || {
            (
                stores::check(&manifests, env.settings.production).map_err(fail),
                quota::namespace_notices(&quotas, &manifests),
            )
        },
    );
    let units: Vec<Unit> = manifests.units.into_values().collect();
    let (verdicts, made): (Vec<Result<()>>, Vec<T>) = units
        .into_par_iter()
        .map(|unit| {
            let verdict = check_unit(env, &quotas, &levels, &key_names, &unit)
                .map_err(|(object, v)| locate(env, &unit, object, v));
            (verdict, then(&unit))
        })
        .unzip();
    let verdict = (|| {
        identity?;
        let mut notices = system?;
        verdicts.into_iter().collect::<Result<()>>()?;
        stores?;
        notices.extend(namespace_notices);
        Ok(notices)
    })();
    (verdict, made)
}

/// The per-unit checks: the quota, then each object's, in object order.
fn check_unit<'u>(
    env: &ResolvedEnv,
    quotas: &quota::Quotas,
    levels: &BTreeMap<&str, PodSecurityLevel>,
    key_names: &BTreeSet<&str>,
    unit: &'u Unit,
) -> std::result::Result<(), (&'u Object, Violation)> {
    let waivers = unit_waivers(env, unit);
    let credential_keys: BTreeSet<&str> = waivers
        .iter()
        .filter_map(|k| k.strip_prefix(credentials::WAIVER_PREFIX))
        .collect();
    let image_rules = images::ImageRules::for_unit(env, &waivers);
    quota::check(quotas, unit)?;
    for object in &unit.objects {
        // Credentials first: a later check's message may quote the value.
        let checks = [
            credentials::check(&credential_keys, key_names, object),
            api_rules::check(object),
            pod_security::check(levels, object),
            images::check(&image_rules, object),
        ];
        for result in checks {
            result.map_err(|v| (object, v))?;
        }
    }
    Ok(())
}

/// The waivers a unit's objects may use: `defaults.waivers` for every unit,
/// and an app's own for its unit.
fn unit_waivers<'a>(env: &'a ResolvedEnv, unit: &Unit) -> BTreeSet<&'a str> {
    let bp = &env.blueprint;
    let app = match unit.kind {
        UnitKind::Component(ComponentKind::App) => bp.apps.get(&unit.name),
        _ => None,
    };
    bp.defaults
        .waivers
        .keys()
        .chain(app.into_iter().flat_map(|a| a.waivers.keys()))
        .map(String::as_str)
        .collect()
}

/// Where a refused value came from, as a located error.
fn locate(env: &ResolvedEnv, unit: &Unit, object: &Object, v: Violation) -> Error {
    let id = object.id().display();
    let field = if v.path.is_empty() {
        String::new()
    } else {
        format!(" at `{}`", v.path)
    };
    let message = format!("{id}{field}: {}", v.message);
    let (mut origin, note) = if let Some(origin) = object.patch_of(&v.path) {
        let by = if origin.file == crate::sources::BLUEPRINT_FILE {
            "written by this blueprint patch, which every environment applies"
        } else {
            "written by this overlay patch"
        };
        (origin.clone(), by.to_string())
    } else if let Some(template) = &object.template {
        (
            template_origin(env, &template.file, v.secret.as_deref()),
            format!("rendered by this template (document {})", template.document),
        )
    } else {
        let mut at = blueprint_pointer(env, unit);
        if let Some(field) = app_field(&v.path).map(|f| push(&at, f))
            && env.locator.has(&field)
        {
            at = field;
        }
        (
            env.locator.value(&at),
            "rendered from this part of the blueprint".to_string(),
        )
    };
    if let Some(secret) = &v.secret {
        hide(&mut origin, secret);
    }
    Error::at(v.kind, origin, message)
        .with_help(v.help)
        .with_note(note)
}

/// The app key that renders an object field, where one clearly does.
fn app_field(path: &str) -> Option<&'static str> {
    const FIELDS: [(&str, &str); 11] = [
        ("/spec/schedule", "schedule"),
        ("/resources/", "resources"),
        ("/env/", "env"),
        ("/args/", "args"),
        ("/command/", "command"),
        ("/ports/", "ports"),
        ("/spec/replicas", "replicas"),
        ("/spec/minReplicas", "autoscale"),
        ("/spec/maxReplicas", "autoscale"),
        ("/metadata/annotations", "annotations"),
        ("/data/", "config"),
    ];
    FIELDS
        .iter()
        .find(|(part, _)| path.contains(part) || path == part.trim_end_matches('/'))
        .map(|(_, field)| *field)
}

/// The line of the template that holds `literal`, when it is written there.
fn template_origin(env: &ResolvedEnv, file: &str, literal: Option<&str>) -> Origin {
    let Some(SourceFile::Regular(bytes)) = env.sources.get(file) else {
        return Origin::file_start(file);
    };
    let text = String::from_utf8_lossy(bytes);
    let found = literal.filter(|l| !l.is_empty()).and_then(|l| {
        text.lines()
            .enumerate()
            .find_map(|(n, line)| line.find(l).map(|c| (n, c)))
    });
    match found {
        Some((n, column)) => Origin::in_text(file, &text, n as u32 + 1, column as u32 + 1, 1),
        None => Origin::in_text(file, &text, 1, 1, 1),
    }
}

/// The blueprint entry a unit's objects are rendered from.
fn blueprint_pointer(env: &ResolvedEnv, unit: &Unit) -> String {
    match unit.kind {
        UnitKind::Component(_) => env
            .components
            .get(&unit.name)
            .map(|c| c.pointer.clone())
            .unwrap_or_default(),
        UnitKind::Namespace => {
            let at = push("/namespaces", &unit.name);
            if env.locator.has(&at) {
                at
            } else {
                push("/environments", &env.name)
            }
        }
        UnitKind::Entry => "/gitops".to_string(),
    }
}

/// Takes the credential out of the framed line: the value masked where it is
/// written there, the rest of the line masked when the line itself still looks
/// like a credential.
fn hide(origin: &mut Origin, secret: &str) {
    let masked = crate::credential::mask(secret);
    if !secret.is_empty() && origin.line_text.contains(secret) {
        origin.line_text = origin.line_text.replace(secret, &masked);
    }
    if crate::credential::scan_line(&origin.line_text).is_some() {
        origin.mask_from_column();
    }
}
